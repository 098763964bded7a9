#include <common/paths.hpp>

#include <common/fs.hpp>

namespace mcpbk {

namespace fs = std::filesystem;

namespace {

fs::path app_support(const Env &env) {
  return env.home() / "Library" / "Application Support" / "mcpbk";
}

fs::path xdg(const Env &env, const char *var, const char *fallback) {
  if (auto v = env.get(var)) {
    return *v;
  }
  return env.home() / fallback;
}

} // namespace

fs::path default_config_file(const Env &env, Os os) {
  switch (os) {
  case Os::macos:
    return app_support(env) / "config.yaml";
  case Os::windows:
    if (auto appdata = env.get("APPDATA")) {
      return fs::path(*appdata) / "mcpbk" / "config.yaml";
    }
    return env.home() / "AppData" / "Roaming" / "mcpbk" / "config.yaml";
  case Os::gnu_linux:
    break;
  }
  return xdg(env, "XDG_CONFIG_HOME", ".config") / "mcpbk" / "config.yaml";
}

std::optional<fs::path> resolve_config_file(const PathOverrides &overrides,
                                            const Env &env, Os os) {
  if (overrides.config_file) {
    return normalize_path(expand_home(overrides.config_file->string(), env));
  }
  if (auto v = env.get("MCPBK_CONFIG")) {
    return normalize_path(expand_home(*v, env));
  }
  const fs::path candidate = default_config_file(env, os);
  std::error_code ec;
  // A link whose target is missing (a dotfiles checkout gone) is the file
  // meant, which cannot be read: taken as "no config", every setting went
  // back to its default without a word.
  if (fs::exists(candidate, ec) || fs::is_symlink(candidate, ec)) {
    return candidate;
  }
  return std::nullopt;
}

StatePaths resolve_state_paths(const PathOverrides &overrides,
                               const Config &config, const Env &env, Os os) {
  StatePaths p;
  if (overrides.state_dir) {
    p.state_dir = expand_home(overrides.state_dir->string(), env);
  } else if (auto v = env.get("MCPBK_STATE_DIR")) {
    p.state_dir = expand_home(*v, env);
  } else if (!config.store.dir.empty()) {
    p.state_dir = expand_home(config.store.dir, env);
  } else if (os == Os::macos) {
    p.state_dir = app_support(env);
  } else if (os == Os::windows) {
    p.state_dir = env.get("LOCALAPPDATA")
                      ? fs::path(*env.get("LOCALAPPDATA")) / "mcpbk"
                      : env.home() / "AppData" / "Local" / "mcpbk";
  } else {
    p.state_dir = xdg(env, "XDG_STATE_HOME", ".local/state") / "mcpbk";
  }
  p.state_dir = normalize_path(p.state_dir);
  p.store_file = p.state_dir / "store.db";
  p.lock_file = p.state_dir / "mcpbkd.lock";

  if (overrides.socket) {
    p.socket = expand_home(overrides.socket->string(), env);
  } else if (auto v = env.get("MCPBK_SOCKET")) {
    p.socket = expand_home(*v, env);
  } else if (!config.ipc.socket.empty()) {
    p.socket = expand_home(config.ipc.socket, env);
  } else if (auto runtime = env.get("XDG_RUNTIME_DIR");
             runtime && os == Os::gnu_linux) {
    p.socket = fs::path(*runtime) / "mcpbk" / "mcpbkd.sock";
  } else {
    p.socket = p.state_dir / "mcpbkd.sock";
  }
  p.socket = normalize_path(p.socket);
  return p;
}

} // namespace mcpbk
