# Turns INPUT into a C++ source defining mcpbk::embedded_default_config().
file(READ "${INPUT}" content HEX)
string(LENGTH "${content}" hex_len)
math(EXPR byte_count "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from config.yaml by cmake/embed.cmake. Do not edit.
#include <common/default_config.hpp>

namespace mcpbk {
namespace {
const char k_bytes[] = {${bytes} 0};
} // namespace

std::string_view embedded_default_config() {
  return std::string_view(k_bytes, ${byte_count});
}
} // namespace mcpbk
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
