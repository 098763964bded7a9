#include <common/base64.hpp>

#include <openssl/evp.h>

#include <algorithm>

namespace mcpbk {

namespace {

// EVP_EncodeBlock/EVP_DecodeBlock take an int length; larger inputs are
// handled in chunks (a multiple of 3 bytes for encoding, of 4 characters for
// decoding, so chunks concatenate cleanly).
constexpr std::size_t k_encode_chunk = 3 * 1024 * 1024;
constexpr std::size_t k_decode_chunk = 4 * 1024 * 1024;

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4 + 1);
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), k_encode_chunk);
    const std::size_t start = out.size();
    out.resize(start + (n + 2) / 3 * 4 + 1);
    const int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data() + start),
                        reinterpret_cast<const unsigned char *>(bytes.data()),
                        static_cast<int>(n));
    out.resize(start + static_cast<std::size_t>(written));
    bytes.remove_prefix(n);
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return fail(ErrorCode::bad_request,
                "invalid base64: length is not a multiple of 4");
  }
  // EVP_DecodeBlock skips surrounding whitespace and does not report the
  // padding, so the alphabet and the padding are checked here.
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
  std::string out;
  out.reserve(text.size() / 4 * 3);
  while (!text.empty()) {
    const std::size_t n = std::min(text.size(), k_decode_chunk);
    const std::size_t start = out.size();
    out.resize(start + n / 4 * 3);
    const int written =
        EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data() + start),
                        reinterpret_cast<const unsigned char *>(text.data()),
                        static_cast<int>(n));
    if (written < 0) {
      return fail(ErrorCode::bad_request, "invalid base64");
    }
    out.resize(start + static_cast<std::size_t>(written));
    text.remove_prefix(n);
  }
  out.resize(out.size() - padding);
  return out;
}

} // namespace mcpbk
