#pragma once

#include <string_view>

namespace mcpbk {

// The shipped config.yaml, built into the binaries (cmake/embed.cmake).
std::string_view embedded_default_config();

} // namespace mcpbk
