#include <common/process.hpp>

#include <tests/unit/scratch.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace mcpbk;

// The Rss of the mapping that starts at `address`, from /proc/self/smaps, in
// KiB; -1 when there is no such mapping.
long resident_kib(const void *address) {
  std::ifstream in("/proc/self/smaps");
  char start[32];
  std::snprintf(
      start, sizeof start, "%lx-",
      static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(address)));
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind(start, 0) == 0) {
      inside = true;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::stol(line.substr(4));
    }
  }
  return -1;
}

// A file of `pages` pages, each filled with its own letter.
std::string pattern(std::size_t pages) {
  std::string bytes;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t i = 0; i < pages; ++i) {
    bytes.append(page, static_cast<char>('a' + i % 26));
  }
  return bytes;
}

struct MappedFile {
  void *address = MAP_FAILED;
  std::size_t size = 0;
  MappedFile(const std::string &path, std::size_t bytes, int prot)
      : size(bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    address = ::mmap(nullptr, size, prot, MAP_PRIVATE, fd, 0);
    ::close(fd);
    REQUIRE(address != MAP_FAILED);
  }
  ~MappedFile() { ::munmap(address, size); }
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  std::string_view bytes() const {
    return {static_cast<const char *>(address), size};
  }
};

} // namespace

TEST_CASE("release_file_pages") {
#if defined(__linux__)
  const auto dir = test::scratch_dir();
  const std::string content = pattern(8);
  test::write_file(dir / "data", content);
  const std::string path = (dir / "data").string();
  // Not synced: pages not yet written back (a program just built or
  // installed) are the file's bytes too, and are released.

  SUBCASE("a read-only file mapping is unmapped and reads the same after") {
    MappedFile file(path, content.size(), PROT_READ);
    CHECK(file.bytes() == content); // faults every page in
    REQUIRE(resident_kib(file.address) > 0);
    const ReleasedPages released = release_file_pages();
    CHECK(released.mappings >= 1);
    CHECK(released.bytes >= content.size());
    CHECK(resident_kib(file.address) == 0);
    CHECK(file.bytes() == content);
  }

  SUBCASE("private copies made read-only afterwards are kept") {
    // What the dynamic loader does with relocated data (RELRO): write to a
    // private file mapping, then make it read-only.
    MappedFile file(path, content.size(), PROT_READ | PROT_WRITE);
    std::memcpy(file.address, "changed", 7);
    REQUIRE(::mprotect(file.address, file.size, PROT_READ) == 0);
    const long before = resident_kib(file.address);
    REQUIRE(before > 0);
    release_file_pages();
    CHECK(resident_kib(file.address) == before);
    CHECK(file.bytes().substr(0, 7) == "changed");
    CHECK(file.bytes().substr(7) == std::string_view(content).substr(7));
  }

  SUBCASE("writable mappings are left alone") {
    MappedFile file(path, content.size(), PROT_READ | PROT_WRITE);
    CHECK(file.bytes() == content);
    const long before = resident_kib(file.address);
    REQUIRE(before > 0);
    release_file_pages();
    CHECK(resident_kib(file.address) == before);
  }

  SUBCASE("this program keeps running after its own code is released") {
    CHECK(release_file_pages().bytes > 0);
    // Code, the C++ runtime and read-only data all fault back in.
    std::string text = std::to_string(12345) + pattern(1).substr(0, 3);
    CHECK(text == "12345aaa");
    CHECK(release_file_pages().mappings > 0);
  }
#endif
}

#if defined(__linux__)
namespace {

// A child process renamed (its comm) to `name`, until destroyed.
struct RenamedChild {
  pid_t pid = -1;
  explicit RenamedChild(const char *name) {
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::prctl(PR_SET_NAME, name);
      for (;;) {
        ::pause();
      }
    }
    // Until the kernel shows the new name (the child runs on its own).
    const std::string comm = "/proc/" + std::to_string(pid) + "/comm";
    const std::string expected = std::string(name).substr(0, 15) + "\n";
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (test::read_file(comm) != expected) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~RenamedChild() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  RenamedChild(const RenamedChild &) = delete;
  RenamedChild &operator=(const RenamedChild &) = delete;
};

std::vector<std::string>
running(std::initializer_list<std::string_view> names) {
  const std::vector<std::string_view> list(names);
  return running_processes(list);
}

} // namespace

TEST_CASE("running_processes") {
  using Names = std::vector<std::string>;
  SUBCASE("by name, as long as the kernel keeps it") {
    RenamedChild child("mcpbk-renamed-process");
    CHECK(running({"mcpbk-renamed-process", "mcpbk-renamed-other",
                   "mcpbk-absent"}) == Names{"mcpbk-renamed-process"});
    CHECK(running({"mcpbk-renamed-p"}) == Names{"mcpbk-renamed-p"});
    CHECK(running({"mcpbk-renamed"}).empty());
  }
  SUBCASE("by the file name of the executable") {
    // This program and its child go by other names for the while: only
    // their executable can match.
    std::array<char, 16> own_comm{};
    REQUIRE(::prctl(PR_GET_NAME, own_comm.data()) == 0);
    REQUIRE(::prctl(PR_SET_NAME, "mcpbk-renamed-1") == 0);
    RenamedChild child("mcpbk-renamed-2");
    std::array<char, 4096> exe{};
    const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size());
    REQUIRE(n > 0);
    const std::string own =
        std::filesystem::path(
            std::string(exe.data(), static_cast<std::size_t>(n)))
            .filename()
            .string();
    const auto found = running({own, "mcpbk-renamed"});
    ::prctl(PR_SET_NAME, own_comm.data());
    CHECK(found == Names{own});
  }
  SUBCASE("a process that has gone is not running") {
    { RenamedChild child("mcpbk-gone-soon"); }
    CHECK(running({"mcpbk-gone-soon"}).empty());
  }
  SUBCASE("kernel threads are not hosts") {
    // kthreadd and its children have names but no executable.
    CHECK(running({"kthreadd"}).empty());
  }
  CHECK(running({}).empty());
}
#endif
