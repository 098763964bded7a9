#pragma once

#include <common/error.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace mcpbk::sql {

class Statement;

// When an outermost transaction's COMMIT returns (the connection is in WAL
// mode). full (synchronous=FULL, every transaction of the store unless asked
// otherwise): once the WAL is on disk. deferred (synchronous=NORMAL): without
// waiting for the disk; the transaction survives the process being killed,
// and a power cut before the next full commit or checkpoint can lose it but
// never the database's consistency. Only for records whose content is kept
// durably elsewhere.
enum class Durability { full, deferred };

// An owned SQLite connection.
class Database {
public:
  Database() = default;
  ~Database();
  Database(Database &&other) noexcept;
  Database &operator=(Database &&other) noexcept;
  Database(const Database &) = delete;
  Database &operator=(const Database &) = delete;

  // Opens (creating when asked) a database file. `frozen`: read only, as a
  // file nothing changes (SQLite's immutable=1: no locks, no -shm, no
  // write-ahead log), for a store on a read-only file system.
  enum class Create { no, yes, frozen };
  static Result<Database> open(const std::filesystem::path &file,
                               Create create);

  // Runs one or more statements without results.
  Result<void> exec(std::string_view sql);
  // Runs one statement without results, prepared on first use and kept for
  // the connection's life: for the few fixed statements run on every
  // transaction (BEGIN, SAVEPOINT, RELEASE, COMMIT). `sql` must be a string
  // literal: the cache is keyed by its address.
  Result<void> exec_fixed(const char *sql);
  // Prepares one statement.
  Result<Statement> prepare(std::string_view sql);

  // Sets synchronous for the transactions that follow; only outside a
  // transaction (SQLite refuses to change it inside one).
  Result<void> set_durability(Durability durability);
  Durability durability() const { return m_durability; }

  std::int64_t last_insert_rowid() const;
  int changes() const;
  sqlite3 *handle() const { return m_db; }
  bool is_open() const { return m_db != nullptr; }

  // An io_error (or integrity_error for corruption codes) carrying the
  // connection's last message.
  Error error(std::string_view what) const;

private:
  explicit Database(sqlite3 *db) : m_db(db) {}
  void close();
  sqlite3 *m_db = nullptr;
  Durability m_durability = Durability::full;
  // exec_fixed()'s statements, finalized before the connection closes.
  std::vector<std::pair<const char *, sqlite3_stmt *>> m_fixed;
};

// An owned prepared statement. Bind indexes start at 1, columns at 0.
class Statement {
public:
  Statement() = default;
  ~Statement();
  Statement(Statement &&other) noexcept;
  Statement &operator=(Statement &&other) noexcept;
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  Statement &bind(int index, std::int64_t value);
  Statement &bind(int index, std::string_view text);
  Statement &bind(int index, const std::string &text) {
    return bind(index, std::string_view(text));
  }
  Statement &bind(int index, const char *text) {
    return bind(index, std::string_view(text));
  }
  Statement &bind_blob(int index, std::string_view bytes);
  Statement &bind_null(int index);
  Statement &bind(int index, const std::optional<std::string> &text);

  // Advances: true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion, expecting no rows.
  Result<void> run();
  void reset();

  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;
  std::string column_blob(int column) const;
  bool column_is_null(int column) const;
  bool is_prepared() const { return m_stmt != nullptr; }

private:
  friend class Database;
  Statement(sqlite3 *db, sqlite3_stmt *stmt) : m_db(db), m_stmt(stmt) {}
  sqlite3 *m_db = nullptr;
  sqlite3_stmt *m_stmt = nullptr;
};

// A statement borrowed from a StatementCache (or, when the cached one is
// already borrowed, e.g. by an outer loop, a freshly prepared one it owns).
// Going out of scope resets the statement and clears its bindings, on every
// path including errors, so a cached statement never keeps a read
// transaction open or leaks a binding into the next use.
class CachedStatement {
public:
  ~CachedStatement();
  CachedStatement(CachedStatement &&other) noexcept;
  CachedStatement &operator=(CachedStatement &&) = delete;
  CachedStatement(const CachedStatement &) = delete;
  CachedStatement &operator=(const CachedStatement &) = delete;

  Statement &operator*() { return *m_stmt; }
  Statement *operator->() { return m_stmt; }

private:
  friend class StatementCache;
  CachedStatement(Statement *stmt, bool *in_use)
      : m_stmt(stmt), m_in_use(in_use) {}
  explicit CachedStatement(Statement owned);
  Statement m_owned;
  Statement *m_stmt = nullptr;
  bool *m_in_use = nullptr;
};

// Prepared statements by SQL text, prepared on first use and kept for the
// connection's life. Clear it before closing the connection. Movable; the
// statements stay where they are.
class StatementCache {
public:
  // The statement for `sql` on `db`, reset when the result goes.
  Result<CachedStatement> get(Database &db, const std::string &sql);
  void clear() { m_entries.clear(); }
  std::size_t size() const { return m_entries.size(); }

private:
  struct Entry {
    Statement stmt;
    bool in_use = false;
  };
  // Node-based: an Entry does not move when the map grows.
  std::unordered_map<std::string, Entry> m_entries;
};

// Begins a transaction (BEGIN IMMEDIATE), or a savepoint inside an open
// one; rolls back on destruction unless committed.
class Transaction {
public:
  // Begins a transaction, or a savepoint inside the current one (which
  // then keeps the outer transaction's durability). An outermost
  // transaction sets the connection's durability first, and a deferred one
  // puts it back to full when it ends.
  static Result<Transaction> begin(Database &db,
                                   Durability durability = Durability::full);
  ~Transaction();
  Transaction(Transaction &&other) noexcept;
  Transaction &operator=(Transaction &&) = delete;
  Transaction(const Transaction &) = delete;
  Transaction &operator=(const Transaction &) = delete;
  Result<void> commit();

private:
  Transaction(Database *db, bool nested) : m_db(db), m_nested(nested) {}
  void end(bool rollback);
  Database *m_db = nullptr;
  bool m_nested = false;
};

} // namespace mcpbk::sql
