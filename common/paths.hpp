#pragma once

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/types.hpp>

#include <filesystem>
#include <optional>

namespace mcpbk {

// Paths given on the command line; each wins over everything else.
struct PathOverrides {
  std::optional<std::filesystem::path> config_file;
  std::optional<std::filesystem::path> state_dir;
  std::optional<std::filesystem::path> socket;
};

// The user config file to load (SPEC §3): --config, $MCPBK_CONFIG, then the
// platform location if it exists; std::nullopt means the embedded default.
std::optional<std::filesystem::path>
resolve_config_file(const PathOverrides &overrides, const Env &env, Os os);

// The platform location of the user config file, whether or not it exists.
std::filesystem::path default_config_file(const Env &env, Os os);

// Where the daemon keeps its state, its store and its socket.
struct StatePaths {
  std::filesystem::path state_dir;
  std::filesystem::path store_file; // <state>/store.db
  std::filesystem::path lock_file;  // <state>/mcpbkd.lock
  std::filesystem::path socket;
};

// Resolves the state dir (--state-dir, $MCPBK_STATE_DIR, store.dir, XDG
// state home) and the socket (--socket, $MCPBK_SOCKET, ipc.socket,
// $XDG_RUNTIME_DIR/mcpbk/mcpbkd.sock, <state>/mcpbkd.sock).
StatePaths resolve_state_paths(const PathOverrides &overrides,
                               const Config &config, const Env &env, Os os);

} // namespace mcpbk
