#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mcpbk {

// A read-only view of environment variables. Everything that derives paths
// from the environment takes one, so tests can resolve paths for any HOME,
// XDG_* or host override without touching the process environment.
class Env {
public:
  // A snapshot of the current process environment; without HOME (and
  // USERPROFILE), HOME is the account's home from the user database. The
  // XDG_* base directories and HOME are left out when relative.
  static Env from_process();
  // Exactly the given variables.
  static Env from_map(std::map<std::string, std::string> vars);

  // The value of a variable; unset and empty variables are std::nullopt.
  std::optional<std::string> get(std::string_view name) const;

  // $HOME (Windows: %USERPROFILE%); "/" when neither is set.
  std::filesystem::path home() const;

  // A copy with one variable set (an empty value unsets it).
  Env with(std::string name, std::string value) const;

private:
  std::map<std::string, std::string, std::less<>> m_vars;
};

// Expands a leading "~" or "~/" to the home directory of env.
std::filesystem::path expand_home(std::string_view path, const Env &env);

} // namespace mcpbk
