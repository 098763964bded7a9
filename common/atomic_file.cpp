#include <common/atomic_file.hpp>

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <optional>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace mcpbk {

namespace fs = std::filesystem;

namespace {

// Follows a chain of symlinks to the path that really holds the content.
Result<fs::path> final_target(const fs::path &path) {
  fs::path current = path;
  for (int depth = 0; depth < 40; ++depth) {
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return current; // a new file, or a dangling link's target
      }
      return fail_errno("cannot stat " + current.string(), errno);
    }
    if (!S_ISLNK(st.st_mode)) {
      return current;
    }
    // A link someone else planted (say in a shared directory) must not
    // redirect our write to a file of their choosing.
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
      return fail(ErrorCode::forbidden,
                  current.string() + " is a symbolic link owned by uid " +
                      std::to_string(st.st_uid) +
                      ", not by you; refusing to write through it");
    }
    char buf[PATH_MAX];
    const ssize_t n = ::readlink(current.c_str(), buf, sizeof buf - 1);
    if (n < 0) {
      return fail_errno("cannot read link " + current.string(), errno);
    }
    const fs::path link(std::string(buf, static_cast<std::size_t>(n)));
    current = link.is_absolute()
                  ? link.lexically_normal()
                  : (current.parent_path() / link).lexically_normal();
  }
  return fail(ErrorCode::io_error,
              path.string() + ": too many levels of symbolic links");
}

Result<void> fsync_dir(const fs::path &dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail_errno("cannot open directory " + dir.string(), errno);
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) {
    return fail_errno("cannot fsync directory " + dir.string(), err);
  }
  return {};
}

} // namespace

Result<AtomicFileWriter>
AtomicFileWriter::open(const fs::path &target,
                       std::optional<std::uint32_t> mode, MakeDirs make_dirs) {
  AtomicFileWriter w;
  TRY_ASSIGN(w.m_target, final_target(target));
  fs::path dir = w.m_target.parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  if (make_dirs == MakeDirs::yes) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return fail(ErrorCode::io_error,
                  "cannot create " + dir.string() + ": " + ec.message());
    }
  }
  w.m_mode = mode.value_or(0600);
  struct stat st {};
  std::optional<std::pair<uid_t, gid_t>> owner;
  if (::stat(w.m_target.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return fail(ErrorCode::io_error,
                  w.m_target.string() + ": exists and is not a regular file");
    }
    w.m_mode = st.st_mode & 07777;
    if (st.st_uid != ::geteuid() || st.st_gid != ::getegid()) {
      owner.emplace(st.st_uid, st.st_gid);
    }
  }
  // A name near the file system's limit (255 bytes) leaves no room for the
  // temp file's additions: only its start goes into the temp name.
  constexpr std::size_t k_max_name = 255;
  constexpr std::size_t k_additions = 1 + k_temp_marker.size() + 10 + 1 + 10;
  const std::string name =
      w.m_target.filename().string().substr(0, k_max_name - k_additions);
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    fs::path candidate =
        dir / ("." + name + std::string(k_temp_marker) +
               std::to_string(::getpid()) + "-" + std::to_string(rd()));
    const int fd =
        ::open(candidate.c_str(),
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      w.m_fd = fd;
      w.m_temp = candidate;
      if (owner) {
        // The file keeps its owner and group where this process may give
        // them (root; a group the user is in): a restore run as root must
        // not leave a user's file owned by root. Where it may not, the new
        // file is this user's, as any editor's save would make it.
        if (::fchown(fd, owner->first, owner->second) != 0) {
          (void)::fchown(fd, static_cast<uid_t>(-1), owner->second);
        }
      }
      return w;
    }
    if (errno != EEXIST) {
      return fail_errno("cannot create a temporary file in " + dir.string(),
                        errno);
    }
  }
  return fail(ErrorCode::io_error,
              "cannot create a unique temporary file in " + dir.string());
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_temp(std::move(other.m_temp)),
      m_target(std::move(other.m_target)), m_mode(other.m_mode),
      m_replaced(std::exchange(other.m_replaced, -1)),
      m_committed(std::exchange(other.m_committed, true)) {
  other.m_temp.clear();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  if (m_replaced >= 0) {
    ::close(m_replaced);
  }
  if (!m_temp.empty() && !m_committed) {
    ::unlink(m_temp.c_str());
  }
}

Result<void> AtomicFileWriter::write(std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(m_fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_errno("cannot write " + m_temp.string(), errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

void AtomicFileWriter::start_flush() {
#if defined(__linux__)
  // Errors (EIO, ENOSPC at allocation) come back from commit()'s fsync.
  (void)::sync_file_range(m_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
}

Result<void> AtomicFileWriter::commit() {
  return commit(nullptr);
}

Result<void>
AtomicFileWriter::commit_if_unchanged(const std::optional<FileInfo> &seen) {
  return commit(&seen);
}

Result<void> AtomicFileWriter::commit(const std::optional<FileInfo> *seen) {
  // fchmod: the umask may have narrowed the mode given to open().
  if (::fchmod(m_fd, m_mode & 07777) != 0) {
    return fail_errno("cannot set mode of " + m_temp.string(), errno);
  }
  if (::fsync(m_fd) != 0) {
    return fail_errno("cannot fsync " + m_temp.string(), errno);
  }
  const int fd = std::exchange(m_fd, -1);
  if (::close(fd) != 0) {
    return fail_errno("cannot close " + m_temp.string(), errno);
  }
  if (seen != nullptr && !unchanged(*seen, stat_or_missing(m_target))) {
    return fail(ErrorCode::conflict,
                m_target.string() +
                    " changed while it was being replaced (another program "
                    "saved it meanwhile): it was left as it is");
  }
  // A reference to the file about to be replaced (see release_replaced);
  // O_PATH opens nothing, so a target swapped for a FIFO cannot block it.
  // Only a hint: without it the rename frees the old blocks itself.
#if defined(O_PATH)
  m_replaced = ::open(m_target.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
#endif
  if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
    const int error = errno;
    if (m_replaced >= 0) {
      ::close(std::exchange(m_replaced, -1));
    }
    return fail_errno("cannot rename over " + m_target.string(), error);
  }
  m_committed = true;
  fs::path dir = m_target.parent_path();
  return fsync_dir(dir.empty() ? fs::path(".") : dir);
}

Result<void> atomic_write(const fs::path &target, std::string_view bytes,
                          std::optional<std::uint32_t> mode) {
  TRY_ASSIGN(auto writer, AtomicFileWriter::open(target, mode));
  TRY(writer.write(bytes));
  return writer.commit();
}

bool is_temp_name(std::string_view name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.substr(name.size() - suffix.size()) == suffix;
  };
  if (name.find(k_temp_marker) != std::string_view::npos) {
    return true;
  }
  if (ends_with(".tmp") || ends_with(".lock") || ends_with(".swp") ||
      ends_with(".swx") || ends_with("~")) {
    return true;
  }
  if (!name.empty() && name[0] == '.' &&
      (name.find(".new_") != std::string_view::npos ||
       name.find(".bak_") != std::string_view::npos)) {
    return true;
  }
  return name.find(".tmp.") != std::string_view::npos;
}

} // namespace mcpbk
