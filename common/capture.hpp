#pragma once

#include <common/config.hpp>
#include <common/error.hpp>
#include <common/hosts.hpp>
#include <common/mcp.hpp>
#include <common/store.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mcpbk {

// How a capture is asked for.
struct CaptureRequest {
  SnapshotTrigger trigger = SnapshotTrigger::change;
  // Record even when the content equals the latest snapshot (manual ones).
  bool always = false;
  std::optional<std::string> note;
  bool pinned = false;
  // The bytes hold a redacted bundle's placeholders (a restore of such a
  // snapshot): the new snapshot says so too.
  bool redacted = false;
  // The MCP view of exactly these bytes as the target reads them, when the
  // caller already has it (restore parsed them for its summary); saves
  // capture_bytes() a parse. Not owned; only read during the call.
  const struct McpView *view = nullptr;
  // capture_bytes(): the SHA-256 of the bytes, when the caller has it.
  std::string_view sha256;
  // capture_bytes(): the bytes are followed by PaddedBytes::k_padding
  // readable bytes (capture_file() reads them so), and are parsed in place.
  Padded padded = Padded::no;
  // Content the caller holds, with its SHA-256 (restore: the file it is
  // replacing). Rating the change reads it instead of the latest snapshot's
  // blob when that blob has this hash. capture_file(): when the file holds
  // exactly these bytes, their hash is not computed again and `view` is
  // theirs; otherwise `view` is ignored. Not owned.
  std::string_view known_bytes;
  std::string_view known_sha256;
  // The file is ~/.claude.json: list its projects from the capture's own
  // parse, into CaptureOutcome::claude_projects (for a JSON target).
  bool claude_projects = false;
  // capture_file(): the kind of skip already reported for this path while
  // it lasts ("unreadable", "too_large", "not_a_file"; the daemon's): a
  // skip of that kind records no event again.
  std::string_view skip_reported;
};

// What a capture did.
struct CaptureOutcome {
  enum class Kind {
    recorded,      // a new snapshot was stored
    unchanged,     // same bytes as the path's latest snapshot
    mcp_unchanged, // trigger mcp and the server maps are equal
    missing,       // the file does not exist
    skipped,       // too large, not a regular file or unreadable (event)
  } kind = Kind::unchanged;
  // Kind::skipped: why, as an event kind ("unreadable", "too_large",
  // "not_a_file") and a message.
  std::string skip_kind;
  std::string skip_message;
  std::optional<SnapshotRecord> snapshot;
  // Events recorded by this capture (risk, skips, deletions).
  std::vector<EventRecord> events;
  // Set when a retention run followed the snapshot.
  DeleteResult pruned;
  // claude_projects_from() of the content, when the request asked for it
  // and the capture parsed the content (recorded or mcp_unchanged, unless
  // the request brought its view).
  std::optional<std::vector<std::filesystem::path>> claude_projects;
};

const char *to_string(CaptureOutcome::Kind kind);

// The digest of a view's server maps (SHA-256 of their canonical form).
std::string mcp_digest_of(const struct McpView &view);

// What a host keeps beside its servers and restores with them (VS Code's
// `inputs`: restore_locations_of()), as canonical text; "" when none.
std::string companions_of(std::string_view bytes, const WatchTarget &target);

// mcp_digest_of() that also covers the companions of `bytes`, so that a
// change of them alone is an MCP change (trigger mcp records it). For a
// file without companions, the same digest.
std::string mcp_digest_of(const struct McpView &view, std::string_view bytes,
                          const WatchTarget &target);

// The MCP view of `bytes` (whose SHA-256 is `sha256`) as the target reads
// them: from the per-thread cache of recently recorded contents when it is
// there, else parsed (and then cached). Restore uses it for the current file
// and the snapshot, which the daemon usually has just recorded or parsed.
McpView view_for(std::string_view bytes, std::string_view sha256,
                 const WatchTarget &target);

// Reads a watched file and records a snapshot when it changed (SPEC §5):
// compares the bytes (and, for trigger mcp, the server maps) with the path's
// latest snapshot, assesses the risk against it, records medium-or-worse
// changes and skips as events, and applies retention to the path afterwards.
Result<CaptureOutcome> capture_file(Store &store, const WatchTarget &target,
                                    const CaptureRequest &request,
                                    const Config &config);

// The same for bytes already read (restore records what it wrote).
Result<CaptureOutcome> capture_bytes(Store &store, const WatchTarget &target,
                                     std::string_view bytes, std::uint32_t mode,
                                     const CaptureRequest &request,
                                     const Config &config);

// Applies retention to one path (or every path) and deletes what it plans.
Result<DeleteResult>
apply_retention(Store &store, const RetentionPolicy &policy,
                const std::optional<std::string> &path = std::nullopt);

// The watch target describing a recorded path: the resolved target with the
// same path when there is one, else one built from the host's catalog entry
// and the file's extension.
WatchTarget target_for(const std::string &host, const std::string &path,
                       const std::vector<WatchTarget> &known);

} // namespace mcpbk
