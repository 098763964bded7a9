#include <common/atomic_file.hpp>

#include <doctest/doctest.h>
#include <tests/unit/scratch.hpp>

#include <cstdio>
#include <utility>

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
  SUBCASE("a name as long as the file system allows") {
    const std::string name(255, 'n');
    REQUIRE(atomic_write(dir / name, "long", 0600));
    CHECK(test::read_file(dir / name) == "long");
    REQUIRE(atomic_write(dir / name, "longer", 0600));
    CHECK(test::read_file(dir / name) == "longer");
    CHECK(entries(dir) == 1);
  }
  SUBCASE("keeps the mode of an existing file") {
    test::write_file(dir / "f.json", "old");
    ::chmod((dir / "f.json").c_str(), 0604);
    REQUIRE(atomic_write(dir / "f.json", "new", 0600));
    CHECK(test::read_file(dir / "f.json") == "new");
    CHECK(mode_of(dir / "f.json") == 0604);
  }
  SUBCASE("keeps the owner and group of an existing file") {
    if (::geteuid() != 0) {
      return; // only root can give a file away
    }
    test::write_file(dir / "theirs.json", "old");
    REQUIRE(::chown((dir / "theirs.json").c_str(), 65534, 65533) == 0);
    REQUIRE(atomic_write(dir / "theirs.json", "new", 0600));
    struct stat st {};
    REQUIRE(::stat((dir / "theirs.json").c_str(), &st) == 0);
    CHECK(st.st_uid == 65534);
    CHECK(st.st_gid == 65533);
    CHECK(test::read_file(dir / "theirs.json") == "new");
    // A new file is the writer's.
    REQUIRE(atomic_write(dir / "mine.json", "new", 0600));
    REQUIRE(::stat((dir / "mine.json").c_str(), &st) == 0);
    CHECK(st.st_uid == ::geteuid());
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

TEST_CASE("AtomicFileWriter hands over the file it replaced") {
  const auto dir = test::scratch_dir();
  const fs::path target = dir / "f.json";
  SUBCASE("the old inode stays open, unlinked, until the caller closes it") {
    test::write_file(target, "old content");
    struct stat old {};
    REQUIRE(::stat(target.c_str(), &old) == 0);
    auto writer = AtomicFileWriter::open(target);
    REQUIRE(writer);
    CHECK(writer->mode() == (old.st_mode & 07777));
    REQUIRE(writer->write("new content"));
    REQUIRE(writer->commit());
    const int replaced = writer->release_replaced();
    REQUIRE(replaced >= 0);
    CHECK(writer->release_replaced() == -1);
    struct stat held {};
    REQUIRE(::fstat(replaced, &held) == 0);
    CHECK(held.st_ino == old.st_ino);
    CHECK(held.st_nlink == 0);
    CHECK(test::read_file(target) == "new content");
    CHECK(::close(replaced) == 0);
    CHECK(entries(dir) == 1);
  }
  SUBCASE("nothing to hand over for a new file") {
    auto writer = AtomicFileWriter::open(target, 0600);
    REQUIRE(writer);
    REQUIRE(writer->write("first"));
    REQUIRE(writer->commit());
    CHECK(writer->release_replaced() == -1);
    CHECK(test::read_file(target) == "first");
  }
  SUBCASE("a failed rename hands over nothing and leaves no temp file") {
    test::write_file(target, "old");
    {
      auto writer = AtomicFileWriter::open(target);
      REQUIRE(writer);
      REQUIRE(writer->write("new"));
      // The file becomes a directory, which a file cannot be renamed over.
      fs::remove(target);
      fs::create_directory(target);
      test::write_file(target / "inside", "x");
      CHECK_FALSE(writer->commit());
      CHECK(writer->release_replaced() == -1);
    }
    CHECK(entries(dir) == 1);
    CHECK(test::read_file(target / "inside") == "x");
  }
}

TEST_CASE("AtomicFileWriter replaces only what it expects") {
  const auto dir = test::scratch_dir();
  const fs::path file = dir / "config.json";
  const auto write_in_place = [&file](const std::string &text) {
    FILE *f = std::fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  write_in_place("old");
  const std::optional<FileInfo> seen = stat_or_missing(file);
  CHECK(seen.has_value());
  CHECK(unchanged(seen, stat_or_missing(file)));

  SUBCASE("unchanged: replaced") {
    auto writer = AtomicFileWriter::open(file);
    REQUIRE(writer);
    REQUIRE(writer->write("new"));
    REQUIRE(writer->commit_if_unchanged(seen));
    CHECK(test::read_file(file) == "new");
  }
  SUBCASE("saved in place meanwhile: left as it is") {
    // Another size: the same size within one tick of the clock that
    // stamps files (a few ms) may keep every field.
    auto writer = AtomicFileWriter::open(file);
    REQUIRE(writer);
    REQUIRE(writer->write("new"));
    write_in_place("older");
    const auto committed = writer->commit_if_unchanged(seen);
    REQUIRE_FALSE(committed);
    CHECK(committed.error().code == ErrorCode::conflict);
    CHECK_FALSE(writer->replaced());
    CHECK(test::read_file(file) == "older");
  }
  SUBCASE("renamed over meanwhile, or created where there was none") {
    const std::optional<FileInfo> none = stat_or_missing(dir / "missing.json");
    CHECK_FALSE(none.has_value());
    for (const auto &[target, expected] :
         {std::pair{file, seen}, std::pair{dir / "missing.json", none}}) {
      auto writer = AtomicFileWriter::open(target);
      REQUIRE(writer);
      REQUIRE(writer->write("new"));
      REQUIRE(atomic_write(target, "theirs"));
      const auto committed = writer->commit_if_unchanged(expected);
      REQUIRE_FALSE(committed);
      CHECK(committed.error().code == ErrorCode::conflict);
      CHECK(test::read_file(target) == "theirs");
    }
  }
  // No temp file is left behind either way.
  CHECK(entries(dir) == (fs::exists(dir / "missing.json") ? 2 : 1));
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
