#include <common/base64.hpp>
#include <common/hash.hpp>

#include <doctest/doctest.h>

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
