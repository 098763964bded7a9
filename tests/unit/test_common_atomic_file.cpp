#include <common/atomic_file.hpp>

#include <doctest/doctest.h>
#include <tests/unit/scratch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using namespace mcpbk;
namespace fs = std::filesystem;

namespace {
unsigned mode_of(const fs::path &p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}
std::size_t entries(const fs::path &dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto &e : fs::directory_iterator(dir)) {
    ++n;
  }
  return n;
}
} // namespace

TEST_CASE("atomic_write") {
  const auto dir = test::scratch_dir();
  SUBCASE("creates a new file with the given mode") {
    REQUIRE(atomic_write(dir / "new.json", "{}", 0640));
    CHECK(test::read_file(dir / "new.json") == "{}");
    CHECK(mode_of(dir / "new.json") == 0640);
    CHECK(entries(dir) == 1);
  }
  SUBCASE("keeps the mode of an existing file") {
    test::write_file(dir / "f.json", "old");
    ::chmod((dir / "f.json").c_str(), 0604);
    REQUIRE(atomic_write(dir / "f.json", "new", 0600));
    CHECK(test::read_file(dir / "f.json") == "new");
    CHECK(mode_of(dir / "f.json") == 0604);
  }
  SUBCASE("writes through a symlink and keeps the link") {
    test::write_file(dir / "dotfiles/mcp.json", "old");
    fs::create_directories(dir / "home");
    fs::create_symlink("../dotfiles/mcp.json", dir / "home/mcp.json");
    REQUIRE(atomic_write(dir / "home/mcp.json", "new"));
    CHECK(fs::is_symlink(dir / "home/mcp.json"));
    CHECK(test::read_file(dir / "dotfiles/mcp.json") == "new");
    CHECK(entries(dir / "dotfiles") == 1);
  }
  SUBCASE("refuses a symlink owned by another user") {
    if (::geteuid() != 0) {
      return; // only root can give a link away
    }
    test::write_file(dir / "victim", "mine");
    fs::create_directories(dir / "shared");
    fs::create_symlink(dir / "victim", dir / "shared/mcp.json");
    REQUIRE(::lchown((dir / "shared/mcp.json").c_str(), 65534, 65534) == 0);
    auto r = atomic_write(dir / "shared/mcp.json", "new");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::forbidden);
    CHECK(r.error().message.find("is a symbolic link owned by uid 65534, not "
                                 "by you; refusing to write through it") !=
          std::string::npos);
    CHECK(test::read_file(dir / "victim") == "mine");
    CHECK(entries(dir) == 2);
  }
  SUBCASE("a failure leaves the original and no temp file") {
    test::write_file(dir / "ro/f.json", "original");
    ::chmod((dir / "ro").c_str(), 0500);
    if (::geteuid() == 0) {
      // root ignores directory permissions; use a directory in place of the
      // target instead, which rename cannot replace.
      ::chmod((dir / "ro").c_str(), 0700);
      fs::create_directories(dir / "ro/sub.json");
      auto r = atomic_write(dir / "ro/sub.json", "new");
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("not a regular file") != std::string::npos);
    } else {
      auto r = atomic_write(dir / "ro/f.json", "new");
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("cannot create a temporary file") !=
            std::string::npos);
      ::chmod((dir / "ro").c_str(), 0700);
    }
    CHECK(test::read_file(dir / "ro/f.json") == "original");
    for (const auto &e : fs::directory_iterator(dir / "ro")) {
      CHECK(e.path().filename().string().find(k_temp_marker) ==
            std::string::npos);
    }
  }
}

TEST_CASE("is_temp_name") {
  CHECK(is_temp_name("config.yaml.tmp"));
  CHECK(is_temp_name("cline_mcp_settings.json.lock"));
  CHECK(is_temp_name(".mcp_settings.json.new_1700_abc.tmp"));
  CHECK(is_temp_name(".mcp_settings.json.bak_1700_abc"));
  CHECK(is_temp_name(".mcp.json.mcpbk-tmp-12-34"));
  CHECK(is_temp_name(".settings.json.swp"));
  CHECK(is_temp_name("settings.json~"));
  CHECK(is_temp_name("cline_mcp_settings.json.tmp.123.456.abc"));
  CHECK_FALSE(is_temp_name("mcp.json"));
  CHECK_FALSE(is_temp_name(".claude.json"));
  CHECK_FALSE(is_temp_name("config.toml"));
}
