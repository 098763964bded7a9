#include <common/env.hpp>

#include <cstring>
#include <vector>

#if !defined(_WIN32)
#include <pwd.h>
#include <unistd.h>
#endif

extern char **environ;

namespace mcpbk {

Env Env::from_process() {
  Env env;
  for (char **entry = environ; entry && *entry; ++entry) {
    const char *eq = std::strchr(*entry, '=');
    if (eq) {
      env.m_vars.emplace(
          std::string(*entry, static_cast<std::size_t>(eq - *entry)),
          std::string(eq + 1));
    }
  }
#if !defined(_WIN32)
  // A relative value is invalid (the XDG Base Directory specification says
  // to ignore it): taken as it is, it named a place under whatever directory
  // a program was started in, a new empty store for a daemon systemd starts
  // in /. The same for HOME.
  for (const char *name : {"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME",
                           "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "HOME"}) {
    if (const auto it = env.m_vars.find(std::string_view(name));
        it != env.m_vars.end() && !it->second.empty() && it->second[0] != '/') {
      env.m_vars.erase(it);
    }
  }
  if (!env.get("HOME") && !env.get("USERPROFILE")) {
    // `env -i`, some cron and init setups: the account's home from the
    // user database, not "/" (a store made at /.local/state/mcpbk).
    passwd entry{};
    passwd *found = nullptr;
    std::vector<char> buffer(16384);
    if (::getpwuid_r(::getuid(), &entry, buffer.data(), buffer.size(),
                     &found) == 0 &&
        found != nullptr && found->pw_dir != nullptr &&
        found->pw_dir[0] == '/') {
      env.m_vars["HOME"] = found->pw_dir;
    }
  }
#endif
  return env;
}

Env Env::from_map(std::map<std::string, std::string> vars) {
  Env env;
  for (auto &[k, v] : vars) {
    env.m_vars.emplace(k, v);
  }
  return env;
}

std::optional<std::string> Env::get(std::string_view name) const {
  auto it = m_vars.find(name);
  if (it == m_vars.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second;
}

std::filesystem::path Env::home() const {
  if (auto h = get("HOME")) {
    return *h;
  }
  if (auto h = get("USERPROFILE")) {
    return *h;
  }
  return "/";
}

Env Env::with(std::string name, std::string value) const {
  Env copy = *this;
  copy.m_vars[std::move(name)] = std::move(value);
  return copy;
}

std::filesystem::path expand_home(std::string_view path, const Env &env) {
  if (path == "~") {
    return env.home();
  }
  if (path.size() >= 2 && path[0] == '~' &&
      (path[1] == '/' || path[1] == '\\')) {
    return env.home() / std::filesystem::path(path.substr(2));
  }
  return std::filesystem::path(path);
}

} // namespace mcpbk
