#pragma once

// Portable bundles of snapshots (docs/BUNDLE.md): export from one store,
// import into another, streamed so any store size fits in bounded memory.

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/error.hpp>
#include <common/store.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace mcpbk {

inline constexpr int k_bundle_version = 1;
inline constexpr std::string_view k_bundle_format = "mcpbk-bundle";

// Called with (done, total) as snapshots are processed.
using Progress = std::function<void(std::uint64_t, std::uint64_t)>;

struct ExportOptions {
  ListFilter filter; // host, path, since
  enum class Redact { no, yes } redact = Redact::no;
  Progress progress;
};

// A snapshot an export could not write, and why.
struct LeftOut {
  std::int64_t id = 0;
  std::string path;
  std::string why;
};

struct ExportResult {
  std::uint64_t snapshots = 0;
  std::uint64_t bytes = 0; // size of the bundle file
  std::vector<LeftOut> left_out;
};

// Writes the matching snapshots (oldest first) to `file` atomically: the file
// appears only when complete. Every blob's hash is verified as it is read;
// a snapshot whose blob is damaged (integrity_error), or whose path is not
// UTF-8, is left out and named in left_out, and the rest is exported.
Result<ExportResult> export_bundle(Store &store,
                                   const std::filesystem::path &file,
                                   const ExportOptions &options,
                                   const Env &env);

// What a bundle says of itself.
struct BundleHeader {
  int version = 0;
  std::string mcpbk_version;
  Micros created_at = 0;
  std::string source_machine;
  std::string source_home;
  bool redacted = false;
  std::uint64_t snapshots = 0;
};

enum class OnConflict { skip, rename, fail };
std::optional<OnConflict> on_conflict_from_string(std::string_view text);

struct ImportOptions {
  OnConflict on_conflict = OnConflict::skip;
  enum class DryRun { no, yes } dry_run = DryRun::no;
  // Rewrite the source machine's home prefix to this machine's.
  enum class MapHome { no, yes } map_home = MapHome::no;
  // A content over this many bytes (store.max_file_bytes) refuses the
  // bundle; 0: no bound.
  std::uint64_t max_content_bytes = 0;
  Progress progress;
};

struct ImportResult {
  BundleHeader header;
  std::uint64_t created = 0;
  std::uint64_t skipped = 0;
  // Of those skipped, how many differ from the snapshot already at their
  // path and time (on_conflict skip): their content was not imported.
  std::uint64_t conflicts = 0;
  std::uint64_t renamed = 0;
  // Of those created or renamed, how many keep a path under the source
  // machine's home, which is not this one's (imported without map_home).
  std::uint64_t outside_home = 0;
};

// Validates the whole bundle first (format, version, every field, every
// content hash, the overall checksum) and imports nothing from one that
// fails. Then imports in one transaction: equal content at the same path and
// time is always skipped; a different snapshot there is a conflict resolved
// by on_conflict (fail: import nothing). Imported snapshots keep taken_at and
// get trigger `import`.
Result<ImportResult> import_bundle(Store &store,
                                   const std::filesystem::path &file,
                                   const ImportOptions &options,
                                   const Env &env);

} // namespace mcpbk
