#pragma once

#include <common/env.hpp>
#include <common/paths.hpp>

#include <optional>
#include <string>

namespace mcpbk::daemon {

// Exit codes of mcpbkd (sysexits.h spellings).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_tempfail = 75; // another instance holds the lock
inline constexpr int k_exit_config = 78;   // invalid configuration

struct DaemonOptions {
  PathOverrides paths;
  std::optional<std::string> log_level;
  bool check_config = false;
};

// Runs mcpbkd until SIGTERM/SIGINT; returns the process exit code.
int run(const DaemonOptions &options, const Env &env);

} // namespace mcpbk::daemon
