#include <common/store.hpp>

#include <common/compress.hpp>
#include <common/hash.hpp>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <cerrno>
#include <fcntl.h>
#include <limits>
#include <map>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mcpbk {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Forward migrations: entry i takes user_version i to i + 1.
const char *const k_migrations[] = {
    R"sql(
CREATE TABLE blobs (
  sha256      TEXT PRIMARY KEY,
  size        INTEGER NOT NULL,
  compression TEXT NOT NULL,
  data        BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE snapshots (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  host      TEXT NOT NULL,
  path      TEXT NOT NULL,
  taken_at  INTEGER NOT NULL,
  sha256    TEXT NOT NULL REFERENCES blobs(sha256),
  size      INTEGER NOT NULL,
  mode      INTEGER NOT NULL,
  trigger   TEXT NOT NULL,
  risk      TEXT NOT NULL,
  parsed    INTEGER NOT NULL,
  servers   TEXT NOT NULL,
  mcp_sha256 TEXT NOT NULL,
  summary   TEXT NOT NULL,
  note      TEXT,
  pinned    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX snapshots_by_path ON snapshots(path, id);
CREATE INDEX snapshots_by_host ON snapshots(host, id);
CREATE INDEX snapshots_by_sha ON snapshots(sha256);
CREATE INDEX snapshots_by_time ON snapshots(taken_at);
CREATE TABLE events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  severity  TEXT NOT NULL,
  kind      TEXT NOT NULL,
  path      TEXT NOT NULL,
  message   TEXT NOT NULL,
  details   TEXT NOT NULL
);
)sql",
    R"sql(
ALTER TABLE snapshots ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX snapshots_by_path_time ON snapshots(path, taken_at);
)sql",
    // A blob with compression 'zstd-delta' is a zstd frame made with the
    // content of blob `base` (a keyframe: compression 'zstd' or 'none') as
    // its prefix.
    // snapshots.good is SnapshotRecord::good(), kept so that the retention
    // plan, run after every snapshot, reads its path's rows from one index.
    R"sql(
ALTER TABLE blobs ADD COLUMN base TEXT;
CREATE INDEX blobs_by_base ON blobs(base) WHERE base IS NOT NULL;
ALTER TABLE snapshots ADD COLUMN good INTEGER NOT NULL DEFAULT 0;
UPDATE snapshots SET good = (parsed <> 0 AND servers <> '[]');
DROP INDEX snapshots_by_path_time;
CREATE INDEX snapshots_by_path_time
  ON snapshots(path, taken_at, pinned, good);
)sql",
    // One index for a path's rows instead of two: every recorded change
    // inserts an entry in each index and its retention deletes one, so the
    // second cost two more pages written and synced per change. The index
    // finds a path's latest snapshot (path, id) and covers the retention
    // plan's columns; find_at() looks a time up through snapshots_by_time.
    R"sql(
DROP INDEX snapshots_by_path_time;
DROP INDEX snapshots_by_path;
CREATE INDEX snapshots_by_path
  ON snapshots(path, id, taken_at, pinned, good);
)sql",
    // The retention plan orders a path's snapshots by id, except imported
    // ones, which it places by time (common/retention.hpp), so it needs to
    // know which were imported. A partial index finds them: it holds only
    // imported rows, so a recorded change writes nothing to it, and on a
    // store that never imported it is empty (covering the trigger in
    // snapshots_by_path instead cost each change 4 % more instructions).
    R"sql(
CREATE INDEX snapshots_imported ON snapshots(path, id)
  WHERE trigger = 'import';
)sql",
    // Where a snapshot is listed, newest first, is (sort_at, id): for an
    // import, its own time; for one recorded here, its time or, if later,
    // the latest sort_at in the store when it was recorded (it is newer
    // than all it found there, whatever the clock said). sort_at so never
    // decreases with the ids of those recorded here, even after the clock
    // went back: without imports the order is the ids' (list's old order),
    // and an import is listed among the others by its time instead of
    // above all that were recorded before it. Both indexes hold imported
    // rows only: a recorded change writes nothing to them.
    R"sql(
ALTER TABLE snapshots ADD COLUMN sort_at INTEGER NOT NULL DEFAULT 0;
UPDATE snapshots SET sort_at = taken_at WHERE trigger = 'import';
UPDATE snapshots SET sort_at = running.latest
  FROM (SELECT id, max(taken_at) OVER (ORDER BY id) AS latest
          FROM snapshots) AS running
  WHERE snapshots.id = running.id AND snapshots.trigger <> 'import';
DROP INDEX snapshots_imported;
CREATE INDEX snapshots_imported ON snapshots(path, sort_at, id)
  WHERE trigger = 'import';
CREATE INDEX snapshots_imported_by_time ON snapshots(sort_at)
  WHERE trigger = 'import';
)sql",
};
static_assert(sizeof(k_migrations) / sizeof(k_migrations[0]) ==
              Store::k_schema_version);

constexpr const char *k_snapshot_columns =
    "id, host, path, taken_at, sha256, size, mode, trigger, risk, parsed, "
    "servers, mcp_sha256, summary, note, pinned, redacted";

std::string corrupt_suffix() {
  std::string t = format_iso8601(now_micros()); // 2026-11-21T10:00:00.123456Z
  std::string out;
  for (char c : t.substr(0, 19)) {
    if (c != '-' && c != ':') {
      out.push_back(c);
    }
  }
  return out + "Z";
}

Result<void> ensure_private_file(const fs::path &file) {
  const int fd =
      ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return fail_errno("cannot open " + file.string(), errno);
  }
  const int rc = ::fchmod(fd, 0600);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return fail_errno("cannot set mode of " + file.string(), err);
  }
  return {};
}

// Checks that a database file is usable: it opens, reads and passes
// quick_check. The message says why not.
Result<sql::Database> open_checked(const fs::path &file) {
  TRY_ASSIGN(auto db, sql::Database::open(file, sql::Database::Create::yes));
  TRY_ASSIGN(auto check, db.prepare("PRAGMA quick_check"));
  TRY_ASSIGN(const bool row, check.step());
  if (!row) {
    return fail(ErrorCode::integrity_error, "quick_check returned nothing");
  }
  const std::string verdict = check.column_text(0);
  if (verdict != "ok") {
    return fail(ErrorCode::integrity_error, "quick_check: " + verdict);
  }
  return db;
}

// Held while a process opens the store and brings its schema up to date:
// mcpbkd's first start and an `mcpbkctl status` typed at once each ran the
// same schema step ("table blobs already exists"), or, under SQLite's own
// locks, waited for each other until the busy timeout. An flock of the
// store's directory, not of the store: closing another descriptor of the
// store would drop the POSIX locks SQLite holds on it.
class OpeningLock {
public:
  explicit OpeningLock(const fs::path &dir)
      : m_fd(::open(dir.empty() ? "." : dir.c_str(),
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    while (m_fd >= 0 && ::flock(m_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  OpeningLock(const OpeningLock &) = delete;
  OpeningLock &operator=(const OpeningLock &) = delete;
  ~OpeningLock() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }

private:
  int m_fd;
};

} // namespace

Result<Store> Store::open(const fs::path &file, Compression compression,
                          Repair repair) {
  Store store;
  store.m_file = file;
  store.m_compression = compression;
  const OpeningLock opening(file.parent_path());
  TRY(ensure_private_file(file));
  auto db = open_checked(file);
  std::optional<Error> open_error;
  if (db) {
    store.m_db = std::move(*db);
    auto schema = store.prepare_schema();
    if (!schema) {
      open_error = schema.error();
    }
  } else {
    open_error = db.error();
  }
  if (open_error) {
    if (repair == Repair::no ||
        open_error->code != ErrorCode::integrity_error) {
      return tl::unexpected<Error>(*open_error);
    }
    store.close_db();
    const fs::path aside = file.string() + ".corrupt-" + corrupt_suffix();
    if (::rename(file.c_str(), aside.c_str()) != 0) {
      return fail_errno("store is damaged (" + open_error->message +
                            ") and cannot be moved aside",
                        errno);
    }
    for (const char *ext : {"-wal", "-shm"}) {
      const fs::path side = file.string() + ext;
      const fs::path side_aside = aside.string() + ext;
      (void)::rename(side.c_str(), side_aside.c_str());
    }
    store.m_moved_aside = aside;
    TRY(ensure_private_file(file));
    TRY_ASSIGN(store.m_db, open_checked(file));
    TRY(store.prepare_schema());
    TRY(store.add_event({Severity::critical, "store_moved_aside", file.string(),
                         "the store failed its integrity check (" +
                             open_error->message + ") and was moved to " +
                             aside.string() + "; a new store was started",
                         json{{"moved_to", aside.string()}}.dump(), 0}));
  }
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) {
    store.m_dev = st.st_dev;
    store.m_ino = st.st_ino;
  }
  return store;
}

Result<Store> Store::open_frozen(const fs::path &file,
                                 Compression compression) {
  return open_reader(file, compression, sql::Database::Create::frozen);
}

Result<Store> Store::open_reader(const fs::path &file,
                                 Compression compression) {
  return open_reader(file, compression, sql::Database::Create::no);
}

Result<Store> Store::open_reader(const fs::path &file, Compression compression,
                                 sql::Database::Create mode) {
  Store store;
  store.m_file = file;
  store.m_compression = compression;
  TRY_ASSIGN(store.m_db, sql::Database::open(file, mode));
  TRY(store.m_db.exec("PRAGMA foreign_keys=ON;"));
  TRY_ASSIGN(const std::int64_t version, store.schema_version());
  if (version != k_schema_version) {
    return fail(ErrorCode::conflict, file.string() + " has schema " +
                                         std::to_string(version) + ", not " +
                                         std::to_string(k_schema_version));
  }
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return fail_errno("cannot stat " + file.string(), errno);
  }
  store.m_dev = st.st_dev;
  store.m_ino = st.st_ino;
  return store;
}

Result<void> Store::begin_reading() {
  return m_db.exec("BEGIN DEFERRED");
}

void Store::interrupt() {
  sqlite3_interrupt(m_db.handle());
}

void Store::end_reading() {
  if (sqlite3_get_autocommit(m_db.handle()) == 0) {
    (void)m_db.exec("COMMIT");
  }
}

Result<fs::path> Store::reopen_replaced() {
  struct stat st {};
  const bool missing = ::stat(m_file.c_str(), &st) != 0 && errno == ENOENT;
  const fs::path keep = m_file.string() +
                        (missing ? ".recovered-" : ".orphaned-") +
                        corrupt_suffix();
  {
    TRY_ASSIGN(auto copy, m_db.prepare("VACUUM INTO ?1"));
    copy.bind(1, keep.string());
    TRY(copy.run());
  }
  close_db();
  // SQLite leaves the WAL and shm of a database whose file was deleted or
  // replaced. Opened with a new file, that WAL would be replayed into it:
  // move them aside (never deleted).
  const std::string stale = ".stale-" + corrupt_suffix();
  for (const char *ext : {"-wal", "-shm"}) {
    const std::string side = m_file.string() + ext;
    (void)::rename(side.c_str(), (side + stale).c_str());
  }
  fs::path history = keep;
  if (missing && ::stat(m_file.c_str(), &st) != 0 && errno == ENOENT &&
      ::rename(keep.c_str(), m_file.c_str()) == 0) {
    history = m_file;
  }
  TRY_ASSIGN(auto fresh, Store::open(m_file, m_compression, Repair::yes));
  *this = std::move(fresh);
  return history;
}

Store &Store::operator=(Store &&other) noexcept {
  if (this != &other) {
    close_db();
    m_file = std::move(other.m_file);
    m_db = std::move(other.m_db);
    m_statements = std::move(other.m_statements);
    m_compression = other.m_compression;
    m_moved_aside = std::move(other.m_moved_aside);
    m_dev = other.m_dev;
    m_ino = other.m_ino;
    m_keyframes = std::move(other.m_keyframes);
  }
  return *this;
}

void Store::close_db() {
  // A connection closed with statements left becomes a zombie that closes
  // (and may delete its WAL by name) only when they are finalized.
  m_statements.clear();
  m_db = sql::Database();
}

void Store::release_memory() {
  sqlite3_db_release_memory(m_db.handle());
  m_keyframes.clear();
}

bool Store::file_replaced() const {
  struct stat st {};
  if (::stat(m_file.c_str(), &st) != 0) {
    return errno == ENOENT;
  }
  return st.st_dev != m_dev || st.st_ino != m_ino;
}

Result<std::int64_t> Store::schema_version() {
  // Finished before returning: DROP INDEX fails while a statement is live.
  TRY_ASSIGN(auto stmt, m_db.prepare("PRAGMA user_version"));
  TRY(stmt.step());
  return stmt.column_int64(0);
}

Result<void> Store::prepare_schema() {
  TRY(m_db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                "PRAGMA foreign_keys=ON;"));
  TRY_ASSIGN(const std::int64_t version, schema_version());
  if (version > k_schema_version) {
    return fail(ErrorCode::conflict,
                m_file.string() + " was written by a newer mcpbk (schema " +
                    std::to_string(version) + ", this build knows " +
                    std::to_string(k_schema_version) + ")");
  }
  for (auto v = version; v < k_schema_version;) {
    // The version is read again under the write lock: another process
    // opening the new store at the same moment (mcpbkd's first start and
    // an `mcpbkctl status` typed at once) may have run this step already,
    // and running it twice failed ("table blobs already exists").
    TRY_ASSIGN(auto tx, sql::Transaction::begin(m_db));
    TRY_ASSIGN(v, schema_version());
    if (v >= k_schema_version) {
      TRY(tx.commit());
      break;
    }
    TRY(m_db.exec(k_migrations[v]));
    TRY(m_db.exec("PRAGMA user_version = " + std::to_string(v + 1)));
    TRY(tx.commit());
    ++v;
  }
  return {};
}

Result<SnapshotRecord> Store::read_row(sql::Statement &stmt) {
  SnapshotRecord r;
  r.id = stmt.column_int64(0);
  r.host = stmt.column_text(1);
  r.path = stmt.column_text(2);
  r.taken_at = stmt.column_int64(3);
  r.sha256 = stmt.column_text(4);
  r.size = static_cast<std::uint64_t>(stmt.column_int64(5));
  r.mode = static_cast<std::uint32_t>(stmt.column_int64(6));
  r.trigger = snapshot_trigger_from_string(stmt.column_text(7))
                  .value_or(SnapshotTrigger::change);
  r.risk = risk_from_string(stmt.column_text(8)).value_or(Risk::low);
  r.parsed = stmt.column_int64(9) != 0;
  const auto servers = json::parse(stmt.column_text(10), nullptr, false);
  if (servers.is_array()) {
    for (const auto &s : servers) {
      if (s.is_string()) {
        r.servers.push_back(s.get<std::string>());
      }
    }
  }
  r.mcp_digest = stmt.column_text(11);
  r.summary = stmt.column_text(12);
  if (!stmt.column_is_null(13)) {
    r.note = stmt.column_text(13);
  }
  r.pinned = stmt.column_int64(14) != 0;
  r.redacted = stmt.column_int64(15) != 0;
  return r;
}

Result<std::optional<SnapshotRecord>> Store::one(sql::Statement &stmt) {
  TRY_ASSIGN(const bool row, stmt.step());
  if (!row) {
    return std::optional<SnapshotRecord>{};
  }
  TRY_ASSIGN(auto record, read_row(stmt));
  return std::optional<SnapshotRecord>{std::move(record)};
}

// Keyframes kept in memory: enough for the few files that change together,
// bounded in bytes (a 16 MiB file is the largest the daemon reads).
constexpr std::size_t k_keyframes_kept = 4;
constexpr std::size_t k_keyframe_bytes_kept = 32 << 20;
// The most deltas made against one keyframe.
constexpr std::int64_t k_deltas_per_keyframe = 32;

void Store::remember_keyframe(std::string sha256, std::string content) {
  for (auto it = m_keyframes.begin(); it != m_keyframes.end(); ++it) {
    if (it->sha256 == sha256) {
      m_keyframes.erase(it);
      break;
    }
  }
  m_keyframes.push_front({std::move(sha256), std::move(content), nullptr});
  std::size_t bytes = 0;
  std::size_t kept = 0;
  for (auto it = m_keyframes.begin(); it != m_keyframes.end(); ++it) {
    bytes += it->content.size();
    if (++kept > k_keyframes_kept ||
        (kept > 1 && bytes > k_keyframe_bytes_kept)) {
      m_keyframes.erase(it, m_keyframes.end());
      break;
    }
  }
}

Result<Store::Keyframe *> Store::keyframe(std::string_view sha256) {
  for (auto it = m_keyframes.begin(); it != m_keyframes.end(); ++it) {
    if (it->sha256 == sha256) {
      m_keyframes.splice(m_keyframes.begin(), m_keyframes, it);
      return &m_keyframes.front();
    }
  }
  // read_blob() refuses a delta as a base, so this cannot recurse further.
  TRY_ASSIGN(auto content, read_blob(sha256, Verify::yes));
  remember_keyframe(std::string(sha256), std::move(content));
  return &m_keyframes.front();
}

Result<void> Store::insert_blob(std::string_view sha256,
                                std::string_view content,
                                std::string_view similar) {
  TRY_ASSIGN(auto insert,
             cached("INSERT INTO blobs(sha256, size, compression, data, "
                    "base) VALUES (?1, ?2, ?3, ?4, ?5)"));
  insert->bind(1, sha256).bind(2, static_cast<std::int64_t>(content.size()));
  if (m_compression == Compression::none) {
    insert->bind(3, std::string_view("none")).bind_blob(4, content);
    return insert->run();
  }
  // A delta is made against the keyframe of the similar blob (the blob
  // itself when it is whole), so that reading any blob decompresses at most
  // two frames. It is kept when it is at most half the keyframe's own stored
  // size; a content that drifted further becomes the next keyframe, and so
  // does every content after k_deltas_per_keyframe deltas: a damaged
  // keyframe can cost no more versions than that.
  std::string keyframe_sha;
  std::int64_t keyframe_stored = 0;
  if (!similar.empty() && similar != sha256) {
    TRY_ASSIGN(auto row,
               cached("SELECT k.sha256, length(k.data), (SELECT count(*) "
                      "FROM blobs d WHERE d.base = k.sha256) FROM blobs b "
                      "JOIN blobs k ON k.sha256 = coalesce(b.base, b.sha256) "
                      "WHERE b.sha256 = ?1 AND k.base IS NULL"));
    row->bind(1, similar);
    TRY_ASSIGN(const bool found, row->step());
    if (found && row->column_int64(2) < k_deltas_per_keyframe) {
      keyframe_sha = row->column_text(0);
      keyframe_stored = row->column_int64(1);
    }
  }
  if (!keyframe_sha.empty()) {
    // A damaged keyframe only costs the delta: the content is stored whole.
    auto base = keyframe(keyframe_sha);
    if (base &&
        (*base)->content.size() + content.size() <= k_max_prefixed_bytes) {
      // A keyframe usually serves the next deltas too: it is indexed once
      // for all of them.
      std::string delta = zstd_compress(content, (*base)->indexed());
      if (static_cast<std::int64_t>(delta.size()) <= keyframe_stored / 2) {
        insert->bind(3, std::string_view("zstd-delta"))
            .bind_blob(4, delta)
            .bind(5, keyframe_sha);
        return insert->run();
      }
    }
  }
  insert->bind(3, std::string_view("zstd"))
      .bind_blob(4, zstd_compress(content));
  TRY(insert->run());
  remember_keyframe(std::string(sha256), std::string(content));
  return {};
}

Result<SnapshotRecord> Store::add_snapshot(const NewSnapshot &s,
                                           std::string_view content) {
  return add_snapshot(s, content, sha256_hex(content));
}

Result<SnapshotRecord> Store::add_snapshot(const NewSnapshot &s,
                                           std::string_view content,
                                           std::string_view sha256,
                                           std::string_view similar) {
#ifndef NDEBUG
  MCPBK_ASSERT(sha256 == sha256_hex(content));
#endif
  const std::string sha(sha256);
  TRY_ASSIGN(auto tx, sql::Transaction::begin(m_db));
  bool have_blob = false;
  {
    TRY_ASSIGN(auto exists, cached("SELECT 1 FROM blobs WHERE sha256 = ?1"));
    exists->bind(1, sha);
    TRY_ASSIGN(have_blob, exists->step());
  }
  if (!have_blob) {
    TRY(insert_blob(sha, content, similar));
  }
  json servers = s.servers;
  TRY_ASSIGN(auto insert,
             cached("INSERT INTO snapshots(host, path, taken_at, "
                    "sha256, size, mode, trigger, risk, parsed, "
                    "servers, mcp_sha256, summary, note, pinned, "
                    "redacted, good, sort_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                    "CASE WHEN ?7 = 'import' THEN ?3 ELSE max(?3, "
                    "coalesce((SELECT sort_at FROM snapshots WHERE trigger "
                    "<> 'import' ORDER BY id DESC LIMIT 1), ?3), "
                    "coalesce((SELECT max(sort_at) FROM snapshots WHERE "
                    "trigger = 'import'), ?3)) END)"));
  insert->bind(1, s.host)
      .bind(2, s.path)
      .bind(3, s.taken_at)
      .bind(4, sha)
      .bind(5, static_cast<std::int64_t>(content.size()))
      .bind(6, static_cast<std::int64_t>(s.mode))
      .bind(7, std::string_view(to_string(s.trigger)))
      .bind(8, std::string_view(to_string(s.risk)))
      .bind(9, std::int64_t{s.parsed ? 1 : 0})
      .bind(10, servers.dump())
      .bind(11, s.mcp_digest)
      .bind(12, s.summary)
      .bind(13, s.note)
      .bind(14, std::int64_t{s.pinned ? 1 : 0})
      .bind(15, std::int64_t{s.redacted ? 1 : 0})
      .bind(16, std::int64_t{s.parsed && !s.servers.empty() ? 1 : 0});
  TRY(insert->run());
  const std::int64_t id = m_db.last_insert_rowid();
  TRY(tx.commit());

  SnapshotRecord r;
  r.id = id;
  r.host = s.host;
  r.path = s.path;
  r.taken_at = s.taken_at;
  r.sha256 = sha;
  r.size = content.size();
  r.mode = s.mode;
  r.trigger = s.trigger;
  r.risk = s.risk;
  r.parsed = s.parsed;
  r.servers = s.servers;
  r.mcp_digest = s.mcp_digest;
  r.summary = s.summary;
  r.note = s.note;
  r.pinned = s.pinned;
  r.redacted = s.redacted;
  return r;
}

Result<std::optional<SnapshotRecord>> Store::get(std::int64_t id) {
  TRY_ASSIGN(auto stmt, cached(std::string("SELECT ") + k_snapshot_columns +
                               " FROM snapshots WHERE id = ?1"));
  stmt->bind(1, id);
  return one(*stmt);
}

namespace {

// A query for rows matching `terms` (SQL ANDed to the WHERE clause) in
// list order, newest first: (sort_at, id) descending. Those recorded here
// come by id, as their sort_at never decreases with it, and the imported
// ones through one of their own indexes (by path when `terms` name one,
// else by time), so that `limit` rows cost about that many reads, not a
// sort of the whole store.
enum class Imports { of_one_path, any };
std::string newest_first(std::string_view columns, std::string_view terms,
                         std::string_view limit, Imports imports) {
  const std::string part =
      "SELECT " + std::string(columns) + ", sort_at FROM snapshots ";
  const std::string index = imports == Imports::of_one_path
                                ? "snapshots_imported"
                                : "snapshots_imported_by_time";
  return "SELECT " + std::string(columns) + " FROM (SELECT * FROM (" + part +
         "WHERE trigger <> 'import'" + std::string(terms) +
         " ORDER BY id DESC" + std::string(limit) +
         ") UNION ALL SELECT * FROM (" + part + "INDEXED BY " + index +
         " WHERE trigger = 'import'" + std::string(terms) +
         " ORDER BY sort_at DESC, id DESC" + std::string(limit) +
         ")) ORDER BY sort_at DESC, id DESC" + std::string(limit);
}

} // namespace

Result<std::optional<SnapshotRecord>>
Store::latest_for_path(std::string_view path) {
  TRY_ASSIGN(auto stmt,
             cached(newest_first(k_snapshot_columns, " AND path = ?1",
                                 " LIMIT 1", Imports::of_one_path)));
  stmt->bind(1, path);
  return one(*stmt);
}

Result<std::optional<SnapshotRecord>>
Store::latest_brief_for_path(std::string_view path) {
  // Before every capture: what was last seen on this machine, which a new
  // version is compared with. An imported snapshot was never this file
  // here (another machine's history, often dated later): a change rated
  // against it was "critical +local -fs -github" on a new machine.
  TRY_ASSIGN(auto stmt,
             cached("SELECT id, sha256, mcp_sha256, size, mode FROM snapshots "
                    "WHERE path = ?1 AND trigger <> 'import' ORDER BY id "
                    "DESC LIMIT 1"));
  stmt->bind(1, path);
  const auto brief = [path](sql::Statement &found) {
    SnapshotRecord r;
    r.id = found.column_int64(0);
    r.path = std::string(path);
    r.sha256 = found.column_text(1);
    r.mcp_digest = found.column_text(2);
    r.size = static_cast<std::uint64_t>(found.column_int64(3));
    r.mode = static_cast<std::uint32_t>(found.column_int64(4));
    return std::optional<SnapshotRecord>{std::move(r)};
  };
  TRY_ASSIGN(const bool row, stmt->step());
  if (!row) {
    return std::optional<SnapshotRecord>{};
  }
  return brief(*stmt);
}

Result<std::optional<SnapshotRecord>>
Store::latest_good(const std::optional<std::string> &host,
                   const std::optional<std::string> &path) {
  // This machine's own history first: another machine's servers, imported,
  // are not what this file last held ("parseable again ... against #2:
  // +mine -fromA"). Then one whose secrets a redacted bundle did not
  // replace: it would put placeholders into the host's file.
  for (const char *redacted :
       {" AND trigger <> 'import'", " AND redacted = 0", ""}) {
    TRY_ASSIGN(auto stmt,
               cached(newest_first(k_snapshot_columns,
                                   " AND parsed = 1 AND servers <> '[]' AND "
                                   "(?1 IS NULL OR host = ?1) AND (?2 IS NULL "
                                   "OR path = ?2)" +
                                       std::string(redacted),
                                   " LIMIT 1", Imports::any)));
    stmt->bind(1, host).bind(2, path);
    TRY_ASSIGN(auto found, one(*stmt));
    if (found) {
      return found;
    }
  }
  return std::optional<SnapshotRecord>{};
}

std::string Store::filter_terms(const ListFilter &f) {
  std::string terms;
  if (f.host) {
    terms += " AND host = ?1";
  }
  if (f.path) {
    terms += " AND path = ?2";
  }
  if (f.since) {
    terms += " AND taken_at >= ?3";
  }
  return terms;
}

void Store::bind_filter(sql::Statement &stmt, const ListFilter &f) {
  if (f.host) {
    stmt.bind(1, *f.host);
  }
  if (f.path) {
    stmt.bind(2, *f.path);
  }
  if (f.since) {
    stmt.bind(3, *f.since);
  }
}

Result<std::vector<SnapshotRecord>> Store::list(const ListFilter &f) {
  std::string terms = filter_terms(f);
  // The page after snapshot before_id: what comes after it in list order.
  // If it has been deleted since, the one recorded after it stands in
  // (retention keeps the last recorded): imports listed between the two
  // may then come again, but none is left out.
  Micros cursor = 0;
  if (f.before_id) {
    TRY_ASSIGN(
        auto at,
        cached("SELECT sort_at FROM (SELECT 0 AS k, sort_at FROM snapshots "
               "WHERE id = ?1 UNION ALL SELECT * FROM (SELECT 1, sort_at "
               "FROM snapshots WHERE id > ?1 AND trigger <> 'import' ORDER "
               "BY id LIMIT 1) UNION ALL SELECT * FROM (SELECT 2, sort_at "
               "FROM snapshots WHERE id < ?1 AND trigger <> 'import' ORDER "
               "BY id DESC LIMIT 1)) ORDER BY k LIMIT 1"));
    at->bind(1, *f.before_id);
    TRY_ASSIGN(const bool row, at->step());
    cursor = row ? at->column_int64(0) : std::numeric_limits<Micros>::min();
    terms += " AND (sort_at < ?4 OR (sort_at = ?4 AND id < ?6))";
  }
  TRY_ASSIGN(
      auto stmt,
      cached(newest_first(k_snapshot_columns, terms, f.limit ? " LIMIT ?5" : "",
                          f.path ? Imports::of_one_path : Imports::any)));
  bind_filter(*stmt, f);
  if (f.before_id) {
    stmt->bind(4, cursor).bind(6, *f.before_id);
  }
  if (f.limit) {
    stmt->bind(5, *f.limit);
  }
  std::vector<SnapshotRecord> out;
  for (;;) {
    TRY_ASSIGN(const bool row, stmt->step());
    if (!row) {
      break;
    }
    TRY_ASSIGN(auto r, read_row(*stmt));
    out.push_back(std::move(r));
  }
  return out;
}

Result<void> Store::for_each(
    const ListFilter &f,
    const std::function<Result<void>(const SnapshotRecord &)> &visit) {
  TRY_ASSIGN(auto stmt, cached(std::string("SELECT ") + k_snapshot_columns +
                               " FROM snapshots WHERE 1" + filter_terms(f) +
                               " ORDER BY id"));
  bind_filter(*stmt, f);
  for (;;) {
    TRY_ASSIGN(const bool row, stmt->step());
    if (!row) {
      break;
    }
    TRY_ASSIGN(const auto r, read_row(*stmt));
    TRY(visit(r));
  }
  return {};
}

Result<std::uint64_t> Store::count(const ListFilter &f) {
  TRY_ASSIGN(auto stmt, cached("SELECT count(*) FROM snapshots WHERE 1" +
                               filter_terms(f)));
  bind_filter(*stmt, f);
  TRY(stmt->step());
  return static_cast<std::uint64_t>(stmt->column_int64(0));
}

Result<std::optional<SnapshotRecord>> Store::find_at(std::string_view path,
                                                     Micros taken_at) {
  TRY_ASSIGN(auto stmt, cached(std::string("SELECT ") + k_snapshot_columns +
                               " FROM snapshots INDEXED BY snapshots_by_time "
                               "WHERE path = ?1 AND taken_at = ?2 "
                               "ORDER BY id LIMIT 1"));
  stmt->bind(1, path).bind(2, taken_at);
  return one(*stmt);
}

namespace {

// The first column of every row a statement gives.
Result<std::vector<std::string>> first_column_texts(sql::Statement &stmt) {
  std::vector<std::string> out;
  for (;;) {
    TRY_ASSIGN(const bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(stmt.column_text(0));
  }
  return out;
}

} // namespace

Result<std::vector<std::string>> Store::paths() {
  TRY_ASSIGN(auto stmt,
             cached("SELECT DISTINCT path FROM snapshots ORDER BY path"));
  return first_column_texts(*stmt);
}

Result<std::vector<std::pair<std::string, std::string>>> Store::good_files() {
  TRY_ASSIGN(auto stmt,
             cached("SELECT DISTINCT host, path FROM snapshots WHERE parsed = "
                    "1 AND servers <> '[]' AND trigger <> 'import' ORDER BY "
                    "host, path"));
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    TRY_ASSIGN(const bool row, stmt->step());
    if (!row) {
      break;
    }
    out.emplace_back(stmt->column_text(0), stmt->column_text(1));
  }
  return out;
}

Result<std::vector<std::string>> Store::good_paths(std::string_view host) {
  TRY_ASSIGN(auto stmt,
             cached("SELECT DISTINCT path FROM snapshots WHERE host = ?1 AND "
                    "parsed = 1 AND servers <> '[]' ORDER BY path"));
  stmt->bind(1, host);
  return first_column_texts(*stmt);
}

Result<std::uint64_t> Store::count_for_path(std::string_view path) {
  TRY_ASSIGN(auto stmt,
             cached("SELECT count(*) FROM snapshots WHERE path = ?1"));
  stmt->bind(1, path);
  TRY(stmt->step());
  return static_cast<std::uint64_t>(stmt->column_int64(0));
}

Result<std::string> Store::read_blob(std::string_view sha256, Verify verify) {
  std::size_t size = 0;
  std::string compression;
  std::string data;
  std::string base;
  {
    TRY_ASSIGN(auto stmt, cached("SELECT size, compression, data, base FROM "
                                 "blobs WHERE sha256 = ?1"));
    stmt->bind(1, sha256);
    TRY_ASSIGN(const bool row, stmt->step());
    if (!row) {
      return fail(ErrorCode::integrity_error,
                  "blob " + std::string(sha256) + " is missing from the store");
    }
    size = static_cast<std::size_t>(stmt->column_int64(0));
    compression = stmt->column_text(1);
    data = stmt->column_blob(2);
    if (!stmt->column_is_null(3)) {
      base = stmt->column_text(3);
    }
  }
  if (compression != "zstd-delta" && !base.empty()) {
    return fail(ErrorCode::integrity_error, "blob " + std::string(sha256) +
                                                " names a base but is stored " +
                                                compression);
  }
  std::string bytes;
  if (compression == "zstd-delta") {
    if (base.empty()) {
      return fail(ErrorCode::integrity_error,
                  "blob " + std::string(sha256) + " is a delta without a base");
    }
    // Only keyframes are bases (insert_blob), so this reads one more frame
    // at most; a delta named as a base fails there.
    {
      TRY_ASSIGN(auto base_row,
                 cached("SELECT base IS NULL FROM blobs WHERE sha256 = ?1"));
      base_row->bind(1, base);
      TRY_ASSIGN(const bool found, base_row->step());
      if (found && base_row->column_int64(0) == 0) {
        return fail(ErrorCode::integrity_error, "blob " + std::string(sha256) +
                                                    ": its base " + base +
                                                    " is itself a delta");
      }
    }
    auto base_frame = keyframe(base);
    if (!base_frame) {
      return fail(ErrorCode::integrity_error,
                  "blob " + std::string(sha256) + ": its base " + base +
                      " cannot be read (" + base_frame.error().message + ")");
    }
    auto plain = zstd_decompress(data, size, (*base_frame)->content);
    if (!plain) {
      return fail(ErrorCode::integrity_error,
                  "blob " + std::string(sha256) + ": " + plain.error().message);
    }
    bytes = std::move(*plain);
  } else if (compression == "zstd") {
    auto plain = zstd_decompress(data, size);
    if (!plain) {
      return fail(ErrorCode::integrity_error,
                  "blob " + std::string(sha256) + ": " + plain.error().message);
    }
    bytes = std::move(*plain);
  } else if (compression == "none") {
    bytes = std::move(data);
  } else {
    return fail(ErrorCode::integrity_error, "blob " + std::string(sha256) +
                                                ": unknown compression \"" +
                                                compression + "\"");
  }
  if (verify == Verify::yes) {
    TRY(check_blob(sha256, bytes));
  }
  return bytes;
}

Result<void> Store::check_blob(std::string_view sha256,
                               std::string_view bytes) {
  if (sha256_hex(bytes) != sha256) {
    return fail(ErrorCode::integrity_error,
                "blob " + std::string(sha256) +
                    " does not match its hash: the store is damaged");
  }
  return {};
}

Result<std::string> Store::content(const SnapshotRecord &snapshot) {
  return read_blob(snapshot.sha256, Verify::yes);
}

Result<void> Store::set_pinned(std::int64_t id, bool pinned) {
  TRY_ASSIGN(auto stmt,
             cached("UPDATE snapshots SET pinned = ?1 WHERE id = ?2"));
  stmt->bind(1, std::int64_t{pinned ? 1 : 0}).bind(2, id);
  TRY(stmt->run());
  if (m_db.changes() == 0) {
    return fail(ErrorCode::not_found,
                "no snapshot with id " + std::to_string(id));
  }
  return {};
}

Result<void> Store::set_mode(std::int64_t id, std::uint32_t mode) {
  TRY_ASSIGN(auto stmt, cached("UPDATE snapshots SET mode = ?1 WHERE id = ?2"));
  stmt->bind(1, std::int64_t{mode}).bind(2, id);
  return stmt->run();
}

Result<DeleteResult>
Store::delete_snapshots(const std::vector<std::int64_t> &ids) {
  DeleteResult result;
  if (ids.empty()) {
    return result;
  }
  TRY_ASSIGN(auto tx, sql::Transaction::begin(m_db));
  TRY_ASSIGN(auto sha_of, cached("SELECT sha256 FROM snapshots WHERE id = ?1"));
  TRY_ASSIGN(auto del, cached("DELETE FROM snapshots WHERE id = ?1"));
  std::vector<std::string> candidates;
  for (const auto id : ids) {
    sha_of->bind(1, id);
    TRY_ASSIGN(const bool row, sha_of->step());
    if (row) {
      candidates.push_back(sha_of->column_text(0));
    }
    sha_of->reset();
    del->bind(1, id);
    TRY(del->run());
    result.snapshots += static_cast<std::uint64_t>(m_db.changes());
  }
  // A blob goes when no snapshot uses it and no delta is made against it;
  // deleting a delta may free its keyframe in turn.
  TRY_ASSIGN(auto used,
             cached("SELECT 1 FROM snapshots WHERE sha256 = ?1 LIMIT 1"));
  TRY_ASSIGN(auto is_base,
             cached("SELECT 1 FROM blobs WHERE base = ?1 LIMIT 1"));
  TRY_ASSIGN(auto blob_row,
             cached("SELECT length(data), base FROM blobs WHERE sha256 = ?1"));
  TRY_ASSIGN(auto del_blob, cached("DELETE FROM blobs WHERE sha256 = ?1"));
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());
  while (!candidates.empty()) {
    const std::string sha = std::move(candidates.back());
    candidates.pop_back();
    used->bind(1, sha);
    TRY_ASSIGN(const bool in_use, used->step());
    used->reset();
    if (in_use) {
      continue;
    }
    is_base->bind(1, sha);
    TRY_ASSIGN(const bool needed, is_base->step());
    is_base->reset();
    if (needed) {
      continue;
    }
    blob_row->bind(1, sha);
    TRY_ASSIGN(const bool have, blob_row->step());
    const auto bytes = have ? blob_row->column_int64(0) : 0;
    std::string base =
        have && !blob_row->column_is_null(1) ? blob_row->column_text(1) : "";
    blob_row->reset();
    del_blob->bind(1, sha);
    TRY(del_blob->run());
    if (m_db.changes() > 0) {
      ++result.blobs;
      result.bytes_freed += static_cast<std::uint64_t>(bytes);
    }
    if (!base.empty()) {
      candidates.push_back(std::move(base));
    }
  }
  TRY(tx.commit());
  return result;
}

Result<std::vector<RetentionDecision>>
Store::plan_prune_ids(const RetentionPolicy &asked,
                      const std::optional<std::string> &path) {
  RetentionPolicy policy = asked;
  if (m_age_rule_paused) {
    policy.max_age_days = 0;
  }
  std::vector<RetentionDecision> out;
  if (!retention_deletes(policy)) {
    // Retention off: the plan is empty whatever the history holds, and
    // reading it would cost every change time in proportion to it.
    return out;
  }
  std::vector<std::string> targets;
  if (path) {
    targets.push_back(*path);
  } else {
    TRY_ASSIGN(targets, paths());
  }
  // Retention runs after every snapshot: the columns the plan needs come
  // from one index (snapshots_by_path covers them), with no record
  // building and no JSON. Where the path has imported snapshots (found in
  // their own index, empty on most stores), the plan also needs each row's
  // place in list order, read from the table.
  TRY_ASSIGN(auto any_imported,
             cached("SELECT 1 FROM snapshots WHERE path = ?1 AND trigger = "
                    "'import' LIMIT 1"));
  TRY_ASSIGN(auto recorded, cached("SELECT id, taken_at, pinned, good FROM "
                                   "snapshots WHERE path = ?1 ORDER BY id"));
  TRY_ASSIGN(auto mixed,
             cached("SELECT id, taken_at, pinned, good, trigger = 'import', "
                    "sort_at FROM snapshots WHERE path = ?1 ORDER BY id"));
  std::vector<RetentionItem> items;
  for (const auto &p : targets) {
    any_imported->reset();
    any_imported->bind(1, p);
    TRY_ASSIGN(const bool with_imports, any_imported->step());
    any_imported->reset();
    auto &stmt = with_imports ? mixed : recorded;
    stmt->reset();
    stmt->bind(1, p);
    items.clear();
    for (;;) {
      TRY_ASSIGN(const bool row, stmt->step());
      if (!row) {
        break;
      }
      RetentionItem item{stmt->column_int64(0), stmt->column_int64(1),
                         stmt->column_int64(2) != 0,
                         stmt->column_int64(3) != 0};
      if (with_imports) {
        item.imported = stmt->column_int64(4) != 0;
        item.sort_at = stmt->column_int64(5);
      }
      items.push_back(item);
    }
    for (auto &d : plan_retention(items, policy)) {
      out.push_back(std::move(d));
    }
  }
  return out;
}

Result<std::vector<std::pair<SnapshotRecord, std::string>>>
Store::plan_prune(const RetentionPolicy &policy,
                  const std::optional<std::string> &path) {
  TRY_ASSIGN(const auto decisions, plan_prune_ids(policy, path));
  std::vector<std::pair<SnapshotRecord, std::string>> out;
  for (const auto &d : decisions) {
    TRY_ASSIGN(auto record, get(d.id));
    if (record) {
      out.emplace_back(std::move(*record), d.rule);
    }
  }
  return out;
}

Result<std::uint64_t> Store::trim_events(std::uint64_t keep) {
  // One seek from the newest id; nothing to do (no write) while the log is
  // short.
  TRY_ASSIGN(auto stmt,
             cached("DELETE FROM events WHERE id <= (SELECT id FROM events "
                    "ORDER BY id DESC LIMIT 1 OFFSET ?1)"));
  stmt->bind(1, static_cast<std::int64_t>(keep));
  TRY(stmt->run());
  return static_cast<std::uint64_t>(m_db.changes());
}

Result<EventRecord> Store::add_event(const NewEvent &e) {
  TRY_ASSIGN(auto stmt,
             cached("INSERT INTO events(at, severity, kind, path, "
                    "message, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  const Micros at = e.at != 0 ? e.at : now_micros();
  stmt->bind(1, at)
      .bind(2, std::string_view(to_string(e.severity)))
      .bind(3, e.kind)
      .bind(4, e.path)
      .bind(5, e.message)
      .bind(6, e.details.empty() ? std::string("{}") : e.details);
  TRY(stmt->run());
  return EventRecord{m_db.last_insert_rowid(),
                     at,
                     e.severity,
                     e.kind,
                     e.path,
                     e.message,
                     e.details.empty() ? "{}" : e.details};
}

Result<bool> Store::has_event_since(std::string_view kind,
                                    std::string_view path,
                                    std::int64_t snapshot_id, Micros since) {
  // Run rarely (a watched file found missing at start): a scan of the
  // bounded event log.
  TRY_ASSIGN(auto stmt,
             cached("SELECT 1 FROM events WHERE kind = ?1 AND path = ?2 AND "
                    "(json_extract(details, '$.snapshot_id') = ?3 OR "
                    "at >= ?4) LIMIT 1"));
  stmt->bind(1, kind).bind(2, path).bind(3, snapshot_id).bind(4, since);
  return stmt->step();
}

Result<std::vector<EventRecord>>
Store::events(std::optional<std::int64_t> limit,
              std::optional<std::int64_t> after_id) {
  TRY_ASSIGN(auto stmt,
             cached("SELECT id, at, severity, kind, path, message, "
                    "details FROM events WHERE (?1 IS NULL OR id > ?1) "
                    "ORDER BY id DESC LIMIT ?2"));
  if (after_id) {
    stmt->bind(1, *after_id);
  }
  stmt->bind(2, limit.value_or(-1));
  std::vector<EventRecord> out;
  for (;;) {
    TRY_ASSIGN(const bool row, stmt->step());
    if (!row) {
      break;
    }
    EventRecord e;
    e.id = stmt->column_int64(0);
    e.at = stmt->column_int64(1);
    e.severity =
        severity_from_string(stmt->column_text(2)).value_or(Severity::info);
    e.kind = stmt->column_text(3);
    e.path = stmt->column_text(4);
    e.message = stmt->column_text(5);
    e.details = stmt->column_text(6);
    out.push_back(std::move(e));
  }
  return out;
}

Result<VerifyReport> Store::verify() {
  VerifyReport report;
  // Keyframes are read from the file again: a cached copy would hide damage
  // done to them since.
  m_keyframes.clear();
  {
    TRY_ASSIGN(auto check, m_db.prepare("PRAGMA integrity_check"));
    for (;;) {
      TRY_ASSIGN(const bool row, check.step());
      if (!row) {
        break;
      }
      const std::string line = check.column_text(0);
      if (line != "ok") {
        report.problems.push_back({"database: " + line});
      }
    }
  }
  {
    TRY_ASSIGN(auto blobs, m_db.prepare("SELECT sha256 FROM blobs"));
    std::vector<std::string> shas;
    for (;;) {
      TRY_ASSIGN(const bool row, blobs.step());
      if (!row) {
        break;
      }
      shas.push_back(blobs.column_text(0));
    }
    TRY_ASSIGN(auto users,
               m_db.prepare("SELECT id, path FROM snapshots WHERE sha256 = "
                            "?1 ORDER BY id"));
    for (const auto &sha : shas) {
      ++report.blobs_checked;
      auto bytes = read_blob(sha, Verify::yes);
      if (!bytes) {
        // The snapshots it holds, which is what a user looks up.
        std::string held;
        std::string path;
        users.reset();
        users.bind(1, sha);
        for (;;) {
          TRY_ASSIGN(const bool row, users.step());
          if (!row) {
            break;
          }
          held += (held.empty() ? "#" : ", #") +
                  std::to_string(users.column_int64(0));
          path = users.column_text(1);
        }
        report.problems.push_back(
            {bytes.error().message +
             (held.empty() ? std::string()
                           : " (snapshot " + held + " of " + path + ")")});
      }
    }
  }
  {
    TRY_ASSIGN(auto orphans,
               m_db.prepare("SELECT s.id, s.sha256 FROM snapshots s LEFT "
                            "JOIN blobs b ON b.sha256 = s.sha256 WHERE "
                            "b.sha256 IS NULL"));
    for (;;) {
      TRY_ASSIGN(const bool row, orphans.step());
      if (!row) {
        break;
      }
      report.problems.push_back(
          {"snapshot " + std::to_string(orphans.column_int64(0)) +
           ": its blob " + orphans.column_text(1) + " is missing"});
    }
    TRY_ASSIGN(auto count, m_db.prepare("SELECT count(*) FROM snapshots"));
    TRY(count.step());
    report.snapshots_checked =
        static_cast<std::uint64_t>(count.column_int64(0));
  }
  return report;
}

Result<StoreStats> Store::stats() {
  StoreStats s;
  TRY_ASSIGN(auto q,
             m_db.prepare("SELECT (SELECT count(*) FROM snapshots), (SELECT "
                          "count(DISTINCT path) FROM snapshots), (SELECT "
                          "count(*) FROM blobs), (SELECT coalesce(sum(size), "
                          "0) FROM blobs), (SELECT coalesce(sum(length(data)), "
                          "0) FROM blobs), (SELECT count(*) FROM events)"));
  TRY(q.step());
  s.snapshots = static_cast<std::uint64_t>(q.column_int64(0));
  s.paths = static_cast<std::uint64_t>(q.column_int64(1));
  s.blobs = static_cast<std::uint64_t>(q.column_int64(2));
  s.raw_bytes = static_cast<std::uint64_t>(q.column_int64(3));
  s.stored_bytes = static_cast<std::uint64_t>(q.column_int64(4));
  s.events = static_cast<std::uint64_t>(q.column_int64(5));
  for (const char *ext : {"", "-wal"}) {
    std::error_code ec;
    const auto n = fs::file_size(m_file.string() + ext, ec);
    if (!ec) {
      s.file_bytes += n;
    }
  }
  return s;
}

} // namespace mcpbk
