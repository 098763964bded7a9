#include <common/compress.hpp>

#include <zstd.h>

#include <memory>

namespace mcpbk {

namespace {

constexpr int k_level = 3;

struct ContextDeleter {
  void operator()(ZSTD_CCtx *ctx) const { ZSTD_freeCCtx(ctx); }
  void operator()(ZSTD_DCtx *ctx) const { ZSTD_freeDCtx(ctx); }
};

// One compression and one decompression context per thread, reused: making
// a context per call allocates and clears its tables every time, which cost
// more than compressing a 5 KB config.
thread_local std::unique_ptr<ZSTD_CCtx, ContextDeleter> t_cctx;
thread_local std::unique_ptr<ZSTD_DCtx, ContextDeleter> t_dctx;

} // namespace

std::string zstd_compress(std::string_view bytes, std::string_view prefix) {
  if (!t_cctx) {
    t_cctx.reset(ZSTD_createCCtx());
    MCPBK_ASSERT(t_cctx != nullptr);
    MCPBK_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(
        t_cctx.get(), ZSTD_c_compressionLevel, k_level)));
  }
  // A prefix applies to the next frame only; the level stays set. zstd sizes
  // its window for the prefix and the content together.
  if (!prefix.empty()) {
    MCPBK_ASSERT(!ZSTD_isError(
        ZSTD_CCtx_refPrefix(t_cctx.get(), prefix.data(), prefix.size())));
  }
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t n = ZSTD_compress2(t_cctx.get(), out.data(), out.size(),
                                       bytes.data(), bytes.size());
  MCPBK_ASSERT(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

Result<std::string> zstd_decompress(std::string_view frame,
                                    std::size_t expected_size,
                                    std::string_view prefix) {
  const unsigned long long declared =
      ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR ||
      declared == ZSTD_CONTENTSIZE_UNKNOWN || declared != expected_size) {
    return fail(ErrorCode::integrity_error,
                "compressed blob is damaged (bad zstd frame header)");
  }
  if (!t_dctx) {
    t_dctx.reset(ZSTD_createDCtx());
    MCPBK_ASSERT(t_dctx != nullptr);
  }
  if (!prefix.empty() && ZSTD_isError(ZSTD_DCtx_refPrefix(
                             t_dctx.get(), prefix.data(), prefix.size()))) {
    return fail(ErrorCode::integrity_error,
                "cannot use the base of a compressed blob");
  }
  std::string out(expected_size, '\0');
  const std::size_t n = ZSTD_decompressDCtx(
      t_dctx.get(), out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != expected_size) {
    return fail(ErrorCode::integrity_error,
                std::string("compressed blob is damaged: ") +
                    (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return out;
}

void release_compression_memory() {
  t_cctx.reset();
  t_dctx.reset();
}

} // namespace mcpbk
