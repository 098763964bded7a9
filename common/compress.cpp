#include <common/compress.hpp>

// For ZSTD_createCDict_advanced(): a dictionary by reference and always raw
// content (exported by the shared library too).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <cstdint>
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

ZSTD_CCtx *compression_context() {
  if (!t_cctx) {
    t_cctx.reset(ZSTD_createCCtx());
    MCPBK_ASSERT(t_cctx != nullptr);
    MCPBK_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(
        t_cctx.get(), ZSTD_c_compressionLevel, k_level)));
  }
  return t_cctx.get();
}

// The window of the next frame. It must span the prefix and the content, or
// the matches of a large file against its previous version (as far back as
// the prefix is long) fall outside it: a one-byte edit of 2 MB took 17 KB
// instead of 218 B. 0 is the level's own window.
void set_window(ZSTD_CCtx *ctx, std::size_t prefix_size,
                std::size_t content_size) {
  int window_log = 0;
  if (prefix_size != 0) {
    MCPBK_ASSERT(prefix_size + content_size <= k_max_prefixed_bytes);
    window_log = ZSTD_cParam_getBounds(ZSTD_c_windowLog).lowerBound;
    while ((std::uint64_t{1} << window_log) < prefix_size + content_size) {
      ++window_log;
    }
  }
  MCPBK_ASSERT(
      !ZSTD_isError(ZSTD_CCtx_setParameter(ctx, ZSTD_c_windowLog, window_log)));
}

std::string compress_frame(ZSTD_CCtx *ctx, std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t n =
      ZSTD_compress2(ctx, out.data(), out.size(), bytes.data(), bytes.size());
  MCPBK_ASSERT(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

} // namespace

std::string zstd_compress(std::string_view bytes, std::string_view prefix) {
  ZSTD_CCtx *ctx = compression_context();
  set_window(ctx, prefix.size(), bytes.size());
  // A prefix applies to the next frame only; the level stays set.
  if (!prefix.empty()) {
    MCPBK_ASSERT(
        !ZSTD_isError(ZSTD_CCtx_refPrefix(ctx, prefix.data(), prefix.size())));
  }
  return compress_frame(ctx, bytes);
}

ZstdPrefix::ZstdPrefix(std::string_view prefix) : m_prefix(prefix) {
  if (prefix.empty()) {
    return;
  }
  // Raw content whatever its first bytes are (a file may begin like a zstd
  // dictionary), by reference, with the level's parameters for a content
  // of the prefix's size; each frame sets its own window.
  m_dict = ZSTD_createCDict_advanced(
      prefix.data(), prefix.size(), ZSTD_dlm_byRef, ZSTD_dct_rawContent,
      ZSTD_getCParams(k_level, prefix.size(), prefix.size()), ZSTD_defaultCMem);
  MCPBK_ASSERT(m_dict != nullptr);
}

ZstdPrefix::~ZstdPrefix() {
  ZSTD_freeCDict(static_cast<ZSTD_CDict *>(m_dict));
}

std::string zstd_compress(std::string_view bytes, const ZstdPrefix &prefix) {
  if (prefix.m_dict == nullptr) {
    return zstd_compress(bytes);
  }
  ZSTD_CCtx *ctx = compression_context();
  set_window(ctx, prefix.m_prefix.size(), bytes.size());
  MCPBK_ASSERT(!ZSTD_isError(
      ZSTD_CCtx_refCDict(ctx, static_cast<const ZSTD_CDict *>(prefix.m_dict))));
  std::string out = compress_frame(ctx, bytes);
  // Unlike a prefix, a dictionary stays referenced for the next frames.
  MCPBK_ASSERT(!ZSTD_isError(ZSTD_CCtx_refCDict(ctx, nullptr)));
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
