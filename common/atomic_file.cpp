#include <common/atomic_file.hpp>

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

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

// Owns a temp file until it is committed; removes it otherwise.
class TempFile {
public:
  TempFile() = default;
  ~TempFile() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    if (!m_path.empty() && !m_committed) {
      ::unlink(m_path.c_str());
    }
  }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;

  Result<void> create(const fs::path &dir, const std::string &name,
                      std::uint32_t mode) {
    std::random_device rd;
    for (int attempt = 0; attempt < 16; ++attempt) {
      fs::path candidate =
          dir / ("." + name + std::string(k_temp_marker) +
                 std::to_string(::getpid()) + "-" + std::to_string(rd()));
      const int fd = ::open(
          candidate.c_str(),
          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
      if (fd >= 0) {
        m_fd = fd;
        m_path = candidate;
        return {};
      }
      if (errno != EEXIST) {
        return fail_errno("cannot create a temporary file in " + dir.string(),
                          errno);
      }
    }
    return fail(ErrorCode::io_error,
                "cannot create a unique temporary file in " + dir.string());
  }

  Result<void> write_all(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(m_fd, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return fail_errno("cannot write " + m_path.string(), errno);
      }
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  Result<void> finish(std::uint32_t mode) {
    // fchmod: the umask may have narrowed the mode given to open().
    if (::fchmod(m_fd, mode & 07777) != 0) {
      return fail_errno("cannot set mode of " + m_path.string(), errno);
    }
    if (::fsync(m_fd) != 0) {
      return fail_errno("cannot fsync " + m_path.string(), errno);
    }
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) {
      return fail_errno("cannot close " + m_path.string(), errno);
    }
    return {};
  }

  Result<void> commit(const fs::path &target) {
    if (::rename(m_path.c_str(), target.c_str()) != 0) {
      return fail_errno("cannot rename over " + target.string(), errno);
    }
    m_committed = true;
    return {};
  }

private:
  int m_fd = -1;
  fs::path m_path;
  bool m_committed = false;
};

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

Result<void> atomic_write(const fs::path &target, std::string_view bytes,
                          std::optional<std::uint32_t> mode) {
  TRY_ASSIGN(const fs::path real, final_target(target));
  fs::path dir = real.parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  std::uint32_t final_mode = mode.value_or(0600);
  struct stat st {};
  if (::stat(real.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return fail(ErrorCode::io_error,
                  real.string() + ": exists and is not a regular file");
    }
    final_mode = st.st_mode & 07777;
  }
  TempFile temp;
  TRY(temp.create(dir, real.filename().string(), final_mode));
  TRY(temp.write_all(bytes));
  TRY(temp.finish(final_mode));
  TRY(temp.commit(real));
  return fsync_dir(dir);
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
