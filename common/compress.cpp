#include <common/compress.hpp>

#include <zstd.h>

namespace mcpbk {

namespace {
constexpr int k_level = 3;
} // namespace

std::string zstd_compress(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(),
                                      bytes.size(), k_level);
  MCPBK_ASSERT(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

Result<std::string> zstd_decompress(std::string_view frame,
                                    std::size_t expected_size) {
  const unsigned long long declared =
      ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR ||
      declared == ZSTD_CONTENTSIZE_UNKNOWN || declared != expected_size) {
    return fail(ErrorCode::integrity_error,
                "compressed blob is damaged (bad zstd frame header)");
  }
  std::string out(expected_size, '\0');
  const std::size_t n =
      ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != expected_size) {
    return fail(ErrorCode::integrity_error,
                std::string("compressed blob is damaged: ") +
                    (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return out;
}

} // namespace mcpbk
