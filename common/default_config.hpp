#pragma once

#include <common/config.hpp>

#include <string_view>

namespace mcpbk {

// The shipped config.yaml, built into the binaries (cmake/embed.cmake)
// without its whole-line comments and blank lines.
std::string_view embedded_default_config();

// The same file as parsed at build time by default_config_gen: what
// default_config() returns, without parsing YAML at every start. The unit
// tests check that it equals parsing embedded_default_config().
Config parsed_default_config();

} // namespace mcpbk
