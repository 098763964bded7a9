#include <common/process.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

namespace mcpbk {

namespace fs = std::filesystem;

namespace {

// The kernel keeps at most 15 characters of a process name in comm.
constexpr std::size_t k_comm_length = 15;

std::string read_small_file(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(in ? text.size() : static_cast<std::size_t>(in.gcount()));
  return text;
}

} // namespace

std::vector<std::string>
running_processes(std::span<const std::string_view> names) {
  std::vector<std::string> found;
#if defined(__linux__)
  if (names.empty()) {
    return found;
  }
  std::set<std::string, std::less<>> seen_names;
  std::error_code ec;
  fs::directory_iterator it("/proc", ec);
  if (ec) {
    return found;
  }
  for (const auto &entry : it) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      continue;
    }
    std::string comm = read_small_file(entry.path() / "comm");
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) {
      comm.pop_back();
    }
    const std::string cmdline = read_small_file(entry.path() / "cmdline");
    const std::string argv0 =
        fs::path(cmdline.substr(0, cmdline.find('\0'))).filename().string();
    for (const std::string_view name : names) {
      if (comm == name.substr(0, k_comm_length) || argv0 == name) {
        seen_names.emplace(name);
      }
    }
  }
  for (const std::string_view name : names) {
    if (seen_names.count(name) != 0 &&
        std::find(found.begin(), found.end(), name) == found.end()) {
      found.emplace_back(name);
    }
  }
#else
  (void)names;
#endif
  return found;
}

} // namespace mcpbk
