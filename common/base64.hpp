#pragma once

#include <common/error.hpp>

#include <string>
#include <string_view>

namespace mcpbk {

// Standard base64 (RFC 4648, with padding, no line breaks) of any bytes.
std::string base64_encode(std::string_view bytes);

// Decodes standard base64 with padding. Whitespace is not allowed; anything
// that is not valid base64 gives bad_request.
Result<std::string> base64_decode(std::string_view text);

} // namespace mcpbk
