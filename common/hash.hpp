#pragma once

#include <string>
#include <string_view>

namespace mcpbk {

// Lowercase hex SHA-256 of the bytes (Nettle; SHA-NI where the CPU has it).
std::string sha256_hex(std::string_view bytes);

// SHA-256 over bytes fed in pieces.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(Sha256 &&other) noexcept : m_ctx(other.m_ctx) {
    other.m_ctx = nullptr;
  }
  Sha256 &operator=(Sha256 &&) = delete;
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;
  void update(std::string_view bytes);
  // The lowercase hex digest; the hasher is then spent.
  std::string hex_digest();

private:
  void *m_ctx; // sha256_ctx, kept out of this header
};

} // namespace mcpbk
