#include <daemon/daemon.hpp>

#include <common/process.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

int main(int argc, char **argv) {
  mcpbk::reserve_standard_fds();
  CLI::App app{"mcpbkd: watches the MCP configuration files of AI hosts and "
               "keeps snapshots of every change.",
               "mcpbkd"};
  mcpbk::daemon::DaemonOptions options;
  std::string config_file;
  std::string state_dir;
  std::string socket;
  std::string log_level;
  // An empty value is a mistake (an unset variable in a unit file), not
  // the default place.
  const CLI::Validator not_empty(
      [](std::string &text) -> std::string {
        return text.empty() ? "must not be empty" : "";
      },
      "");
  app.add_option("--config", config_file, "Config file (YAML)")
      ->check(not_empty);
  app.add_option("--state-dir", state_dir, "Directory of the store and lock")
      ->check(not_empty);
  app.add_option("--socket", socket, "Unix socket to listen on")
      ->check(not_empty);
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->check(not_empty);
  app.add_flag("--check-config", options.check_config,
               "Validate the configuration and exit");
  app.set_version_flag("--version", "mcpbkd " MCPBK_VERSION);
  // Usage errors as "mcpbkd: ..." and exit 2 (README), like mcpbkctl's.
  app.failure_message([](const CLI::App *, const CLI::Error &e) {
    return std::string("mcpbkd: ") + e.what() +
           "\nRun with --help for more information.\n";
  });
  try {
    // "--state-dir=" with nothing after the '=': CLI11 would take the next
    // word as its value.
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg.starts_with("--") && arg.size() > 3 &&
          arg.find('=') == arg.size() - 1) {
        throw CLI::ValidationError(std::string(arg.substr(0, arg.size() - 1)),
                                   "must not be empty");
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  // Paths given here are taken from the working directory, as any
  // command's are; the daemon and its status then name them in full.
  const auto absolute = [](const std::string &text) {
    std::error_code ec;
    const std::filesystem::path path = std::filesystem::absolute(text, ec);
    return ec ? std::filesystem::path(text) : path.lexically_normal();
  };
  if (!config_file.empty()) {
    options.paths.config_file = absolute(config_file);
  }
  if (!state_dir.empty()) {
    options.paths.state_dir = absolute(state_dir);
  }
  if (!socket.empty()) {
    options.paths.socket = absolute(socket);
  }
  if (!log_level.empty()) {
    options.log_level = log_level;
  }
  const mcpbk::Env env = mcpbk::Env::from_process();
  return mcpbk::daemon::run(options, env);
}
