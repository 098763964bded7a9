#pragma once

#include <common/error.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace mcpbk {

// What lstat/stat say about a path.
struct FileInfo {
  bool is_regular = false;
  bool is_directory = false;
  bool is_symlink = false; // the path itself is a link (lstat)
  std::uint64_t size = 0;
  std::uint32_t mode = 0; // permission bits
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;

  bool operator==(const FileInfo &) const = default;
};

// Stats a path, following links (is_symlink still tells whether the path
// itself is one). A missing path (or a dangling link) is std::nullopt, not an
// error.
Result<std::optional<FileInfo>> stat_path(const std::filesystem::path &path);

// Reads a whole regular file. too_large when it exceeds max_bytes;
// not_found when it does not exist; io_error for anything else.
Result<std::string> read_file(const std::filesystem::path &path,
                              std::uint64_t max_bytes);

// Resolves every symlink of a path that may not fully exist: the existing
// prefix is canonicalised, the rest appended.
std::filesystem::path resolve_links(const std::filesystem::path &path);

// Makes a path absolute and lexically normal without touching links.
std::filesystem::path normalize_path(const std::filesystem::path &path);

// Creates a directory and its parents; the last component gets mode 0700.
Result<void> ensure_private_dir(const std::filesystem::path &dir);

// Replaces a leading home directory with "~" for display.
std::string shorten_home(const std::filesystem::path &path,
                         const std::filesystem::path &home);

} // namespace mcpbk
