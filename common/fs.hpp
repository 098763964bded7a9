#pragma once

#include <common/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// stat_path() where a path that cannot be looked at counts as missing.
std::optional<FileInfo> stat_or_missing(const std::filesystem::path &path);

// Whether two looks at a path saw it unchanged: missing both times, or the
// same file (device, inode, kind) not written since (size, modification
// and change times). Whether the path is a link, and a chmod, do not count.
bool unchanged(const std::optional<FileInfo> &before,
               const std::optional<FileInfo> &now);

// Reads a whole regular file. too_large when it exceeds max_bytes;
// not_found when it does not exist; io_error for anything else.
Result<std::string> read_file(const std::filesystem::path &path,
                              std::uint64_t max_bytes);

// A file's bytes followed by k_padding zero bytes that are not part of them:
// the fast JSON reader reads past the end of its input, and parses these
// where they are instead of copying them (Padded::yes in common/mcp.hpp).
class PaddedBytes {
public:
  static constexpr std::size_t k_padding = 64;

  std::string_view view() const { return {m_data.get(), m_size}; }

private:
  friend Result<PaddedBytes> read_file_padded(const std::filesystem::path &,
                                              std::uint64_t);
  std::unique_ptr<char[]> m_data;
  std::size_t m_size = 0;
};

// read_file() into a PaddedBytes, whose buffer the read fills without
// zeroing it first: for the daemon's captures, where a 2 MB file's zero fill
// and copy for the JSON reader were an eighth of the work.
Result<PaddedBytes> read_file_padded(const std::filesystem::path &path,
                                     std::uint64_t max_bytes);

// Resolves every symlink of a path that may not fully exist: the existing
// prefix is canonicalised, the rest appended.
std::filesystem::path resolve_links(const std::filesystem::path &path);

// Each link in a chain of symbolic links starting at `path` (relative
// targets taken from the link's directory), then the final target, which
// may not exist: {path} alone when it is no link. At most 40 links.
std::vector<std::filesystem::path>
link_chain(const std::filesystem::path &path);

// Makes a path absolute and lexically normal without touching links.
std::filesystem::path normalize_path(const std::filesystem::path &path);

// Creates a directory and its parents; the last component gets mode 0700.
Result<void> ensure_private_dir(const std::filesystem::path &dir);

// A file mode's permission bits in octal: "0600".
std::string mode_text(std::uint32_t mode);

// Replaces a leading home directory with "~" for display.
std::string shorten_home(const std::filesystem::path &path,
                         const std::filesystem::path &home);

// The same for every path in a text (an event's message): the home
// directory followed by "/" becomes "~/" where a path starts (at the start,
// or after a space, a quote, an opening bracket or the "@" of a project's
// server name: "github@/home/u/app").
std::string shorten_home_in(std::string_view text,
                            const std::filesystem::path &home);

} // namespace mcpbk
