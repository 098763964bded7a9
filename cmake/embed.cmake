# Turns INPUT into a C++ source defining mcpbk::embedded_default_config().
#
# Whole-line comments and blank lines are left out: they are two thirds of
# config.yaml, and every mcpbkctl start parses this text with yaml-cpp. That
# is only safe without block scalars (a "#" line inside one is content), so a
# file with one is embedded as it is.
file(READ "${INPUT}" text)
if(NOT text MATCHES ":[ \t]*[|>][-+0-9]*[ \t]*(#[^\n]*)?\n")
  string(REGEX REPLACE "(^|\n)([ \t]*(#[^\n]*)?\n)+" "\\1" text "${text}")
endif()
file(WRITE "${OUTPUT}.yaml" "${text}")
file(READ "${OUTPUT}.yaml" content HEX)
file(REMOVE "${OUTPUT}.yaml")
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
