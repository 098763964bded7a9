#pragma once

#include <common/config.hpp>

#include <string>

namespace mcpbk::daemon {

// Sets up the default spdlog logger on stderr in the configured format
// (text, or one JSON object per line) and level. Returns false, with the
// level left unchanged, for an unknown level name.
bool configure_logging(LogFormat format, const std::string &level);

} // namespace mcpbk::daemon
