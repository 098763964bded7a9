#include <common/base64.hpp>

#include <nettle/base64.h>

#include <cstdint>

namespace mcpbk {

namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(BASE64_ENCODE_RAW_LENGTH(bytes.size()), '\0');
  base64_encode_raw(out.data(), bytes.size(),
                    reinterpret_cast<const std::uint8_t *>(bytes.data()));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return fail(ErrorCode::bad_request,
                "invalid base64: length is not a multiple of 4");
  }
  // Nettle's decoder skips whitespace, so the alphabet and where padding may
  // appear are checked here first.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') {
    padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  }
  for (std::size_t i = 0; i + padding < text.size(); ++i) {
    if (!is_base64_char(text[i])) {
      return fail(ErrorCode::bad_request,
                  "invalid base64: unexpected character at offset " +
                      std::to_string(i));
    }
  }
  std::string out(BASE64_DECODE_LENGTH(text.size()), '\0');
  base64_decode_ctx ctx;
  base64_decode_init(&ctx);
  std::size_t written = out.size();
  if (base64_decode_update(&ctx, &written,
                           reinterpret_cast<std::uint8_t *>(out.data()),
                           text.size(), text.data()) != 1 ||
      base64_decode_final(&ctx) != 1) {
    return fail(ErrorCode::bad_request, "invalid base64");
  }
  out.resize(written);
  return out;
}

} // namespace mcpbk
