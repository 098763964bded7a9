#pragma once

#include <common/compress.hpp>
#include <common/error.hpp>
#include <common/retention.hpp>
#include <common/sqlite.hpp>
#include <common/time.hpp>
#include <common/types.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace mcpbk {

// One recorded snapshot (SPEC §6).
struct SnapshotRecord {
  std::int64_t id = 0;
  std::string host;
  std::string path;
  Micros taken_at = 0;
  std::string sha256;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  SnapshotTrigger trigger = SnapshotTrigger::change;
  Risk risk = Risk::low;
  bool parsed = false;
  std::vector<std::string> servers;
  // SHA-256 of the canonical server maps: equal digests, equal MCP config.
  std::string mcp_digest;
  std::string summary;
  std::optional<std::string> note;
  bool pinned = false;
  // Imported from a bundle whose secret values were replaced.
  bool redacted = false;

  // Parseable with at least one MCP server.
  bool good() const { return parsed && !servers.empty(); }
};

// What add_snapshot() records; id and sha256 are assigned by the store.
struct NewSnapshot {
  std::string host;
  std::string path;
  Micros taken_at = 0;
  std::uint32_t mode = 0;
  SnapshotTrigger trigger = SnapshotTrigger::change;
  Risk risk = Risk::low;
  bool parsed = false;
  std::vector<std::string> servers;
  std::string mcp_digest;
  std::string summary;
  std::optional<std::string> note;
  bool pinned = false;
  bool redacted = false;
};

// One recorded event (SPEC §6).
struct EventRecord {
  std::int64_t id = 0;
  Micros at = 0;
  Severity severity = Severity::info;
  std::string kind;
  std::string path;
  std::string message;
  std::string details; // JSON text, "{}" when none
};

struct NewEvent {
  Severity severity = Severity::info;
  std::string kind;
  std::string path;
  std::string message;
  std::string details = "{}";
  Micros at = 0; // 0: now
};

// Filters of list(); all optional. Results are newest first: in the order
// they were recorded here, with imported ones placed by their time (see
// the sort_at migration in store.cpp).
struct ListFilter {
  std::optional<std::string> host;
  std::optional<std::string> path;
  std::optional<Micros> since;
  // Only those listed after this snapshot (the last of the previous page).
  std::optional<std::int64_t> before_id;
  std::optional<std::int64_t> limit;
};

struct DeleteResult {
  std::uint64_t snapshots = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes_freed = 0; // stored (compressed) bytes of blobs removed
};

struct VerifyProblem {
  std::string what; // "blob 3fa2...: hash mismatch", "database: ..."
};

struct VerifyReport {
  std::uint64_t blobs_checked = 0;
  std::uint64_t snapshots_checked = 0;
  std::vector<VerifyProblem> problems;
  bool ok() const { return problems.empty(); }
};

struct StoreStats {
  std::uint64_t snapshots = 0;
  std::uint64_t paths = 0;
  std::uint64_t blobs = 0;
  std::uint64_t raw_bytes = 0;    // sum of blob sizes
  std::uint64_t stored_bytes = 0; // sum of stored (compressed) sizes
  std::uint64_t events = 0;
  std::uint64_t file_bytes = 0; // size of store.db (+ WAL)
};

// The snapshot store: a SQLite database (WAL) of content-addressed blobs,
// snapshots and events. Not thread-safe; one per thread.
class Store {
public:
  enum class Repair { no, yes };

  // Opens or creates the store file (mode 0600). With Repair::yes (the
  // daemon), a store that fails its integrity check is renamed to
  // "<file>.corrupt-<timestamp>" (never deleted), a new store is created and
  // a critical event recorded; moved_aside() then says where it went.
  static Result<Store> open(const std::filesystem::path &file,
                            Compression compression, Repair repair);

  // Opens a second connection to a store another connection (the
  // daemon's) has opened and checked: the file must exist with this build's
  // schema; nothing is created, checked or migrated. For reading only.
  static Result<Store> open_reader(const std::filesystem::path &file,
                                   Compression compression);
  // A store on a read-only file system (a disk remounted read-only: the day
  // its configs are most needed), read as a file nothing changes: what its
  // write-ahead log holds past the last checkpoint is not seen.
  static Result<Store> open_frozen(const std::filesystem::path &file,
                                   Compression compression);

  Store(Store &&) noexcept = default;
  // Finalizes this store's statements before closing its connection.
  Store &operator=(Store &&other) noexcept;
  ~Store() = default;

  const std::filesystem::path &file() const { return m_file; }
  const std::optional<std::filesystem::path> &moved_aside() const {
    return m_moved_aside;
  }
  void set_compression(Compression compression) { m_compression = compression; }
  // Returns the page cache SQLite holds for this connection (pages not in
  // use) to the allocator, and drops the cached keyframes; the next queries
  // read them again.
  void release_memory();
  // True when file() no longer names the database this Store has open: it
  // was deleted, or another file was renamed over it. SQLite would go on
  // writing to the unlinked inode, so the caller should reopen.
  bool file_replaced() const;
  // The database file this Store has open (device, inode), as it was when
  // opened: two Stores with the same identity read the same database.
  std::pair<dev_t, ino_t> identity() const { return {m_dev, m_ino}; }
  // Starts a read transaction: everything read until end_reading() sees
  // the store as it was at the first read, whatever other connections
  // commit meanwhile. For a connection that only reads.
  Result<void> begin_reading();
  void end_reading();
  // Makes the statements running on this connection fail (SQLITE_INTERRUPT)
  // soon, and those started before they all end. The one method another
  // thread may call, while the connection is open.
  void interrupt();
  // After file_replaced(), opens whatever file() now names (creating a new
  // store when nothing does; a damaged one is moved aside as in open()).
  // The history of the database that was open is never dropped: it is
  // copied back to file() when that was deleted, else kept as
  // "<file>.orphaned-<timestamp>". Returns where the history went. On error
  // (e.g. the disk is full) the old database stays open and in use.
  Result<std::filesystem::path> reopen_replaced();

  // Records a snapshot of `content` in one transaction (blob, row). Equal
  // content anywhere in the store is stored once.
  Result<SnapshotRecord> add_snapshot(const NewSnapshot &snapshot,
                                      std::string_view content);
  // The same with the content's SHA-256 (lowercase hex) already computed by
  // the caller, so that a capture hashes its bytes once. Debug builds check
  // that it matches. `similar` names a blob the content probably resembles
  // (the file's previous snapshot): a new blob may then be stored as a zstd
  // delta against that blob's keyframe (docs/ARCHITECTURE.md, "Blobs").
  Result<SnapshotRecord> add_snapshot(const NewSnapshot &snapshot,
                                      std::string_view content,
                                      std::string_view sha256,
                                      std::string_view similar = {});

  Result<std::optional<SnapshotRecord>> get(std::int64_t id);
  // The path's newest snapshot, the first list() shows for it.
  Result<std::optional<SnapshotRecord>> latest_for_path(std::string_view path);
  // The path's newest snapshot taken on this machine (imports left out:
  // another machine's history was never this file here), with only what a
  // capture compares against (id, sha256, size, mcp_digest, mode set; no
  // server list to decode): cheaper on every change.
  Result<std::optional<SnapshotRecord>>
  latest_brief_for_path(std::string_view path);
  // The newest snapshot that parsed and has servers, for a path or a host.
  Result<std::optional<SnapshotRecord>>
  latest_good(const std::optional<std::string> &host,
              const std::optional<std::string> &path);
  Result<std::vector<SnapshotRecord>> list(const ListFilter &filter);
  // Calls `visit` for each snapshot matching the filter's host, path and
  // since, in id order, reading rows one at a time (bounded memory for any
  // store size). ListFilter::limit and before_id are not used.
  Result<void>
  for_each(const ListFilter &filter,
           const std::function<Result<void>(const SnapshotRecord &)> &visit);
  // The number of snapshots list() would return without a limit.
  Result<std::uint64_t> count(const ListFilter &filter);
  // The snapshot of a path taken at exactly that time, if any.
  Result<std::optional<SnapshotRecord>> find_at(std::string_view path,
                                                Micros taken_at);
  // Opens a transaction spanning several calls (each call's own transaction
  // nests inside it). See sql::Durability for deferred.
  Result<sql::Transaction>
  transaction(sql::Durability durability = sql::Durability::full) {
    return sql::Transaction::begin(m_db, durability);
  }
  // Every path with at least one snapshot.
  Result<std::vector<std::string>> paths();
  // The paths of a host with at least one good snapshot (parsed, with
  // servers), in order.
  Result<std::vector<std::string>> good_paths(std::string_view host);
  // Every (host, path) with at least one good snapshot taken here (not
  // imported), in order.
  Result<std::vector<std::pair<std::string, std::string>>> good_files();
  // The number of snapshots of each path.
  Result<std::uint64_t> count_for_path(std::string_view path);

  // The bytes of a blob. With verify, the hash is checked (integrity_error
  // on mismatch).
  enum class Verify { no, yes };
  Result<std::string> read_blob(std::string_view sha256, Verify verify);
  // The content of a snapshot, hash verified.
  Result<std::string> content(const SnapshotRecord &snapshot);
  // integrity_error unless `bytes` hash to `sha256` (what read_blob's verify
  // checks, for bytes read without it).
  static Result<void> check_blob(std::string_view sha256,
                                 std::string_view bytes);

  Result<void> set_pinned(std::int64_t id, bool pinned);
  // The mode a snapshot's file was last seen with (a chmod alone is no new
  // snapshot: SPEC §5 records content changes only).
  Result<void> set_mode(std::int64_t id, std::uint32_t mode);

  // Deletes snapshots and, in the same transaction, blobs no longer used.
  Result<DeleteResult> delete_snapshots(const std::vector<std::int64_t> &ids);

  // What retention would delete for every path (or one path).
  Result<std::vector<std::pair<SnapshotRecord, std::string>>>
  plan_prune(const RetentionPolicy &policy,
             const std::optional<std::string> &path = std::nullopt);
  // The same as ids and rules only (what apply_retention() needs).
  Result<std::vector<RetentionDecision>>
  plan_prune_ids(const RetentionPolicy &policy,
                 const std::optional<std::string> &path = std::nullopt);
  // While paused, the max_age_days rule deletes nothing, whatever the
  // policy says: the daemon pauses it while the system clock stands far
  // ahead of where it was, as the times of new snapshots would then make
  // the history before them look old.
  void pause_age_rule(bool paused) { m_age_rule_paused = paused; }
  bool age_rule_paused() const { return m_age_rule_paused; }

  Result<EventRecord> add_event(const NewEvent &event);
  // The event log keeps its newest k_events_kept events: a file rewritten
  // with risky changes all day long must not grow the store without bound
  // (snapshots have retention; events had none). Run with retention.
  static constexpr std::uint64_t k_events_kept = 10'000;
  // Deletes all but the newest `keep` events; returns how many went.
  Result<std::uint64_t> trim_events(std::uint64_t keep = k_events_kept);
  // Whether an event of `kind` about `path` was recorded about snapshot
  // `snapshot_id` (its details' snapshot_id), or at or after `since`.
  Result<bool> has_event_since(std::string_view kind, std::string_view path,
                               std::int64_t snapshot_id, Micros since);
  // Newest first; after_id gives only newer events (for following).
  Result<std::vector<EventRecord>> events(std::optional<std::int64_t> limit,
                                          std::optional<std::int64_t> after_id);

  // Re-hashes every blob and runs PRAGMA integrity_check.
  Result<VerifyReport> verify();
  Result<StoreStats> stats();

  // The schema version this build writes (PRAGMA user_version).
  static constexpr int k_schema_version = 6;

private:
  static Result<Store> open_reader(const std::filesystem::path &file,
                                   Compression compression,
                                   sql::Database::Create mode);
  Store() = default;
  bool m_age_rule_paused = false;
  Result<void> prepare_schema();
  // PRAGMA user_version.
  Result<std::int64_t> schema_version();
  Result<SnapshotRecord> read_row(sql::Statement &stmt);
  Result<std::optional<SnapshotRecord>> one(sql::Statement &stmt);
  // The WHERE terms of a filter's host (?1), path (?2) and since (?3),
  // each starting with " AND ", and their values bound.
  static std::string filter_terms(const ListFilter &filter);
  static void bind_filter(sql::Statement &stmt, const ListFilter &filter);
  // The prepared statement for `sql`, kept for the connection's life (every
  // Store call would otherwise prepare its SQL again).
  Result<sql::CachedStatement> cached(const std::string &sql) {
    return m_statements.get(m_db, sql);
  }
  // Finalizes the cached statements, then closes the connection.
  void close_db();
  // Inserts the blob of `content` (absent from the store), as a delta
  // against the keyframe of `similar` when that pays.
  Result<void> insert_blob(std::string_view sha256, std::string_view content,
                           std::string_view similar);
  // A keyframe (a blob stored whole) kept in memory, hash verified.
  struct Keyframe {
    std::string sha256;
    std::string content;
    // content indexed as a zstd prefix, made on first use; it refers to
    // content (a list node's string stays in place).
    std::unique_ptr<ZstdPrefix> prefix;

    const ZstdPrefix &indexed() {
      if (!prefix) {
        prefix = std::make_unique<ZstdPrefix>(content);
      }
      return *prefix;
    }
  };

  // A keyframe from m_keyframes, or read and added there; valid until
  // m_keyframes next changes.
  Result<Keyframe *> keyframe(std::string_view sha256);
  void remember_keyframe(std::string sha256, std::string content);

  std::filesystem::path m_file;
  sql::Database m_db;
  // After m_db: destroyed (finalized) before the connection closes.
  sql::StatementCache m_statements;
  Compression m_compression = Compression::zstd;
  std::optional<std::filesystem::path> m_moved_aside;
  dev_t m_dev = 0;
  ino_t m_ino = 0;
  // The contents of the keyframes used last (most recent first), each
  // verified against its hash: deltas are written and read against them.
  std::list<Keyframe> m_keyframes;
};

} // namespace mcpbk
