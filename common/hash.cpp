#include <common/hash.hpp>

#include <common/error.hpp>

#include <openssl/evp.h>

namespace mcpbk {

std::string sha256_hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.hex_digest();
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  MCPBK_ASSERT(m_ctx != nullptr);
  MCPBK_ASSERT(EVP_DigestInit_ex(static_cast<EVP_MD_CTX *>(m_ctx), EVP_sha256(),
                                 nullptr) == 1);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(m_ctx));
}

void Sha256::update(std::string_view bytes) {
  MCPBK_ASSERT(EVP_DigestUpdate(static_cast<EVP_MD_CTX *>(m_ctx), bytes.data(),
                                bytes.size()) == 1);
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  MCPBK_ASSERT(
      EVP_DigestFinal_ex(static_cast<EVP_MD_CTX *>(m_ctx), digest, &len) == 1);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(k_hex[digest[i] >> 4]);
    out.push_back(k_hex[digest[i] & 0xf]);
  }
  return out;
}

} // namespace mcpbk
