#pragma once

#include <common/error.hpp>

#include <string>
#include <string_view>

namespace mcpbk {

// zstd-compresses bytes at a fast level. With a prefix (e.g. the file's
// previous version), the frame may refer back into it: a small edit of a
// large file then compresses to a few hundred bytes, and faster than alone.
// Decompressing such a frame needs the same prefix.
std::string zstd_compress(std::string_view bytes, std::string_view prefix = {});

// A prefix indexed once for the frames of several contents (a keyframe
// serves up to 32 deltas): zstd_compress() with it skips indexing the prefix
// again for each one, which was a tenth of the instructions of recording a
// 5 KB change. It refers to `prefix`, which must stay in place while it
// lives. Frames made with it decompress with the same prefix, as those of
// zstd_compress(bytes, prefix) do.
class ZstdPrefix {
public:
  explicit ZstdPrefix(std::string_view prefix);
  ~ZstdPrefix();
  ZstdPrefix(const ZstdPrefix &) = delete;
  ZstdPrefix &operator=(const ZstdPrefix &) = delete;

  std::string_view bytes() const { return m_prefix; }

private:
  friend std::string zstd_compress(std::string_view bytes,
                                   const ZstdPrefix &prefix);
  std::string_view m_prefix;
  void *m_dict = nullptr; // ZSTD_CDict
};

std::string zstd_compress(std::string_view bytes, const ZstdPrefix &prefix);

// The most prefix and content bytes together that zstd_compress() takes with
// a prefix: the window of such a frame spans both, and zstd decoders accept
// windows up to 128 MiB by default.
inline constexpr std::size_t k_max_prefixed_bytes = std::size_t{1} << 27;

// Decompresses a zstd frame (made with `prefix`, if any) whose content size
// must equal expected_size; integrity_error when the frame is damaged or of
// another size.
Result<std::string> zstd_decompress(std::string_view frame,
                                    std::size_t expected_size,
                                    std::string_view prefix = {});

// Both keep a context per thread (reusing it is much cheaper than making
// one per call); this frees the calling thread's, e.g. when going idle.
void release_compression_memory();

} // namespace mcpbk
