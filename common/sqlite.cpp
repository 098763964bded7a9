#include <common/sqlite.hpp>

#include <sqlite3.h>

#include <string>
#include <utility>

namespace mcpbk::sql {

namespace {

constexpr int k_busy_timeout_ms = 5000;

// SQLITE_BUSY once busy_timeout has passed: another process (a second
// mcpbkctl working offline, the sqlite3 shell, a backup tool) kept the
// store's write lock all that time.
std::string busy_message(const char *sqlite_message) {
  return "the store is locked: another process has held its write lock for " +
         std::to_string(k_busy_timeout_ms / 1000) + " s (" + sqlite_message +
         "); try again";
}

} // namespace

Database::~Database() {
  close();
}

Database::Database(Database &&other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)),
      m_durability(std::exchange(other.m_durability, Durability::full)),
      m_fixed(std::exchange(other.m_fixed, {})) {}

Database &Database::operator=(Database &&other) noexcept {
  if (this != &other) {
    close();
    m_db = std::exchange(other.m_db, nullptr);
    m_durability = std::exchange(other.m_durability, Durability::full);
    m_fixed = std::exchange(other.m_fixed, {});
  }
  return *this;
}

void Database::close() {
  // A connection closed with live statements would linger as a zombie.
  for (const auto &[sql, stmt] : m_fixed) {
    sqlite3_finalize(stmt);
  }
  m_fixed.clear();
  if (m_db) {
    sqlite3_close_v2(m_db);
    m_db = nullptr;
  }
}

Result<void> Database::exec_fixed(const char *sql) {
  sqlite3_stmt *stmt = nullptr;
  for (const auto &[text, prepared] : m_fixed) {
    if (text == sql) {
      stmt = prepared;
      break;
    }
  }
  if (stmt == nullptr) {
    if (sqlite3_prepare_v2(m_db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return tl::unexpected<Error>(error("database error"));
    }
    m_fixed.emplace_back(sql, stmt);
  }
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    return tl::unexpected<Error>(error("database error"));
  }
  return {};
}

Result<Database> Database::open(const std::filesystem::path &file,
                                Create create) {
  sqlite3 *db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  std::string name = file.string();
  if (create == Create::yes) {
    flags |= SQLITE_OPEN_CREATE;
  } else if (create == Create::frozen) {
    flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    std::string escaped;
    for (const char c : name) {
      // A URI's path: '%', '?' and '#' in a file name are escaped.
      if (c == '%' || c == '?' || c == '#') {
        static constexpr char hex[] = "0123456789ABCDEF";
        escaped += '%';
        escaped += hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
        escaped += hex[static_cast<unsigned char>(c) & 0xF];
      } else {
        escaped += c;
      }
    }
    name = "file:" + escaped + "?immutable=1";
  }
  const int rc = sqlite3_open_v2(name.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return fail(ErrorCode::io_error,
                "cannot open " + file.string() + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, k_busy_timeout_ms);
  return Database(db);
}

Error Database::error(std::string_view what) const {
  const int code = m_db ? sqlite3_errcode(m_db) : SQLITE_MISUSE;
  const std::string msg = m_db ? sqlite3_errmsg(m_db) : "database closed";
  const int primary = code & 0xff;
  ErrorCode ec = ErrorCode::io_error;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    ec = ErrorCode::integrity_error;
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Error{ErrorCode::busy, busy_message(msg.c_str())};
  }
  return Error{ec, std::string(what) + ": " + msg};
}

Result<void> Database::exec(std::string_view sql) {
  char *errmsg = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(m_db, text.c_str(), nullptr, nullptr, &errmsg) !=
      SQLITE_OK) {
    Error e = error("database error");
    if (errmsg && e.code != ErrorCode::busy) {
      e.message = "database error: " + std::string(errmsg);
    }
    sqlite3_free(errmsg);
    return tl::unexpected<Error>(e);
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt *stmt = nullptr;
  if (sqlite3_prepare_v2(m_db, sql.data(), static_cast<int>(sql.size()), &stmt,
                         nullptr) != SQLITE_OK) {
    return tl::unexpected<Error>(error("cannot prepare statement"));
  }
  return Statement(m_db, stmt);
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(m_db);
}

int Database::changes() const {
  return sqlite3_changes(m_db);
}

Statement::~Statement() {
  if (m_stmt) {
    sqlite3_finalize(m_stmt);
  }
}

Statement::Statement(Statement &&other) noexcept
    : m_db(other.m_db), m_stmt(std::exchange(other.m_stmt, nullptr)) {}

Statement &Statement::operator=(Statement &&other) noexcept {
  if (this != &other) {
    if (m_stmt) {
      sqlite3_finalize(m_stmt);
    }
    m_db = other.m_db;
    m_stmt = std::exchange(other.m_stmt, nullptr);
  }
  return *this;
}

Statement &Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(m_stmt, index, value);
  return *this;
}

Statement &Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT,
                      SQLITE_UTF8);
  return *this;
}

Statement &Statement::bind_blob(int index, std::string_view bytes) {
  sqlite3_bind_blob64(m_stmt, index, bytes.empty() ? "" : bytes.data(),
                      bytes.size(), SQLITE_TRANSIENT);
  return *this;
}

Statement &Statement::bind_null(int index) {
  sqlite3_bind_null(m_stmt, index);
  return *this;
}

Statement &Statement::bind(int index, const std::optional<std::string> &text) {
  return text ? bind(index, std::string_view(*text)) : bind_null(index);
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  const int primary = rc & 0xff;
  ErrorCode ec = ErrorCode::io_error;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    ec = ErrorCode::integrity_error;
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return fail(ErrorCode::busy, busy_message(sqlite3_errmsg(m_db)));
  } else if (primary == SQLITE_FULL) {
    ec = ErrorCode::io_error;
  }
  return fail(ec, std::string("database error: ") + sqlite3_errmsg(m_db));
}

Result<void> Statement::run() {
  TRY_ASSIGN(const bool row, step());
  (void)row;
  reset();
  return {};
}

void Statement::reset() {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(m_stmt, column);
}

std::string Statement::column_text(int column) const {
  const auto *text = sqlite3_column_text(m_stmt, column);
  const int n = sqlite3_column_bytes(m_stmt, column);
  return text ? std::string(reinterpret_cast<const char *>(text),
                            static_cast<std::size_t>(n))
              : std::string();
}

std::string Statement::column_blob(int column) const {
  const void *data = sqlite3_column_blob(m_stmt, column);
  const int n = sqlite3_column_bytes(m_stmt, column);
  return data ? std::string(static_cast<const char *>(data),
                            static_cast<std::size_t>(n))
              : std::string();
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

CachedStatement::CachedStatement(Statement owned)
    : m_owned(std::move(owned)), m_stmt(&m_owned) {}

CachedStatement::~CachedStatement() {
  if (m_stmt != nullptr) {
    m_stmt->reset();
  }
  if (m_in_use != nullptr) {
    *m_in_use = false;
  }
}

CachedStatement::CachedStatement(CachedStatement &&other) noexcept
    : m_owned(std::move(other.m_owned)),
      m_stmt(other.m_stmt == &other.m_owned ? &m_owned : other.m_stmt),
      m_in_use(std::exchange(other.m_in_use, nullptr)) {
  other.m_stmt = nullptr;
}

Result<CachedStatement> StatementCache::get(Database &db,
                                            const std::string &sql) {
  auto it = m_entries.find(sql);
  if (it == m_entries.end()) {
    TRY_ASSIGN(auto stmt, db.prepare(sql));
    it = m_entries.emplace(sql, Entry{std::move(stmt), false}).first;
  } else if (it->second.in_use) {
    // Borrowed further up the stack (a visitor calling back into the
    // store): resetting it would break the outer loop.
    TRY_ASSIGN(auto stmt, db.prepare(sql));
    return CachedStatement(std::move(stmt));
  }
  it->second.in_use = true;
  return CachedStatement(&it->second.stmt, &it->second.in_use);
}

Result<void> Database::set_durability(Durability durability) {
  if (durability == m_durability) {
    return {};
  }
  // Not a kept statement: SQLite applies this pragma while preparing it,
  // and prepares pragma statements again at every run anyway.
  TRY(exec(durability == Durability::full ? "PRAGMA synchronous=FULL"
                                          : "PRAGMA synchronous=NORMAL"));
  m_durability = durability;
  return {};
}

Result<Transaction> Transaction::begin(Database &db, Durability durability) {
  if (sqlite3_get_autocommit(db.handle()) == 0) {
    // Inside an outer transaction: a savepoint commits or rolls back with it.
    TRY(db.exec_fixed("SAVEPOINT nested"));
    return Transaction(&db, true);
  }
  TRY(db.set_durability(durability));
  if (auto begun = db.exec_fixed("BEGIN IMMEDIATE"); !begun) {
    (void)db.set_durability(Durability::full);
    return tl::unexpected(begun.error());
  }
  return Transaction(&db, false);
}

// After an outermost transaction (rolled back first when `rollback`): a
// deferred one leaves the connection's durability full again (were that to
// fail, the next transaction sets it before it begins).
void Transaction::end(bool rollback) {
  Database *db = std::exchange(m_db, nullptr);
  if (rollback) {
    (void)db->exec_fixed("ROLLBACK");
  }
  (void)db->set_durability(Durability::full);
}

Transaction::~Transaction() {
  if (m_db == nullptr) {
    return;
  }
  if (m_nested) {
    (void)m_db->exec("ROLLBACK TO nested; RELEASE nested");
    return;
  }
  end(true);
}

Transaction::Transaction(Transaction &&other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_nested(other.m_nested) {}

Result<void> Transaction::commit() {
  if (m_nested) {
    return std::exchange(m_db, nullptr)->exec_fixed("RELEASE nested");
  }
  auto rc = m_db->exec_fixed("COMMIT");
  end(!rc);
  return rc;
}

} // namespace mcpbk::sql
