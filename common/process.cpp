#include <common/process.hpp>

#include <common/fs.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <set>

#if defined(__linux__)
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
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

std::uint32_t parse_pid(std::string_view text) {
  std::uint32_t pid = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), pid);
  return ec == std::errc() && end == text.data() + text.size() ? pid : 0;
}

// The kernel's own threads, sorted: kthreadd (pid 2, when this /proc is the
// machine's) and its children, which it lists in one file (most kernels
// have it; it needs CONFIG_PROC_CHILDREN). A scan need not look at any of
// them, and on a quiet machine they are most of /proc. Empty when pid 2 is
// not kthreadd (a PID namespace) or the list cannot be read; a thread
// started after the list was read is simply looked at.
std::vector<std::uint32_t> kernel_threads(int proc_fd) {
  std::vector<std::uint32_t> pids;
  char comm[32];
  char exe[8];
  if (read_proc_file(proc_fd, "2/comm", comm) != "kthreadd\n" ||
      ::readlinkat(proc_fd, "2/exe", exe, sizeof exe) >= 0) {
    return pids;
  }
  const auto text = read_file("/proc/2/task/2/children", 1 << 20);
  if (!text) {
    return pids;
  }
  pids.push_back(2);
  std::string_view rest(*text);
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    if (const std::uint32_t pid = parse_pid(rest.substr(0, space))) {
      pids.push_back(pid);
    }
    rest.remove_prefix(space == std::string_view::npos ? rest.size()
                                                       : space + 1);
  }
  std::sort(pids.begin(), pids.end());
  return pids;
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
  const std::vector<std::uint32_t> kernel = kernel_threads(proc_fd);
  std::set<std::string_view> seen_names;
  char comm_buffer[64];
  char exe_buffer[4096];
  std::string relative;
  while (const dirent *entry = ::readdir(proc)) {
    const std::string_view pid(entry->d_name);
    const std::uint32_t number = parse_pid(pid);
    if (number == 0 ||
        std::binary_search(kernel.begin(), kernel.end(), number)) {
      continue;
    }
    // The executable first, in one call: a kernel thread (when the list
    // above is not there) and a process that has exited have none, and
    // cannot be a host, so their names need not be read. The kernel shows
    // it only to whoever may trace the process: for another user's
    // process, or one that made itself undumpable, only the name is read.
    relative.assign(pid).append("/exe");
    const ssize_t length =
        ::readlinkat(proc_fd, relative.c_str(), exe_buffer, sizeof exe_buffer);
    if (length < 0 && errno != EACCES && errno != EPERM) {
      continue;
    }
    std::string_view exe_name;
    if (length > 0) {
      exe_name = std::string_view(exe_buffer, static_cast<std::size_t>(length));
      // An executable replaced or deleted since it started.
      constexpr std::string_view deleted = " (deleted)";
      if (exe_name.ends_with(deleted)) {
        exe_name.remove_suffix(deleted.size());
      }
      if (const auto slash = exe_name.rfind('/');
          slash != std::string_view::npos) {
        exe_name.remove_prefix(slash + 1);
      }
    }
    relative.assign(pid).append("/comm");
    std::string_view comm =
        read_proc_file(proc_fd, relative.c_str(), comm_buffer);
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) {
      comm.remove_suffix(1);
    }
    for (const std::string_view name : names) {
      if (comm == name.substr(0, k_comm_length) || exe_name == name) {
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

#if defined(__linux__)
namespace {

// One entry of /proc/self/smaps, with the fields release_file_pages() needs.
struct Mapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::string_view perms;
  bool file_backed = false;
  std::uint64_t rss_kib = 0;
  // Private copies, resident (Anonymous) or swapped out, and locked pages.
  // Private_Dirty is not among them: it also counts file pages that are
  // merely not written back yet, which are the file's own bytes.
  std::uint64_t private_kib = 0;
};

std::uint64_t parse_u64(std::string_view text, int base = 10) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, base);
  return value;
}

// "7f00-7f10 r-xp 00000000 08:01 1234   /usr/lib/libc.so.6"
Mapping parse_header(std::string_view line) {
  Mapping m;
  std::string_view fields[6];
  std::size_t n = 0;
  while (n < 6 && !line.empty()) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      break;
    }
    line.remove_prefix(start);
    const auto stop = n == 5 ? line.size() : line.find(' ');
    fields[n++] = line.substr(0, stop);
    line.remove_prefix(stop == std::string_view::npos ? line.size() : stop);
  }
  const auto dash = fields[0].find('-');
  if (n < 5 || dash == std::string_view::npos) {
    return m;
  }
  m.start = parse_u64(fields[0].substr(0, dash), 16);
  m.end = parse_u64(fields[0].substr(dash + 1), 16);
  m.perms = fields[1];
  m.file_backed = parse_u64(fields[4]) != 0 && n == 6 && !fields[5].empty() &&
                  fields[5].front() == '/';
  return m;
}

// Drops the mapping's pages when that loses nothing: file backed, not
// writable, no private copies.
void release(const Mapping &m, ReleasedPages &out) {
  if (!m.file_backed || m.perms.size() < 4 || m.perms[1] == 'w' ||
      m.rss_kib == 0 || m.private_kib != 0 || m.end <= m.start) {
    return;
  }
  if (::madvise(reinterpret_cast<void *>(m.start), m.end - m.start,
                MADV_DONTNEED) == 0) {
    ++out.mappings;
    out.bytes += m.rss_kib * 1024;
  }
}

} // namespace
#endif

ReleasedPages release_file_pages() {
  ReleasedPages out;
#if defined(__linux__)
  // Read all of it first: madvise() while reading would change what the
  // kernel reports for the mappings not yet read.
  const auto text = read_file("/proc/self/smaps", std::uint64_t{64} << 20);
  if (!text) {
    return out;
  }
  std::string_view rest(*text);
  Mapping current;
  bool have = false;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (line.empty()) {
      continue;
    }
    const char first = line.front();
    if ((first >= '0' && first <= '9') || (first >= 'a' && first <= 'f')) {
      if (have) {
        release(current, out);
      }
      current = parse_header(line);
      have = true;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    value.remove_prefix(std::min(value.find_first_not_of(' '), value.size()));
    if (key == "Rss") {
      current.rss_kib = parse_u64(value);
    } else if (key == "Anonymous" || key == "Swap" || key == "Locked") {
      current.private_kib += parse_u64(value);
    }
  }
  if (have) {
    release(current, out);
  }
#endif
  return out;
}

void reserve_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
      continue;
    }
    // open() returns the lowest free number, which is this one. Not
    // close-on-exec: a program started from here needs it filled too.
    const int opened = ::open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
    if (opened >= 0 && opened != fd) {
      ::close(opened); // someone else took it meanwhile: nothing to do
    }
  }
}

} // namespace mcpbk
