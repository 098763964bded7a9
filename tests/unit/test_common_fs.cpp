#include <common/fs.hpp>

#include <doctest/doctest.h>
#include <tests/unit/scratch.hpp>

#include <cstdint>
#include <string>

using namespace mcpbk;
namespace fs = std::filesystem;

namespace {

// Whether a file reads the same twice (a /proc file need not).
enum class Stable { yes, no };

// read_file(path, max_bytes), after checking that read_file_padded() reads
// the same bytes (followed by PaddedBytes::k_padding zero bytes) or fails
// the same way.
Result<std::string> read_both(const fs::path &path, std::uint64_t max_bytes,
                              Stable stable = Stable::yes) {
  auto plain = read_file(path, max_bytes);
  auto padded = read_file_padded(path, max_bytes);
  REQUIRE(plain.has_value() == padded.has_value());
  if (plain) {
    const std::string_view view = padded->view();
    if (stable == Stable::yes) {
      CHECK(view == *plain);
    } else {
      CHECK(view.substr(0, 16) == std::string_view(*plain).substr(0, 16));
    }
    const std::string_view after(view.data() + view.size(),
                                 PaddedBytes::k_padding);
    CHECK(after == std::string(PaddedBytes::k_padding, '\0'));
  } else {
    CHECK(plain.error().code == padded.error().code);
    CHECK(plain.error().message == padded.error().message);
  }
  return plain;
}

} // namespace

TEST_CASE("read_file and read_file_padded") {
  const auto dir = test::scratch_dir();
  SUBCASE("reads every byte, whatever the size") {
    std::uint64_t seed = 7;
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096},
          std::size_t{65536}, std::size_t{65537}, std::size_t{2'200'000}}) {
      std::string bytes(size, '\0');
      for (auto &c : bytes) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        c = static_cast<char>(seed >> 56);
      }
      test::write_file(dir / "f", bytes);
      auto read = read_both(dir / "f", 4'000'000);
      REQUIRE(read);
      CHECK(read->size() == size);
      CHECK(*read == bytes);
    }
  }
  SUBCASE("the limit is inclusive") {
    test::write_file(dir / "f", std::string(1000, 'x'));
    CHECK(read_both(dir / "f", 1000));
    auto over = read_both(dir / "f", 999);
    REQUIRE_FALSE(over);
    CHECK(over.error().code == ErrorCode::too_large);
    CHECK(over.error().message.find("over the limit of 999") !=
          std::string::npos);
  }
#if defined(__linux__)
  SUBCASE("a file longer than its stat size grows the buffer, to the limit") {
    // /proc files are regular files of size 0 with content.
    auto status = read_both("/proc/self/status", 1'000'000, Stable::no);
    REQUIRE(status);
    CHECK(status->rfind("Name:", 0) == 0);
    CHECK(status->size() > 100);
    auto cut = read_both("/proc/self/status", 10, Stable::no);
    REQUIRE_FALSE(cut);
    CHECK(cut.error().code == ErrorCode::too_large);
    CHECK(cut.error().message.find("grew over the limit of 10") !=
          std::string::npos);
  }
#endif
  SUBCASE("missing files and directories") {
    auto missing = read_both(dir / "nothing", 100);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ErrorCode::not_found);
    auto directory = read_both(dir, 100);
    REQUIRE_FALSE(directory);
    CHECK(directory.error().code == ErrorCode::io_error);
    CHECK(directory.error().message.find("not a regular file") !=
          std::string::npos);
  }
}

TEST_CASE("shorten_home and shorten_home_in") {
  const fs::path home = "/home/ann/";
  CHECK(shorten_home("/home/ann/.cursor/mcp.json", home) ==
        "~/.cursor/mcp.json");
  CHECK(shorten_home("/home/ann", home) == "~");
  CHECK(shorten_home("/home/anna/x", home) == "/home/anna/x");
  CHECK(shorten_home_in("critical risk change to /home/ann/.claude.json: "
                        "\xE2\x88\x92github",
                        home) ==
        "critical risk change to ~/.claude.json: \xE2\x88\x92github");
  // Only where a path starts, and each time.
  CHECK(shorten_home_in("/home/ann/a and \"/home/ann/b\" (/home/ann/c)",
                        home) == "~/a and \"~/b\" (~/c)");
  CHECK(shorten_home_in("/mnt/home/ann/x /home/anna/y /home/ann", home) ==
        "/mnt/home/ann/x /home/anna/y /home/ann");
  CHECK(shorten_home_in("/home/ann/x", "/") == "/home/ann/x");
  // A project's server, as summaries name it.
  CHECK(shorten_home_in("+github@/home/ann/app −fs@/home/ann/old", home) ==
        "+github@~/app −fs@~/old");
}

TEST_CASE("link_chain") {
  const fs::path dir = test::scratch_dir();
  test::write_file(dir / "real/mcp.json", "{}");
  fs::create_directory_symlink("real", dir / "dots");
  fs::create_symlink("../dots/mcp.json", dir / "real/link.json");
  fs::create_symlink(dir / "real/link.json", dir / "top.json");
  fs::create_symlink("nowhere.json", dir / "dangling.json");
  fs::create_symlink("loop2", dir / "loop1");
  fs::create_symlink("loop1", dir / "loop2");
  // Each link, then where it leads: relative targets from the link's own
  // directory, kept lexical (a link to a directory on the way is not
  // followed here).
  CHECK(link_chain(dir / "top.json") ==
        std::vector<fs::path>{dir / "top.json", dir / "real/link.json",
                              dir / "dots/mcp.json"});
  CHECK(link_chain(dir / "real/mcp.json") ==
        std::vector<fs::path>{dir / "real/mcp.json"});
  // A target that does not exist ends the chain: where a file would go.
  CHECK(link_chain(dir / "dangling.json") ==
        std::vector<fs::path>{dir / "dangling.json", dir / "nowhere.json"});
  // A loop stops after 40 links.
  CHECK(link_chain(dir / "loop1").size() == 41);
}
