#include <daemon/daemon.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char **argv) {
  CLI::App app{"mcpbkd: watches the MCP configuration files of AI hosts and "
               "keeps snapshots of every change.",
               "mcpbkd"};
  mcpbk::daemon::DaemonOptions options;
  std::string config_file;
  std::string state_dir;
  std::string socket;
  std::string log_level;
  app.add_option("--config", config_file, "Config file (YAML)");
  app.add_option("--state-dir", state_dir, "Directory of the store and lock");
  app.add_option("--socket", socket, "Unix socket to listen on");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off");
  app.add_flag("--check-config", options.check_config,
               "Validate the configuration and exit");
  app.set_version_flag("--version", "mcpbkd " MCPBK_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  if (!config_file.empty()) {
    options.paths.config_file = config_file;
  }
  if (!state_dir.empty()) {
    options.paths.state_dir = state_dir;
  }
  if (!socket.empty()) {
    options.paths.socket = socket;
  }
  if (!log_level.empty()) {
    options.log_level = log_level;
  }
  const mcpbk::Env env = mcpbk::Env::from_process();
  return mcpbk::daemon::run(options, env);
}
