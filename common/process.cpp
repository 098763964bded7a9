#include <common/process.hpp>

#include <algorithm>
#include <set>

#if defined(__linux__)
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#endif

namespace mcpbk {

namespace {

#if defined(__linux__)
// The kernel keeps at most 15 characters of a process name in comm.
constexpr std::size_t k_comm_length = 15;

// Up to sizeof(buffer) bytes of a file under /proc, opened relative to the
// /proc directory (no path walk from the root for each of the hundreds of
// files a scan reads). Empty when it cannot be read, e.g. the process just
// exited. Restore runs this scan on every request.
template <std::size_t N>
std::string_view read_proc_file(int proc_fd, const char *relative,
                                char (&buffer)[N]) {
  const int fd = ::openat(proc_fd, relative, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {};
  }
  const ssize_t n = ::read(fd, buffer, N);
  ::close(fd);
  return n > 0 ? std::string_view(buffer, static_cast<std::size_t>(n))
               : std::string_view();
}
#endif

} // namespace

std::vector<std::string>
running_processes(std::span<const std::string_view> names) {
  std::vector<std::string> found;
#if defined(__linux__)
  if (names.empty()) {
    return found;
  }
  DIR *proc = ::opendir("/proc");
  if (proc == nullptr) {
    return found;
  }
  const int proc_fd = ::dirfd(proc);
  std::set<std::string_view> seen_names;
  char comm_buffer[64];
  char cmdline_buffer[4096];
  std::string relative;
  while (const dirent *entry = ::readdir(proc)) {
    const std::string_view pid(entry->d_name);
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      continue;
    }
    relative.assign(pid).append("/comm");
    std::string_view comm =
        read_proc_file(proc_fd, relative.c_str(), comm_buffer);
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) {
      comm.remove_suffix(1);
    }
    relative.assign(pid).append("/cmdline");
    std::string_view argv0 =
        read_proc_file(proc_fd, relative.c_str(), cmdline_buffer);
    argv0 = argv0.substr(0, argv0.find('\0'));
    if (const auto slash = argv0.rfind('/'); slash != std::string_view::npos) {
      argv0.remove_prefix(slash + 1);
    }
    for (const std::string_view name : names) {
      if (comm == name.substr(0, k_comm_length) || argv0 == name) {
        seen_names.insert(name);
      }
    }
  }
  ::closedir(proc);
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
