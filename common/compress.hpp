#pragma once

#include <common/error.hpp>

#include <string>
#include <string_view>

namespace mcpbk {

// zstd-compresses bytes at a fast level.
std::string zstd_compress(std::string_view bytes);

// Decompresses a zstd frame whose content size must equal expected_size;
// integrity_error when the frame is damaged or of another size.
Result<std::string> zstd_decompress(std::string_view frame,
                                    std::size_t expected_size);

// Both keep a context per thread (reusing it is much cheaper than making
// one per call); this frees the calling thread's, e.g. when going idle.
void release_compression_memory();

} // namespace mcpbk
