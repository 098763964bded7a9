#pragma once

#include <common/error.hpp>
#include <common/fs.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

namespace mcpbk {

// The marker in the names of our temporary files; the watcher ignores them.
inline constexpr std::string_view k_temp_marker = ".mcpbk-tmp-";

// Replaces a file's content atomically: a temp file in the same directory is
// written, fsynced and renamed over the target, then the directory is
// fsynced. When the target is a symlink, its final target is replaced and the
// link kept; a link owned by another user (not root) is refused with
// forbidden. The mode is the existing file's, else `mode` (else 0600). On any
// failure the original is untouched and the temp file removed.
Result<void> atomic_write(const std::filesystem::path &target,
                          std::string_view bytes,
                          std::optional<std::uint32_t> mode = std::nullopt);

// Writes a file in pieces with the same guarantees as atomic_write():
// nothing is visible at the target until commit(), and a writer destroyed
// without commit() removes its temp file.
class AtomicFileWriter {
public:
  // With MakeDirs::yes, the directory that will hold the file is made
  // first when it is missing: the target's own, or through a symbolic
  // link, its final target's (a dotfiles directory deleted behind the
  // link).
  enum class MakeDirs : bool { no, yes };
  static Result<AtomicFileWriter>
  open(const std::filesystem::path &target,
       std::optional<std::uint32_t> mode = std::nullopt,
       MakeDirs make_dirs = MakeDirs::no);

  AtomicFileWriter(AtomicFileWriter &&other) noexcept;
  AtomicFileWriter &operator=(AtomicFileWriter &&) = delete;
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;
  ~AtomicFileWriter();

  Result<void> write(std::string_view bytes);
  // Starts writing what was written so far to the disk without waiting for
  // it (Linux; elsewhere nothing), so that work done before commit()
  // overlaps the disk's. A hint: commit() makes it durable either way.
  void start_flush();
  // fsync, rename over the target, fsync the directory.
  Result<void> commit();
  // The same, only while the target is unchanged() since `seen` (a
  // stat_or_missing() of it), checked after the fsync, right before the
  // rename: else ErrorCode::conflict, and the target is left as it is
  // (what another program saved meanwhile is not replaced).
  Result<void> commit_if_unchanged(const std::optional<FileInfo> &seen);
  // Whether commit() renamed the file over the target: true when only the
  // directory's fsync failed, so that the new content is in place but not
  // known to survive a crash of the system.
  bool replaced() const { return m_committed; }
  // The mode the file gets: the replaced file's, else the one asked for.
  std::uint32_t mode() const { return m_mode; }
  // After commit(): a descriptor of the file the rename replaced (-1 when
  // there was none), which is the caller's to close. It keeps the old
  // file's inode alive, so the rename does not free its blocks (0.5 ms for
  // 5 KB, 1.8 ms for 2 MB on ext4 here): closing it does, and the caller
  // picks when. Unreleased, the writer closes it.
  int release_replaced() { return std::exchange(m_replaced, -1); }

private:
  AtomicFileWriter() = default;
  Result<void> commit(const std::optional<FileInfo> *seen);
  int m_fd = -1;
  std::filesystem::path m_temp;
  std::filesystem::path m_target; // the final target (links followed)
  std::uint32_t m_mode = 0600;
  int m_replaced = -1;
  bool m_committed = false;
};

// True for names of temporary files written by us or by editors and
// installers (*.tmp, *.lock, .*.new_*, .*.bak_*, *.swp, *~, ...).
bool is_temp_name(std::string_view file_name);

} // namespace mcpbk
