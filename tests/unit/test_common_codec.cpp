#include <common/base64.hpp>
#include <common/compress.hpp>
#include <common/hash.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace mcpbk;

TEST_CASE("sha256_hex matches the FIPS 180-2 vectors") {
  CHECK(sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(
      sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("Sha256 fed in pieces equals the one-shot digest") {
  std::string data;
  for (int i = 0; i < 300'000; ++i) {
    data.push_back(static_cast<char>(i * 131 % 251));
  }
  for (const std::size_t piece : {1UL, 63UL, 64UL, 65UL, 4096UL, 100'003UL}) {
    Sha256 hasher;
    for (std::size_t at = 0; at < data.size(); at += piece) {
      hasher.update(std::string_view(data).substr(at, piece));
    }
    CHECK(hasher.hex_digest() == sha256_hex(data));
  }
}

TEST_CASE("base64 follows RFC 4648") {
  const std::pair<const char *, const char *> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto &[plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    auto decoded = base64_decode(encoded);
    REQUIRE(decoded);
    CHECK(*decoded == plain);
  }
}

TEST_CASE("base64 round-trips every byte value and large inputs") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
  }
  std::string large;
  for (int i = 0; i < 5'000'001; ++i) {
    large.push_back(static_cast<char>(i * 7 % 256));
  }
  for (const std::string &input : {bytes, large}) {
    const std::string encoded = base64_encode(input);
    CHECK(encoded.size() == (input.size() + 2) / 3 * 4);
    auto decoded = base64_decode(encoded);
    REQUIRE(decoded);
    CHECK(*decoded == input);
  }
}

TEST_CASE("base64_decode refuses what is not base64") {
  for (const char *bad : {"Zg=", "Zm9v!A==", "Zm 9v",
                          "Zg==Zg==", "Z===", "Zm9v\nYmFy", "====", "Zh=="}) {
    CAPTURE(bad);
    auto decoded = base64_decode(bad);
    CHECK_FALSE(decoded);
    if (!decoded) {
      CHECK(decoded.error().code == ErrorCode::bad_request);
    }
  }
}

namespace {

// 3 MiB of numbers from a xorshift generator: text that does not repeat
// within itself, so only a prefix can explain it.
std::string unrepeating_text(std::uint64_t seed) {
  std::string text;
  std::uint64_t x = seed;
  while (text.size() < (3u << 20)) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    text += std::to_string(x % 1000000007) + ",\n";
  }
  return text;
}

} // namespace

TEST_CASE("zstd_compress with a prefix keeps a small edit small") {
  // One byte changed near the end (the match is as far back as the prefix
  // is long: beyond zstd's default window at level 3).
  const std::string base = unrepeating_text(88172645463325252ULL);
  std::string next = base;
  next[next.size() - 100] = next[next.size() - 100] == '1' ? '2' : '1';

  const std::string whole = zstd_compress(next);
  const std::string delta = zstd_compress(next, base);
  CHECK(whole.size() > 1'000'000);
  CHECK(delta.size() < 4'000);
  auto back = zstd_decompress(delta, next.size(), base);
  REQUIRE(back);
  CHECK(*back == next);
  // The prefix is needed, and only the right one gives the content back.
  auto without = zstd_decompress(delta, next.size());
  CHECK_FALSE(without);
  CHECK(without.error().code == ErrorCode::integrity_error);
  std::string other = base;
  other[other.size() / 2] = other[other.size() / 2] == '1' ? '2' : '1';
  auto wrong = zstd_decompress(delta, next.size(), other);
  CHECK((!wrong || *wrong != next));
  // A frame without a prefix still decodes after one with.
  auto plain = zstd_decompress(whole, next.size());
  REQUIRE(plain);
  CHECK(*plain == next);
}

TEST_CASE("zstd_compress with a prepared prefix") {
  const std::string base = unrepeating_text(2463534242ULL);
  const ZstdPrefix prefix(base);
  CHECK(prefix.bytes() == base);
  // Several frames with one prefix, each decoded with the prefix's bytes
  // (as zstd_decompress(frame, size, base) reads a keyframe's deltas).
  for (std::size_t at : {std::size_t{10}, base.size() / 2, base.size() - 100}) {
    CAPTURE(at);
    std::string next = base;
    next[at] = next[at] == '1' ? '2' : '1';
    const std::string delta = zstd_compress(next, prefix);
    // As small as with the prefix indexed per frame: the window spans the
    // prefix and the content.
    CHECK(delta.size() < 4'000);
    CHECK(delta.size() < zstd_compress(next, base).size() + 200);
    auto back = zstd_decompress(delta, next.size(), base);
    REQUIRE(back);
    CHECK(*back == next);
  }
  // A content much larger than the prefix, and one unrelated to it.
  const std::string twice = base + base;
  auto big = zstd_decompress(zstd_compress(twice, prefix), twice.size(), base);
  REQUIRE(big);
  CHECK(*big == twice);
  const std::string unrelated(5000, 'u');
  auto other =
      zstd_decompress(zstd_compress(unrelated, prefix), unrelated.size(), base);
  REQUIRE(other);
  CHECK(*other == unrelated);
  // The context forgets the prefix after each frame: a plain frame next
  // decodes without it.
  const std::string plain_frame = zstd_compress(unrelated);
  auto plain = zstd_decompress(plain_frame, unrelated.size());
  REQUIRE(plain);
  CHECK(*plain == unrelated);
  // A prefix that begins like a zstd dictionary (magic 0xEC30A437) is still
  // raw content, as a file's bytes always are.
  const std::string magic = std::string("\x37\xA4\x30\xEC", 4) +
                            std::string(4000, 'x') + "tail of the keyframe";
  const ZstdPrefix odd(magic);
  const std::string edited = magic + " edited";
  auto back = zstd_decompress(zstd_compress(edited, odd), edited.size(), magic);
  REQUIRE(back);
  CHECK(*back == edited);
  // An empty prefix is no prefix.
  const ZstdPrefix none{std::string_view()};
  auto alone = zstd_decompress(zstd_compress(edited, none), edited.size());
  REQUIRE(alone);
  CHECK(*alone == edited);
}
