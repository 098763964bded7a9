#include <common/fs.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

namespace mcpbk {

namespace fs = std::filesystem;

namespace {

FileInfo info_from(const struct stat &st, bool is_link) {
  FileInfo info;
  info.is_regular = S_ISREG(st.st_mode);
  info.is_directory = S_ISDIR(st.st_mode);
  info.is_symlink = is_link;
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.inode = st.st_ino;
  info.device = st.st_dev;
  info.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  info.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  return info;
}

class Fd {
public:
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return m_fd; }

private:
  int m_fd;
};

} // namespace

Result<std::optional<FileInfo>> stat_path(const fs::path &path) {
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return std::optional<FileInfo>{};
    }
    return fail_errno("cannot stat " + path.string(), errno);
  }
  if (!S_ISLNK(lst.st_mode)) {
    return std::optional<FileInfo>{info_from(lst, false)};
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
      return std::optional<FileInfo>{};
    }
    return fail_errno("cannot stat " + path.string(), errno);
  }
  return std::optional<FileInfo>{info_from(st, true)};
}

std::optional<FileInfo> stat_or_missing(const fs::path &path) {
  auto info = stat_path(path);
  return info ? *info : std::nullopt;
}

bool unchanged(const std::optional<FileInfo> &before,
               const std::optional<FileInfo> &now) {
  if (!before || !now) {
    return !before && !now;
  }
  return before->size == now->size && before->mtime_ns == now->mtime_ns &&
         before->ctime_ns == now->ctime_ns && before->inode == now->inode &&
         before->device == now->device && before->is_regular == now->is_regular;
}

namespace {

// The string read_file() returns: growing it zero-fills the new room.
struct StringBuffer {
  std::string bytes;
  char *data() { return bytes.data(); }
  std::size_t room() const { return bytes.size(); }
  void grow(std::size_t room, std::size_t) { bytes.resize(room); }
};

// PaddedBytes' buffer: room plus the padding, the room not initialised.
struct PaddedBuffer {
  std::unique_ptr<char[]> bytes;
  std::size_t room_bytes = 0; // without the padding
  char *data() { return bytes.get(); }
  std::size_t room() const { return room_bytes; }
  void grow(std::size_t room, std::size_t used) {
    if (room >
        std::numeric_limits<std::size_t>::max() - PaddedBytes::k_padding) {
      throw std::bad_alloc();
    }
    auto bigger =
        std::make_unique_for_overwrite<char[]>(room + PaddedBytes::k_padding);
    if (used > 0) {
      std::memcpy(bigger.get(), bytes.get(), used);
    }
    bytes = std::move(bigger);
    room_bytes = room;
  }
};

// Reads a whole regular file into `buffer` (see read_file()) and returns how
// many bytes it holds.
template <class Buffer>
Result<std::size_t> read_into(const fs::path &path, std::uint64_t max_bytes,
                              Buffer &buffer) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return fail(ErrorCode::not_found, path.string() + ": no such file");
    }
    return fail_errno("cannot open " + path.string(), errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail_errno("cannot stat " + path.string(), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorCode::io_error, path.string() + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return fail(ErrorCode::too_large,
                path.string() + ": " + std::to_string(st.st_size) +
                    " bytes is over the limit of " + std::to_string(max_bytes));
  }
  // Read straight into the buffer, sized by fstat plus one byte: a file
  // that kept its size is read in one call and its end seen in a second
  // (a 2 MB file was 34 reads through a 64 KiB buffer, and a copy). The
  // buffer grows if the file does, up to max_bytes + 1.
  const std::size_t limit = max_bytes < std::numeric_limits<std::size_t>::max()
                                ? static_cast<std::size_t>(max_bytes) + 1
                                : std::numeric_limits<std::size_t>::max();
  buffer.grow(std::min(static_cast<std::size_t>(st.st_size) + 1, limit), 0);
  std::size_t used = 0;
  for (;;) {
    if (used == buffer.room()) {
      if (used >= limit) {
        return fail(ErrorCode::too_large,
                    path.string() + ": grew over the limit of " +
                        std::to_string(max_bytes) + " bytes while being read");
      }
      buffer.grow(std::min(limit, std::max<std::size_t>(used * 2, 4096)), used);
    }
    const ssize_t n =
        ::read(fd.get(), buffer.data() + used, buffer.room() - used);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_errno("cannot read " + path.string(), errno);
    }
    if (n == 0) {
      break;
    }
    used += static_cast<std::size_t>(n);
  }
  // Reads only ever had room below `limit`: used <= max_bytes here.
  return used;
}

} // namespace

Result<std::string> read_file(const fs::path &path, std::uint64_t max_bytes) {
  StringBuffer buffer;
  TRY_ASSIGN(const std::size_t used, read_into(path, max_bytes, buffer));
  buffer.bytes.resize(used);
  return std::move(buffer.bytes);
}

Result<PaddedBytes> read_file_padded(const fs::path &path,
                                     std::uint64_t max_bytes) {
  PaddedBuffer buffer;
  TRY_ASSIGN(const std::size_t used, read_into(path, max_bytes, buffer));
  std::memset(buffer.data() + used, 0, PaddedBytes::k_padding);
  PaddedBytes out;
  out.m_data = std::move(buffer.bytes);
  out.m_size = used;
  return out;
}

fs::path resolve_links(const fs::path &path) {
  std::error_code ec;
  fs::path result = fs::weakly_canonical(path, ec);
  if (ec) {
    return normalize_path(path);
  }
  return result;
}

std::vector<fs::path> link_chain(const fs::path &path) {
  std::vector<fs::path> chain{path};
  fs::path current = path;
  for (int depth = 0; depth < 40; ++depth) {
    std::error_code ec;
    if (!fs::is_symlink(current, ec)) {
      break;
    }
    const fs::path target = fs::read_symlink(current, ec);
    if (ec) {
      break;
    }
    current = target.is_absolute()
                  ? target.lexically_normal()
                  : (current.parent_path() / target).lexically_normal();
    chain.push_back(current);
  }
  return chain;
}

fs::path normalize_path(const fs::path &path) {
  std::error_code ec;
  fs::path abs = path.is_absolute() ? path : fs::absolute(path, ec);
  if (ec) {
    abs = path;
  }
  fs::path norm = abs.lexically_normal();
  // "dir/" normalises to "dir/" with an empty filename: drop the slash.
  if (!norm.has_filename() && norm.has_parent_path() &&
      norm != norm.root_path()) {
    norm = norm.parent_path();
  }
  return norm;
}

Result<void> ensure_private_dir(const fs::path &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return fail(ErrorCode::io_error, "cannot create directory " + dir.string() +
                                         ": " + ec.message());
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return fail_errno("cannot set permissions of " + dir.string(), errno);
  }
  return {};
}

namespace {

// The home directory without a trailing "/" ("/" stays itself).
std::string home_text(const fs::path &home) {
  std::string h = home.string();
  while (h.size() > 1 && h.back() == '/') {
    h.pop_back();
  }
  return h;
}

} // namespace

std::string mode_text(std::uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof(text), "%04o", mode & 07777);
  return text;
}

std::string shorten_home(const fs::path &path, const fs::path &home) {
  const std::string p = path.string();
  const std::string h = home_text(home);
  if (h.size() > 1 && p.size() > h.size() && p.compare(0, h.size(), h) == 0 &&
      p[h.size()] == '/') {
    return "~" + p.substr(h.size());
  }
  if (p == h) {
    return "~";
  }
  return p;
}

std::string shorten_home_in(std::string_view text, const fs::path &home) {
  std::string h = home_text(home);
  if (h.size() <= 1) {
    return std::string(text);
  }
  h += '/';
  std::string out;
  out.reserve(text.size());
  std::size_t from = 0;
  for (std::size_t at = text.find(h); at != std::string_view::npos;
       at = text.find(h, at + 1)) {
    const bool starts_path =
        at == 0 || std::string_view(" \"'([@").find(text[at - 1]) !=
                       std::string_view::npos;
    if (!starts_path || at < from) {
      continue;
    }
    out.append(text.substr(from, at - from));
    out += "~/";
    from = at + h.size();
  }
  out.append(text.substr(from));
  return out;
}

} // namespace mcpbk
