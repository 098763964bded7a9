#include <common/hash.hpp>

#include <common/error.hpp>

#include <nettle/sha2.h>

#include <cstdint>

namespace mcpbk {

std::string sha256_hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.hex_digest();
}

Sha256::Sha256() : m_ctx(new sha256_ctx) {
  sha256_init(static_cast<sha256_ctx *>(m_ctx));
}

Sha256::~Sha256() {
  delete static_cast<sha256_ctx *>(m_ctx);
}

void Sha256::update(std::string_view bytes) {
  MCPBK_ASSERT(m_ctx != nullptr);
  sha256_update(static_cast<sha256_ctx *>(m_ctx), bytes.size(),
                reinterpret_cast<const std::uint8_t *>(bytes.data()));
}

std::string Sha256::hex_digest() {
  MCPBK_ASSERT(m_ctx != nullptr);
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(static_cast<sha256_ctx *>(m_ctx), sizeof digest, digest);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (const std::uint8_t byte : digest) {
    out.push_back(k_hex[byte >> 4]);
    out.push_back(k_hex[byte & 0xf]);
  }
  return out;
}

} // namespace mcpbk
