#pragma once

namespace mcpbk::client {

// Exit codes of mcpbkctl (SPEC §9).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_unreachable = 3;

// Parses the command line, runs the command and returns the exit code.
int run(int argc, char **argv);

} // namespace mcpbk::client
