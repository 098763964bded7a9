#pragma once

#include <common/env.hpp>
#include <common/paths.hpp>

namespace mcpbk::client {

// `mcpbkctl doctor`: checks the config, the daemon, the service, the hosts
// found, the watcher and the store, and prints each problem with its fix.
// Returns 0 when nothing is wrong (warnings allowed), 1 otherwise.
int run_doctor(const Env &env, const PathOverrides &overrides,
               bool json_output);

} // namespace mcpbk::client
