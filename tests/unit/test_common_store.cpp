#include <common/capture.hpp>
#include <common/compress.hpp>
#include <common/config.hpp>
#include <common/hash.hpp>
#include <common/sqlite.hpp>
#include <common/store.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <tests/unit/scratch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <sys/stat.h>
#include <thread>

using namespace mcpbk;
namespace fs = std::filesystem;

namespace {

NewSnapshot snap(std::string path, Micros at = 1'700'000'000'000'000) {
  NewSnapshot s;
  s.host = "cursor";
  s.path = std::move(path);
  s.taken_at = at;
  s.mode = 0644;
  s.parsed = true;
  s.servers = {"github"};
  s.mcp_digest = "d";
  s.summary = "initial: 1 servers";
  return s;
}

Store open_store(const fs::path &dir,
                 Compression compression = Compression::zstd) {
  auto store = Store::open(dir / "store.db", compression, Store::Repair::yes);
  REQUIRE(store);
  return std::move(*store);
}

} // namespace

TEST_CASE("Store::add_snapshot") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);

  SUBCASE("round trip is byte exact") {
    std::string binary;
    for (int i = 0; i < 256; ++i) {
      binary.push_back(static_cast<char>(i));
    }
    std::string big(3 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) {
      big[i] = static_cast<char>((i * 7919) % 251);
    }
    for (const std::string &bytes :
         {std::string(), std::string("{\"mcpServers\":{}}\n"), binary, big}) {
      auto rec = store.add_snapshot(snap("/p/" + sha256_hex(bytes)), bytes);
      REQUIRE(rec);
      CHECK(rec->sha256 == sha256_hex(bytes));
      CHECK(rec->size == bytes.size());
      auto got = store.get(rec->id);
      REQUIRE(got);
      REQUIRE(got->has_value());
      CHECK((*got)->path == rec->path);
      CHECK((*got)->mode == 0644);
      CHECK((*got)->servers == std::vector<std::string>{"github"});
      auto content = store.content(**got);
      REQUIRE(content);
      CHECK(*content == bytes);
    }
  }
  SUBCASE("uncompressed stores round trip too") {
    Store plain = open_store(test::scratch_dir(), Compression::none);
    auto rec = plain.add_snapshot(snap("/a"), "hello");
    REQUIRE(rec);
    CHECK(*plain.content(*rec) == "hello");
  }
  SUBCASE("equal content is stored once") {
    REQUIRE(store.add_snapshot(snap("/a"), "same bytes"));
    REQUIRE(store.add_snapshot(snap("/b"), "same bytes"));
    REQUIRE(store.add_snapshot(snap("/a"), "other"));
    auto stats = store.stats();
    REQUIRE(stats);
    CHECK(stats->snapshots == 3);
    CHECK(stats->blobs == 2);
    CHECK(stats->paths == 2);
  }
  SUBCASE("ids increase and are never reused") {
    auto a = store.add_snapshot(snap("/a"), "1");
    auto b = store.add_snapshot(snap("/a"), "2");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(b->id > a->id);
    REQUIRE(store.delete_snapshots({b->id}));
    auto c = store.add_snapshot(snap("/a"), "3");
    REQUIRE(c);
    CHECK(c->id > b->id);
  }
  SUBCASE("the store file is private") {
    struct stat st {};
    REQUIRE(::stat((dir / "store.db").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
}

TEST_CASE("Store::add_snapshot is one transaction") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  REQUIRE(store.add_snapshot(snap("/a"), "first"));
  // Make the snapshot insert fail after the blob insert succeeded: a trigger
  // on a second connection rejects every new snapshot row.
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec("CREATE TRIGGER no_more BEFORE INSERT ON snapshots "
                     "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"));
  }
  auto failed = store.add_snapshot(snap("/a"), "second, never recorded");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("disk on fire") != std::string::npos);
  auto stats = store.stats();
  REQUIRE(stats);
  CHECK(stats->snapshots == 1);
  CHECK(stats->blobs == 1); // the blob insert was rolled back too
  auto verify = store.verify();
  REQUIRE(verify);
  CHECK(verify->ok());
}

namespace {

// The synchronous level SQLite itself reports (1 NORMAL, 2 FULL).
std::int64_t synchronous_level(sql::Database &db) {
  auto stmt = db.prepare("PRAGMA synchronous");
  REQUIRE(stmt);
  auto row = stmt->step();
  REQUIRE(row);
  REQUIRE(*row);
  return stmt->column_int64(0);
}

} // namespace

TEST_CASE("A deferred transaction relaxes only its own commit") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir); // creates the schema, in WAL mode
  auto opened =
      sql::Database::open(dir / "store.db", sql::Database::Create::no);
  REQUIRE(opened);
  sql::Database &db = *opened;
  REQUIRE(db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                  "CREATE TABLE t (x INTEGER)"));
  CHECK(synchronous_level(db) == 2);
  {
    auto tx = sql::Transaction::begin(db, sql::Durability::deferred);
    REQUIRE(tx);
    CHECK(synchronous_level(db) == 1);
    CHECK(db.durability() == sql::Durability::deferred);
    REQUIRE(db.exec("INSERT INTO t VALUES (1)"));
    {
      // A nested one keeps the outer transaction's durability.
      auto nested = sql::Transaction::begin(db, sql::Durability::full);
      REQUIRE(nested);
      CHECK(synchronous_level(db) == 1);
      REQUIRE(db.exec("INSERT INTO t VALUES (2)"));
      REQUIRE(nested->commit());
    }
    REQUIRE(tx->commit());
  }
  CHECK(synchronous_level(db) == 2);
  CHECK(db.durability() == sql::Durability::full);
  {
    // Deferred a second time, then rolled back (dropped without commit):
    // full again too.
    auto tx = sql::Transaction::begin(db, sql::Durability::deferred);
    REQUIRE(tx);
    CHECK(synchronous_level(db) == 1);
    REQUIRE(db.exec("INSERT INTO t VALUES (3)"));
  }
  CHECK(synchronous_level(db) == 2);
  {
    // A full transaction nested in nothing stays full.
    auto tx = sql::Transaction::begin(db);
    REQUIRE(tx);
    CHECK(synchronous_level(db) == 2);
    REQUIRE(tx->commit());
  }
  // Committed rows are there for another connection; the rolled back is not.
  auto other = sql::Database::open(dir / "store.db", sql::Database::Create::no);
  REQUIRE(other);
  auto count = other->prepare("SELECT group_concat(x) FROM t");
  REQUIRE(count);
  REQUIRE(count->step());
  CHECK(count->column_text(0) == "1,2");
}

TEST_CASE("Store caches prepared statements") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  REQUIRE(store.add_snapshot(snap("/a", 1), "one"));
  REQUIRE(store.add_snapshot(snap("/a", 2), "two"));

  SUBCASE("a visitor may run the same query again") {
    ListFilter all;
    int outer = 0;
    REQUIRE(store.for_each(all, [&](const SnapshotRecord &) -> Result<void> {
      ++outer;
      TRY_ASSIGN(auto inner, store.list(all));
      CHECK(inner.size() == 2);
      int nested = 0;
      TRY(store.for_each(all, [&](const SnapshotRecord &) -> Result<void> {
        ++nested;
        return {};
      }));
      CHECK(nested == 2);
      return {};
    }));
    CHECK(outer == 2);
  }

  SUBCASE("a query that stopped early or failed leaves nothing bound") {
    // one() stops after the first row; the next call must start afresh.
    auto latest = store.latest_for_path("/a");
    REQUIRE(latest);
    REQUIRE(*latest);
    CHECK((*latest)->taken_at == 2);
    auto missing = store.read_blob(std::string(64, '0'), Store::Verify::yes);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("is missing from the store") !=
          std::string::npos);
    auto good = store.read_blob(sha256_hex("one"), Store::Verify::yes);
    REQUIRE(good);
    CHECK(*good == "one");
    // A failed insert (bound, stepped with an error) then a good one.
    {
      auto db =
          sql::Database::open(dir / "store.db", sql::Database::Create::no);
      REQUIRE(db);
      REQUIRE(db->exec("CREATE TRIGGER once BEFORE INSERT ON snapshots WHEN "
                       "NEW.path = '/refused' BEGIN SELECT RAISE(ABORT, "
                       "'refused'); END;"));
    }
    NewSnapshot refused = snap("/refused", 3);
    refused.note = "a note";
    REQUIRE_FALSE(store.add_snapshot(refused, "three"));
    auto third = store.add_snapshot(snap("/b", 4), "three");
    REQUIRE(third);
    auto row = store.get(third->id);
    REQUIRE(row);
    REQUIRE(*row);
    CHECK_FALSE((*row)->note); // not the refused one's binding
    CHECK((*row)->path == "/b");
  }

  SUBCASE("a moved store keeps working") {
    Store moved = std::move(store);
    CHECK(moved.count_for_path("/a").value_or(0) == 2);
    fs::create_directories(dir / "other");
    Store other = open_store(dir / "other");
    CHECK(other.count_for_path("/a").value_or(1) == 0);
    other = std::move(moved);
    CHECK(other.count_for_path("/a").value_or(0) == 2);
    REQUIRE(other.add_snapshot(snap("/a", 3), "three"));
    CHECK(other.count_for_path("/a").value_or(0) == 3);
  }
}

TEST_CASE("Store::add_snapshot with a precomputed hash") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  auto record = store.add_snapshot(snap("/a"), "bytes", sha256_hex("bytes"));
  REQUIRE(record);
  CHECK(record->sha256 == sha256_hex("bytes"));
  auto bytes = store.content(*record);
  REQUIRE(bytes);
  CHECK(*bytes == "bytes");
}

TEST_CASE("capture_bytes keeps the snapshot when retention fails") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  Config config = default_config();
  config.retention = {};
  config.retention.max_count = 1;
  const WatchTarget target =
      target_for("cursor", (dir / "mcp.json").string(), {});
  auto capture = [&](std::string_view bytes) {
    CaptureRequest request;
    request.always = true;
    return capture_bytes(store, target, bytes, 0644, request, config);
  };
  auto first = capture(R"({"mcpServers": {"a": {"command": "x"}}})");
  REQUIRE(first);
  CHECK(first->kind == CaptureOutcome::Kind::recorded);
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec("CREATE TRIGGER keep BEFORE DELETE ON snapshots BEGIN "
                     "SELECT RAISE(ABORT, 'no deleting today'); END;"));
  }
  auto second = capture(R"({"mcpServers": {"b": {"command": "y"}}})");
  REQUIRE(second);
  CHECK(second->kind == CaptureOutcome::Kind::recorded);
  REQUIRE(second->snapshot);
  CHECK(second->pruned.snapshots == 0);
  bool reported = false;
  for (const auto &event : second->events) {
    if (event.kind == "retention_failed") {
      reported = true;
      CHECK(event.message.find("no deleting today") != std::string::npos);
    }
  }
  CHECK(reported);
  // Both snapshots and the event are committed; nothing is left open.
  CHECK(store.count_for_path(target.path.string()).value_or(0) == 2);
  auto events = store.events(std::nullopt, std::nullopt);
  REQUIRE(events);
  REQUIRE_FALSE(events->empty());
  CHECK(events->front().kind == "retention_failed");
  auto verify = store.verify();
  REQUIRE(verify);
  CHECK(verify->ok());

  SUBCASE("and prunes in the same transaction when it works") {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec("DROP TRIGGER keep"));
    auto third = capture(R"({"mcpServers": {"c": {"command": "z"}}})");
    REQUIRE(third);
    CHECK(third->pruned.snapshots == 2);
    CHECK(store.count_for_path(target.path.string()).value_or(0) == 1);
  }
}

TEST_CASE("capture_bytes records a change after a damaged previous version") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  const Config config = default_config();
  const WatchTarget target =
      target_for("cursor", (dir / "mcp.json").string(), {});
  auto capture = [&](std::string_view bytes) {
    return capture_bytes(store, target, bytes, 0644, CaptureRequest{}, config);
  };
  auto first = capture(R"({"mcpServers": {"a": {"command": "x"}}})");
  REQUIRE(first);
  REQUIRE(first->snapshot);
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec("UPDATE blobs SET data = CAST('not zstd' AS BLOB)"));
  }
  const std::string next = R"({"mcpServers": {"a": {"command": "y"}}})";
  auto second = capture(next);
  REQUIRE(second);
  CHECK(second->kind == CaptureOutcome::Kind::recorded);
  REQUIRE(second->snapshot);
  CHECK(*store.content(*second->snapshot) == next);
  bool reported = false;
  for (const auto &event : second->events) {
    if (event.kind == "previous_unreadable") {
      reported = true;
      CHECK(event.message.find("#" + std::to_string(first->snapshot->id)) !=
            std::string::npos);
    }
  }
  CHECK(reported);
  // The damage itself is still found by verify.
  auto report = store.verify();
  REQUIRE(report);
  CHECK_FALSE(report->ok());
}

TEST_CASE("capture_file reuses the caller's hash and view only for its bytes") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  const Config config = default_config();
  const WatchTarget target =
      target_for("cursor", (dir / "mcp.json").string(), {});
  const std::string known = R"({"mcpServers": {"known": {"command": "x"}}})";
  const std::string on_disk = R"({"mcpServers": {"disk": {"command": "y"}}})";
  const McpView known_view = extract_mcp(known, Format::json, "mcpServers");
  const std::string known_sha = sha256_hex(known);
  CaptureRequest request;
  request.known_bytes = known;
  request.known_sha256 = known_sha;
  request.view = &known_view;
  SUBCASE("the file holds other bytes: they are hashed and parsed") {
    test::write_file(target.path, on_disk);
    auto outcome = capture_file(store, target, request, config);
    REQUIRE(outcome);
    REQUIRE(outcome->snapshot);
    CHECK(outcome->snapshot->sha256 == sha256_hex(on_disk));
    CHECK(outcome->snapshot->servers == std::vector<std::string>{"disk"});
  }
  SUBCASE("the file holds the known bytes") {
    test::write_file(target.path, known);
    auto outcome = capture_file(store, target, request, config);
    REQUIRE(outcome);
    REQUIRE(outcome->snapshot);
    CHECK(outcome->snapshot->sha256 == known_sha);
    CHECK(outcome->snapshot->servers == std::vector<std::string>{"known"});
    CHECK(*store.content(*outcome->snapshot) == known);
  }
}

TEST_CASE("capture_file records a skip once while the caller reports it") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  Config config = default_config();
  config.store.max_file_bytes = 10;
  const WatchTarget target =
      target_for("cursor", (dir / "mcp.json").string(), {});
  test::write_file(target.path, R"({"mcpServers": {}})");
  CaptureRequest request;
  auto first = capture_file(store, target, request, config);
  REQUIRE(first);
  CHECK(first->kind == CaptureOutcome::Kind::skipped);
  CHECK(first->skip_kind == "too_large");
  CHECK(first->skip_message.find("over the limit of 10") != std::string::npos);
  REQUIRE(first->events.size() == 1);
  CHECK(first->events[0].message == first->skip_message);
  SUBCASE("the same kind already reported: no event") {
    request.skip_reported = "too_large";
    auto again = capture_file(store, target, request, config);
    REQUIRE(again);
    CHECK(again->kind == CaptureOutcome::Kind::skipped);
    CHECK(again->skip_message == first->skip_message);
    CHECK(again->events.empty());
    CHECK(store.events(std::nullopt, std::nullopt)->size() == 1);
  }
  SUBCASE("another kind reported before: an event") {
    request.skip_reported = "unreadable";
    auto again = capture_file(store, target, request, config);
    REQUIRE(again);
    CHECK(again->events.size() == 1);
  }
}

TEST_CASE("capture_file lists ~/.claude.json's projects from its own parse") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  const Config config = default_config();
  WatchTarget target =
      target_for("claude-code", (dir / ".claude.json").string(), {});
  REQUIRE(target.format == Format::json);
  CaptureRequest request;
  request.claude_projects = true;
  auto capture = [&](const std::string &text) {
    test::write_file(target.path, text);
    auto outcome = capture_file(store, target, request, config);
    REQUIRE(outcome);
    return std::move(*outcome);
  };
  using Kind = CaptureOutcome::Kind;
  const std::vector<fs::path> a{"/p/a"};
  const std::vector<fs::path> ab{"/p/a", "/p/b"};

  const std::string one = R"({"mcpServers": {"g": {"command": "gh"}},
      "projects": {"/p/a": {"mcpServers": {}}}})";
  auto first = capture(one);
  CHECK(first.kind == Kind::recorded);
  CHECK(first.claude_projects == a);
  CHECK(first.snapshot->sha256 == sha256_hex(one));
  // A project added outside the server maps: no snapshot, the list still.
  auto churn = capture(R"({"mcpServers": {"g": {"command": "gh"}},
      "projects": {"/p/a": {"mcpServers": {}}, "/p/b": {"history": []}}})");
  CHECK(churn.kind == Kind::mcp_unchanged);
  CHECK(churn.claude_projects == ab);
  // The latest snapshot's bytes again: nothing parsed, nothing listed.
  auto same = capture(one);
  CHECK(same.kind == Kind::unchanged);
  CHECK_FALSE(same.claude_projects);
  // Bytes of the latest snapshot's size: a server changed, or nothing did.
  std::string swapped = one;
  swapped.replace(swapped.find("gh"), 2, "hg");
  REQUIRE(swapped.size() == one.size());
  auto changed = capture(swapped);
  CHECK(changed.kind == Kind::recorded);
  CHECK(changed.snapshot->sha256 == sha256_hex(swapped));
  std::string spaced = swapped;
  spaced.replace(spaced.find(": {\""), 4, ":{ \"");
  REQUIRE(spaced.size() == swapped.size());
  CHECK(capture(spaced).kind == Kind::mcp_unchanged);
  CHECK(capture(swapped).kind == Kind::unchanged);
  // Broken: recorded, and lists no project (as claude_projects_from).
  auto broken = capture(R"({"projects": {"/p/a": )");
  CHECK(broken.kind == Kind::recorded);
  CHECK(broken.claude_projects == std::vector<fs::path>{});
  // Not asked for: not listed.
  request.claude_projects = false;
  auto plain = capture(R"({"projects": {"/p/c": {}}})");
  CHECK(plain.kind == Kind::recorded);
  CHECK_FALSE(plain.claude_projects);
}

TEST_CASE("mcp_digest_of") {
  // Digests are stored with each snapshot: the bytes hashed must stay
  // exactly what they were, names as JSON strings included.
  McpView view;
  view.parsed = true;
  view.servers = {{"github", R"({"command":"npx"})"},
                  {"quote\"back\\slash", "{}"},
                  {"tab\there", "{}"},
                  {"caf\xc3\xa9@/home/u/p", "{}"}};
  std::string expected;
  for (const auto &[name, entry] : view.servers) {
    expected += nlohmann::json(name).dump() + "=" + entry + "\n";
  }
  CHECK(mcp_digest_of(view) == sha256_hex(expected));
  view.parsed = false;
  CHECK(mcp_digest_of(view) == "unparsed");
}

TEST_CASE("Store::list") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  for (int i = 0; i < 10; ++i) {
    auto s = snap(i % 2 ? "/odd" : "/even", 1000 + i);
    s.host = i < 5 ? "cursor" : "zed";
    REQUIRE(store.add_snapshot(s, std::to_string(i)));
  }
  auto all = store.list({});
  REQUIRE(all);
  REQUIRE(all->size() == 10);
  CHECK(all->front().id > all->back().id);

  ListFilter f;
  f.path = "/odd";
  f.limit = 2;
  auto odd = store.list(f);
  REQUIRE(odd);
  REQUIRE(odd->size() == 2);
  CHECK(*store.content(odd->at(0)) == "9");
  CHECK(*store.content(odd->at(1)) == "7");

  ListFilter h;
  h.host = "zed";
  h.since = 1007;
  auto zed = store.list(h);
  REQUIRE(zed);
  CHECK(zed->size() == 3);

  auto latest = store.latest_for_path("/even");
  REQUIRE(latest);
  CHECK(*store.content(**latest) == "8");
}

TEST_CASE("Store::latest_good") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  auto good = snap("/a");
  REQUIRE(store.add_snapshot(good, "good"));
  auto broken = snap("/a");
  broken.parsed = false;
  broken.servers.clear();
  REQUIRE(store.add_snapshot(broken, "{broken"));
  auto empty = snap("/a");
  empty.servers.clear();
  REQUIRE(store.add_snapshot(empty, "{}"));
  auto got = store.latest_good(std::nullopt, std::string("/a"));
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK(*store.content(**got) == "good");
  auto none = store.latest_good(std::string("zed"), std::nullopt);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("Store::delete_snapshots") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  auto a = store.add_snapshot(snap("/a"), "shared");
  auto b = store.add_snapshot(snap("/b"), "shared");
  auto c = store.add_snapshot(snap("/a"), "only a");
  REQUIRE((a && b && c));
  auto del = store.delete_snapshots({a->id, c->id});
  REQUIRE(del);
  CHECK(del->snapshots == 2);
  CHECK(del->blobs == 1); // "shared" is still used by b
  CHECK(del->bytes_freed > 0);
  CHECK(*store.content(*b) == "shared");
  auto stats = store.stats();
  CHECK(stats->blobs == 1);
}

TEST_CASE("Store::plan_prune_ids orders by record, imports by time") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  constexpr Micros day = 86'400'000'000;
  const Micros now = 1'700'000'000'000'000;
  // Three recorded here, the last with a clock set back a year; two
  // imported from another machine, from before the first.
  std::vector<std::int64_t> ids;
  for (const Micros at : {now, now + day, now - 365 * day}) {
    auto s = snap("/a", at);
    auto added = store.add_snapshot(s, "recorded " + std::to_string(at));
    REQUIRE(added);
    ids.push_back(added->id);
  }
  for (const Micros at : {now - 3 * day, now - 2 * day}) {
    auto s = snap("/a", at);
    s.trigger = SnapshotTrigger::imported;
    auto added = store.add_snapshot(s, "imported " + std::to_string(at));
    REQUIRE(added);
    ids.push_back(added->id);
  }
  RetentionPolicy policy;
  policy.max_count = 3;
  policy.max_age_days = 0;
  policy.min_keep = 0;
  policy.keep_daily = policy.keep_weekly = policy.keep_monthly = 0;
  auto plan = store.plan_prune_ids(policy, "/a");
  REQUIRE(plan);
  // Newest first: recorded 3, 2, 1, then the imports by time.
  std::vector<std::int64_t> planned;
  for (const auto &d : *plan) {
    planned.push_back(d.id);
  }
  CHECK(planned == std::vector<std::int64_t>{ids[3], ids[4]});
}

TEST_CASE("Store::list shows imported snapshots by time among the others") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  constexpr Micros day = 86'400'000'000;
  const Micros now = 1'700'000'000'000'000;
  auto add = [&](std::string path, Micros at, bool imported, bool good,
                 const std::string &content) {
    auto s = snap(std::move(path), at);
    if (imported) {
      s.trigger = SnapshotTrigger::imported;
    }
    if (!good) {
      s.servers.clear();
    }
    auto added = store.add_snapshot(s, content);
    REQUIRE(added);
    return added->id;
  };
  // Recorded here: /a today, /b a day later, /a after the clock went back
  // a year. Then another machine's history of /a is imported: a good one
  // from two days ago, one from a week ahead (that clock was fast), and a
  // broken one from yesterday.
  const auto a1 = add("/a", now, false, true, "a1");
  const auto b1 = add("/b", now + day, false, true, "b1");
  const auto a2 = add("/a", now - 365 * day, false, false, "a2");
  const auto i1 = add("/a", now - 2 * day, true, true, "i1");
  const auto i2 = add("/a", now + 7 * day, true, false, "i2");
  const auto i3 = add("/a", now - day, true, false, "i3");
  auto ids = [](const Result<std::vector<SnapshotRecord>> &list) {
    REQUIRE(list);
    std::vector<std::int64_t> out;
    for (const auto &r : *list) {
      out.push_back(r.id);
    }
    return out;
  };
  // Those recorded here in the order they were recorded (the clock set
  // back does not move a2 down), each import where its time puts it.
  CHECK(ids(store.list({})) ==
        std::vector<std::int64_t>{i2, a2, b1, a1, i3, i1});
  ListFilter only_a;
  only_a.path = "/a";
  CHECK(ids(store.list(only_a)) ==
        std::vector<std::int64_t>{i2, a2, a1, i3, i1});
  only_a.limit = 2;
  CHECK(ids(store.list(only_a)) == std::vector<std::int64_t>{i2, a2});
  // Pages follow the same order, also from a snapshot deleted since.
  only_a.before_id = a2;
  CHECK(ids(store.list(only_a)) == std::vector<std::int64_t>{a1, i3});
  only_a.before_id = a1;
  only_a.limit.reset();
  CHECK(ids(store.list(only_a)) == std::vector<std::int64_t>{i3, i1});
  REQUIRE(store.delete_snapshots({a1}));
  CHECK(ids(store.list(only_a)) == std::vector<std::int64_t>{i3, i1});
  // The newest of a path, and the newest good one, are the first listed.
  auto latest = store.latest_for_path("/a");
  REQUIRE(latest);
  REQUIRE(latest->has_value());
  CHECK((*latest)->id == i2);
  // What a capture compares with is the newest recorded here: another
  // machine's versions were never this file here.
  auto brief = store.latest_brief_for_path("/a");
  REQUIRE(brief);
  REQUIRE(brief->has_value());
  CHECK((*brief)->id == a2);
  CHECK(store.latest_brief_for_path("/nowhere").value() == std::nullopt);
  auto good = store.latest_good(std::nullopt, std::string("/a"));
  REQUIRE(good);
  REQUIRE(good->has_value());
  CHECK((*good)->id == i1); // a1, newer and good, was deleted
  {
    // A good one from a redacted bundle, newer still, holds placeholders
    // for its secrets: the newest with its own values is the good one.
    auto s = snap("/a", now);
    s.trigger = SnapshotTrigger::imported;
    s.redacted = true;
    REQUIRE(store.add_snapshot(s, "r1"));
    good = store.latest_good(std::nullopt, std::string("/a"));
    CHECK((*good)->id == i1);
    auto only_redacted = snap("/r", now);
    only_redacted.redacted = true;
    const auto r = store.add_snapshot(only_redacted, "r2");
    REQUIRE(r);
    good = store.latest_good(std::nullopt, std::string("/r"));
    REQUIRE(good);
    REQUIRE(good->has_value());
    CHECK((*good)->id == r->id); // none other: still the good one
  }
  // A snapshot recorded now goes first, though its time is before i2's.
  const auto a3 = add("/a", now + day, false, true, "a3");
  CHECK(ids(store.list({})).front() == a3);
  latest = store.latest_for_path("/a");
  CHECK((*latest)->id == a3);
}

TEST_CASE("Store: list, its pages, the latest and retention agree on one "
          "order, whatever the clock and the imports") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  constexpr Micros day = 86'400'000'000;
  std::mt19937_64 rng(20261201);
  struct Row {
    std::int64_t id;
    std::string path;
    Micros sort_at;
    bool imported;
    bool good;
  };
  std::vector<Row> rows; // what the order must be built from
  Micros clock = 1'700'000'000'000'000;
  Micros latest = 0; // the latest sort_at in the store
  const std::vector<std::string> paths = {"/a", "/b", "/c"};
  for (int i = 0; i < 240; ++i) {
    const auto roll = rng() % 100;
    // The clock: mostly forward, sometimes set back or ahead by days.
    clock += roll < 8    ? -static_cast<Micros>(rng() % 400) * day
             : roll < 12 ? static_cast<Micros>(rng() % 30) * day
                         : static_cast<Micros>(1 + rng() % 3600) * 1'000'000;
    const bool imported = rng() % 4 == 0;
    const Micros at =
        imported ? clock + (static_cast<Micros>(rng() % 200) - 150) * day
                 : clock;
    auto s = snap(paths[rng() % paths.size()], at);
    s.trigger = imported ? SnapshotTrigger::imported : SnapshotTrigger::change;
    const bool good = rng() % 5 != 0;
    if (!good) {
      s.servers.clear();
    }
    auto added = store.add_snapshot(s, "content " + std::to_string(i));
    REQUIRE(added);
    const Micros sort_at = imported ? at : std::max(at, latest);
    latest = std::max(latest, sort_at);
    rows.push_back({added->id, s.path, sort_at, imported, good});
  }
  std::vector<Row> expected = rows;
  std::stable_sort(
      expected.begin(), expected.end(), [](const Row &x, const Row &y) {
        return x.sort_at != y.sort_at ? x.sort_at > y.sort_at : x.id > y.id;
      });
  auto ids_of = [](const std::vector<SnapshotRecord> &list) {
    std::vector<std::int64_t> out;
    for (const auto &r : list) {
      out.push_back(r.id);
    }
    return out;
  };
  for (const std::optional<std::string> &path :
       {std::optional<std::string>{}, std::optional<std::string>{"/a"},
        std::optional<std::string>{"/b"}}) {
    std::vector<std::int64_t> want;
    for (const auto &r : expected) {
      if (!path || r.path == *path) {
        want.push_back(r.id);
      }
    }
    ListFilter f;
    f.path = path;
    auto all = store.list(f);
    REQUIRE(all);
    CHECK(ids_of(*all) == want);
    // Pages of 7, each after the last of the previous one.
    std::vector<std::int64_t> paged;
    f.limit = 7;
    for (;;) {
      auto page = store.list(f);
      REQUIRE(page);
      if (page->empty()) {
        break;
      }
      for (const auto &r : *page) {
        paged.push_back(r.id);
      }
      f.before_id = page->back().id;
    }
    CHECK(paged == want);
    if (!path) {
      continue;
    }
    // The path's latest, and its latest good, are the first listed.
    auto newest = store.latest_for_path(*path);
    REQUIRE(newest);
    REQUIRE(newest->has_value());
    CHECK((*newest)->id == want.front());
    auto brief = store.latest_brief_for_path(*path);
    REQUIRE(brief);
    REQUIRE(brief->has_value());
    CHECK((*brief)->id == want.front());
    auto good = store.latest_good(std::nullopt, *path);
    REQUIRE(good);
    const auto first_good =
        std::find_if(expected.begin(), expected.end(),
                     [&](const Row &r) { return r.path == *path && r.good; });
    REQUIRE(first_good != expected.end());
    REQUIRE(good->has_value());
    CHECK((*good)->id == first_good->id);
    // Retention counts max_count in the same order: beyond the newest 10,
    // all go but the last recorded and the newest good ones.
    RetentionPolicy policy;
    policy.max_count = 10;
    policy.max_age_days = 0;
    policy.min_keep = 0;
    policy.keep_daily = policy.keep_weekly = policy.keep_monthly = 0;
    auto plan = store.plan_prune_ids(policy, *path);
    REQUIRE(plan);
    std::int64_t last_recorded = 0;
    for (const auto &r : rows) {
      if (r.path == *path && !r.imported) {
        last_recorded = std::max(last_recorded, r.id);
      }
    }
    std::int64_t newest_good_here = 0;
    for (const auto &r : expected) {
      if (r.path == *path && r.good && !r.imported) {
        newest_good_here = r.id;
        break;
      }
    }
    std::vector<std::int64_t> deleted;
    for (std::size_t k = 10; k < want.size(); ++k) {
      if (want[k] != last_recorded && want[k] != first_good->id &&
          want[k] != newest_good_here) {
        deleted.push_back(want[k]);
      }
    }
    std::sort(deleted.begin(), deleted.end());
    std::vector<std::int64_t> planned;
    for (const auto &d : *plan) {
      planned.push_back(d.id);
    }
    CHECK(planned == deleted);
  }
}

namespace {

// A config-like text of about `lines` lines; `rev` changes one line.
std::string versioned_text(int rev, int lines = 400) {
  std::string out;
  for (int i = 0; i < lines; ++i) {
    out += "  \"server" + std::to_string(i) + "\": {\"command\": \"npx\", " +
           "\"args\": [\"-y\", \"pkg-" + std::to_string(i * 7919 % 1000) +
           "\"]},\n";
  }
  out += "  \"revision\": " + std::to_string(rev) + "\n";
  return out;
}

struct BlobRow {
  std::string compression;
  std::string base;
  std::int64_t stored = 0;
};

BlobRow blob_row(const fs::path &dir, const std::string &sha) {
  auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
  REQUIRE(db);
  auto q = db->prepare("SELECT compression, coalesce(base, ''), length(data) "
                       "FROM blobs WHERE sha256 = ?1");
  REQUIRE(q);
  q->bind(1, sha);
  auto row = q->step();
  REQUIRE(row);
  REQUIRE(*row);
  return {q->column_text(0), q->column_text(1), q->column_int64(2)};
}

// Sets one column of one blob row straight in the store file, as damage
// would ("data" is bound as a BLOB, anything else as text).
void damage_blob(const fs::path &dir, const std::string &sha,
                 const std::string &column, const std::string &value) {
  auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
  REQUIRE(db);
  auto update =
      db->prepare("UPDATE blobs SET " + column + " = ?1 WHERE sha256 = ?2");
  REQUIRE(update);
  if (column == "data") {
    update->bind_blob(1, value);
  } else {
    update->bind(1, value);
  }
  update->bind(2, sha);
  REQUIRE(update->run());
}

} // namespace

TEST_CASE("Store::latest_brief_for_path") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  NewSnapshot first = snap("/a", 1);
  first.mcp_digest = "first";
  NewSnapshot second = snap("/a", 2);
  second.mcp_digest = "second";
  REQUIRE(store.add_snapshot(first, "one"));
  auto newest = store.add_snapshot(second, "two");
  REQUIRE(newest);
  REQUIRE(store.add_snapshot(snap("/b", 3), "three"));
  auto brief = store.latest_brief_for_path("/a");
  REQUIRE(brief);
  REQUIRE(brief->has_value());
  CHECK((*brief)->id == newest->id);
  CHECK((*brief)->sha256 == sha256_hex("two"));
  CHECK((*brief)->mcp_digest == "second");
  auto none = store.latest_brief_for_path("/c");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("Store keeps similar contents as deltas of a keyframe") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  std::vector<SnapshotRecord> recs;
  for (int rev = 0; rev < 4; ++rev) {
    const std::string text = versioned_text(rev);
    auto rec = store.add_snapshot(snap("/a"), text, sha256_hex(text),
                                  recs.empty() ? "" : recs.back().sha256);
    REQUIRE(rec);
    recs.push_back(*rec);
  }
  // The first version is whole; every later one is a delta against it (the
  // keyframe), not against its own predecessor.
  const BlobRow first = blob_row(dir, recs[0].sha256);
  CHECK(first.compression == "zstd");
  CHECK(first.base.empty());
  for (std::size_t i = 1; i < recs.size(); ++i) {
    const BlobRow row = blob_row(dir, recs[i].sha256);
    CHECK(row.compression == "zstd-delta");
    CHECK(row.base == recs[0].sha256);
    CHECK(row.stored * 10 < first.stored);
  }
  // Read back exactly, by this connection (keyframe cached) and by a fresh
  // one (keyframe read from the file).
  for (int round = 0; round < 2; ++round) {
    Store reader = round == 0 ? std::move(store) : open_store(dir);
    for (std::size_t i = 0; i < recs.size(); ++i) {
      auto content = reader.content(recs[i]);
      REQUIRE(content);
      CHECK(*content == versioned_text(static_cast<int>(i)));
    }
    CHECK(reader.verify()->ok());
    if (round == 0) {
      store = std::move(reader);
    }
  }

  SUBCASE("a keyframe serves at most 32 deltas") {
    std::string previous = recs[3].sha256;
    std::vector<std::string> shas;
    for (int rev = 4; rev < 40; ++rev) {
      const std::string text = versioned_text(rev);
      auto rec =
          store.add_snapshot(snap("/a"), text, sha256_hex(text), previous);
      REQUIRE(rec);
      previous = rec->sha256;
      shas.push_back(rec->sha256);
    }
    // Versions 1-32 are deltas of version 0; version 33 is whole and 34-39
    // are its deltas.
    CHECK(blob_row(dir, shas[28]).base == recs[0].sha256);
    CHECK(blob_row(dir, shas[29]).compression == "zstd");
    CHECK(blob_row(dir, shas[30]).base == shas[29]);
    CHECK(blob_row(dir, shas[35]).base == shas[29]);
    CHECK(store.verify()->ok());
  }
  SUBCASE("a content unlike its keyframe becomes the next keyframe") {
    std::string other(20000, '\0');
    for (std::size_t i = 0; i < other.size(); ++i) {
      other[i] = static_cast<char>((i * 2654435761u) >> 13);
    }
    auto rec = store.add_snapshot(snap("/a"), other, sha256_hex(other),
                                  recs[3].sha256);
    REQUIRE(rec);
    CHECK(blob_row(dir, rec->sha256).compression == "zstd");
    CHECK(*store.content(*rec) == other);
  }
  SUBCASE("retention keeps a keyframe while a delta needs it") {
    // Deleting the keyframe's own snapshot keeps its blob for the deltas.
    auto del = store.delete_snapshots({recs[0].id});
    REQUIRE(del);
    CHECK(del->snapshots == 1);
    CHECK(del->blobs == 0);
    CHECK(*store.content(recs[2]) == versioned_text(2));
    // Deleting the rest frees every delta and then the keyframe.
    del = store.delete_snapshots({recs[1].id, recs[2].id, recs[3].id});
    REQUIRE(del);
    CHECK(del->blobs == 4);
    CHECK(store.stats()->blobs == 0);
    CHECK(store.verify()->ok());
  }
  SUBCASE("a damaged keyframe is reported through its deltas") {
    damage_blob(dir, recs[0].sha256, "data", zstd_compress(versioned_text(99)));
    // The connection that cached the keyframe sees the damage in verify().
    auto same = store.verify();
    REQUIRE(same);
    CHECK(same->problems.size() == 4);
    Store fresh = open_store(dir);
    auto content = fresh.content(recs[2]);
    REQUIRE_FALSE(content);
    CHECK(content.error().code == ErrorCode::integrity_error);
    auto report = fresh.verify();
    REQUIRE(report);
    CHECK(report->problems.size() == 4); // the keyframe and its 3 deltas
    // The next version is still recorded: whole, as a new keyframe.
    const std::string next = versioned_text(4);
    auto rec =
        fresh.add_snapshot(snap("/a"), next, sha256_hex(next), recs[3].sha256);
    REQUIRE(rec);
    CHECK(blob_row(dir, rec->sha256).compression == "zstd");
    CHECK(*fresh.content(*rec) == next);
  }
  SUBCASE("a delta against a delta is refused") {
    damage_blob(dir, recs[2].sha256, "base", recs[1].sha256);
    Store fresh = open_store(dir);
    auto content = fresh.content(recs[2]);
    REQUIRE_FALSE(content);
    CHECK(content.error().message.find("is itself a delta") !=
          std::string::npos);
  }
  SUBCASE("a missing base is an integrity error") {
    {
      auto db =
          sql::Database::open(dir / "store.db", sql::Database::Create::no);
      REQUIRE(db);
      REQUIRE(
          db->exec("UPDATE blobs SET base = 'feed' WHERE base IS NOT NULL"));
    }
    Store fresh = open_store(dir);
    auto content = fresh.content(recs[1]);
    REQUIRE_FALSE(content);
    CHECK(content.error().code == ErrorCode::integrity_error);
    CHECK(content.error().message.find("its base feed cannot be read") !=
          std::string::npos);
  }
}

TEST_CASE("Store turned to zstd makes deltas against uncompressed blobs") {
  const auto dir = test::scratch_dir();
  const std::string a = versioned_text(0);
  const std::string b = versioned_text(1);
  std::string a_sha;
  {
    Store plain = open_store(dir, Compression::none);
    auto ra = plain.add_snapshot(snap("/a"), a, sha256_hex(a));
    REQUIRE(ra);
    a_sha = ra->sha256;
  }
  Store store = open_store(dir, Compression::zstd);
  auto rb = store.add_snapshot(snap("/a"), b, sha256_hex(b), a_sha);
  REQUIRE(rb);
  const BlobRow row = blob_row(dir, rb->sha256);
  CHECK(row.compression == "zstd-delta");
  CHECK(row.base == a_sha);
  CHECK(*open_store(dir).content(*rb) == b);
}

TEST_CASE("Store without compression stores no deltas") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir, Compression::none);
  const std::string a = versioned_text(0);
  const std::string b = versioned_text(1);
  auto ra = store.add_snapshot(snap("/a"), a, sha256_hex(a));
  auto rb = store.add_snapshot(snap("/a"), b, sha256_hex(b), ra->sha256);
  REQUIRE((ra && rb));
  CHECK(blob_row(dir, rb->sha256).compression == "none");
  CHECK(*store.content(*rb) == b);
}

TEST_CASE("Store::verify") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir, Compression::none);
  auto rec = store.add_snapshot(snap("/a"), "original bytes");
  REQUIRE(rec);
  REQUIRE(store.verify()->ok());
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec("UPDATE blobs SET data = CAST('tampered bytes' AS BLOB)"));
  }
  auto report = store.verify();
  REQUIRE(report);
  CHECK_FALSE(report->ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].what.find("does not match its hash") !=
        std::string::npos);
  auto content = store.content(*rec);
  REQUIRE_FALSE(content);
  CHECK(content.error().code == ErrorCode::integrity_error);
}

TEST_CASE("Store::open moves a corrupt store aside") {
  const auto dir = test::scratch_dir();
  {
    Store store = open_store(dir);
    REQUIRE(store.add_snapshot(snap("/a"), "precious"));
  }
  // Overwrite the header: not a database any more.
  {
    std::string bytes = test::read_file(dir / "store.db");
    REQUIRE(bytes.size() > 100);
    std::fill(bytes.begin(), bytes.begin() + 100, 'X');
    test::write_file(dir / "store.db", bytes);
  }
  SUBCASE("the client does not repair") {
    auto store =
        Store::open(dir / "store.db", Compression::zstd, Store::Repair::no);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::integrity_error);
  }
  SUBCASE("the daemon moves it aside and starts afresh") {
    auto store =
        Store::open(dir / "store.db", Compression::zstd, Store::Repair::yes);
    REQUIRE(store);
    REQUIRE(store->moved_aside().has_value());
    CHECK(fs::exists(*store->moved_aside()));
    CHECK(store->moved_aside()->filename().string().rfind("store.db.corrupt-",
                                                          0) == 0);
    auto events = store->events(10, std::nullopt);
    REQUIRE(events);
    REQUIRE(events->size() == 1);
    CHECK(events->at(0).severity == Severity::critical);
    CHECK(events->at(0).kind == "store_moved_aside");
    CHECK(store->stats()->snapshots == 0);
  }
}

TEST_CASE("Store::open refuses a newer schema") {
  const auto dir = test::scratch_dir();
  { open_store(dir); }
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db->exec("PRAGMA user_version = 99"));
  }
  auto store =
      Store::open(dir / "store.db", Compression::zstd, Store::Repair::yes);
  REQUIRE_FALSE(store);
  CHECK(store.error().message.find("newer mcpbk (schema 99") !=
        std::string::npos);
}

TEST_CASE("Store::events") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store.add_event(
        {Severity::warning, "k", "/p", "m" + std::to_string(i), "{}", 0}));
  }
  auto last2 = store.events(2, std::nullopt);
  REQUIRE(last2->size() == 2);
  CHECK(last2->at(0).message == "m4");
  auto after = store.events(std::nullopt, last2->at(1).id);
  CHECK(after->size() == 1);

  SUBCASE("trim_events keeps the newest") {
    CHECK(store.trim_events(5).value() == 0); // short enough
    CHECK(store.trim_events(3).value() == 2);
    auto kept = store.events(std::nullopt, std::nullopt).value();
    REQUIRE(kept.size() == 3);
    CHECK(kept.front().message == "m4");
    CHECK(kept.back().message == "m2");
    CHECK(store.trim_events(0).value() == 3);
    CHECK(store.events(std::nullopt, std::nullopt)->empty());
    // New events go on from the next id: nothing is reused.
    auto next = store.add_event({Severity::info, "k", "", "m5", "{}", 0});
    REQUIRE(next);
    CHECK(next->id == 6);
  }
}

TEST_CASE("Store::set_pinned") {
  const auto dir = test::scratch_dir();
  Store store = open_store(dir);
  auto rec = store.add_snapshot(snap("/a"), "x");
  REQUIRE(store.set_pinned(rec->id, true));
  CHECK((*store.get(rec->id))->pinned);
  auto missing = store.set_pinned(9999, true);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::not_found);
}

// Takes a store back to schema 5 (what migration 6 added), less its
// snapshots_imported index, which schema 5 had on (path, id).
constexpr std::string_view k_undo_schema_6 =
    "DROP INDEX snapshots_imported; DROP INDEX snapshots_imported_by_time; "
    "ALTER TABLE snapshots DROP COLUMN sort_at; ";

TEST_CASE("Store::open migrates an older schema") {
  const auto dir = test::scratch_dir();
  {
    Store store = open_store(dir);
    REQUIRE(store.add_snapshot(snap("/a"), "kept across the migration"));
  }
  // Turn the file back into a version 1 store.
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec(std::string(k_undo_schema_6) +
                     "DROP INDEX blobs_by_base; ALTER TABLE blobs DROP COLUMN "
                     "base; DROP INDEX snapshots_by_path; CREATE INDEX "
                     "snapshots_by_path ON snapshots(path, id); ALTER TABLE "
                     "snapshots DROP COLUMN good; ALTER TABLE snapshots DROP "
                     "COLUMN redacted; PRAGMA user_version = 1"));
  }
  Store store = open_store(dir);
  auto list = store.list({});
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK_FALSE(list->at(0).redacted);
  CHECK(*store.content(list->at(0)) == "kept across the migration");
  auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
  auto version = db->prepare("PRAGMA user_version");
  REQUIRE(version->step());
  CHECK(version->column_int64(0) == Store::k_schema_version);
  // The migrated row is rated good (parsed, with servers), as retention
  // must see it.
  auto good = db->prepare("SELECT good FROM snapshots");
  REQUIRE(good->step());
  CHECK(good->column_int64(0) == 1);
}

TEST_CASE("Store::open places snapshots of a version 5 store in list order") {
  const auto dir = test::scratch_dir();
  constexpr Micros day = 86'400'000'000;
  const Micros now = 1'700'000'000'000'000;
  {
    Store store = open_store(dir);
    // Recorded, recorded after the clock went back, imported, recorded.
    for (const auto &[at, imported] :
         std::vector<std::pair<Micros, bool>>{{now, false},
                                              {now - 30 * day, false},
                                              {now - 10 * day, true},
                                              {now - 20 * day, false}}) {
      auto s = snap("/a", at);
      if (imported) {
        s.trigger = SnapshotTrigger::imported;
      }
      REQUIRE(store.add_snapshot(s, std::to_string(at)));
    }
  }
  {
    auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec(std::string(k_undo_schema_6) +
                     "CREATE INDEX snapshots_imported ON "
                     "snapshots(path, id) WHERE trigger = 'import'; PRAGMA "
                     "user_version = 5"));
  }
  Store store = open_store(dir);
  auto list = store.list({});
  REQUIRE(list);
  std::vector<std::int64_t> ids;
  for (const auto &r : *list) {
    ids.push_back(r.id);
  }
  CHECK(ids == std::vector<std::int64_t>{4, 2, 1, 3});
  // A new snapshot keeps the order going from the migrated rows.
  REQUIRE(store.add_snapshot(snap("/a", now - 40 * day), "after"));
  CHECK(store.list({})->front().id == 5);
}

TEST_CASE("Store indexes serve the queries of every recorded change") {
  const auto dir = test::scratch_dir();
  { open_store(dir); }
  auto db = sql::Database::open(dir / "store.db", sql::Database::Create::no);
  REQUIRE(db);
  // Each index costs a page write per recorded change (and one per snapshot
  // retention deletes): the set is kept small on purpose.
  auto names = db->prepare("SELECT name FROM sqlite_master WHERE type = "
                           "'index' AND tbl_name = 'snapshots' AND sql IS NOT "
                           "NULL ORDER BY name");
  REQUIRE(names);
  std::vector<std::string> indexes;
  while (*names->step()) {
    indexes.push_back(names->column_text(0));
  }
  CHECK(indexes == std::vector<std::string>{
                       "snapshots_by_host", "snapshots_by_path",
                       "snapshots_by_sha", "snapshots_by_time",
                       "snapshots_imported", "snapshots_imported_by_time"});
  auto plan_of = [&](const std::string &query) {
    auto stmt = db->prepare("EXPLAIN QUERY PLAN " + query);
    REQUIRE(stmt);
    std::string plan;
    while (*stmt->step()) {
      plan += stmt->column_text(3) + "\n";
    }
    return plan;
  };
  // The retention plan after each snapshot reads only the index.
  CHECK(plan_of("SELECT id, taken_at, pinned, good FROM snapshots WHERE "
                "path = 'p' ORDER BY id") ==
        "SEARCH snapshots USING COVERING INDEX snapshots_by_path "
        "(path=?)\n");
  // ... and whether any was imported, from an index that holds only those
  // (a recorded change writes nothing to it).
  CHECK(plan_of("SELECT 1 FROM snapshots WHERE path = 'p' AND trigger = "
                "'import' LIMIT 1") ==
        "SEARCH snapshots USING INDEX snapshots_imported (path=?)\n");
  // A path's latest snapshot, before each capture: the last recorded and
  // the newest import, each found by a search.
  const std::string latest =
      plan_of("SELECT id FROM (SELECT * FROM (SELECT id, sort_at FROM "
              "snapshots WHERE trigger <> 'import' AND path = 'p' ORDER BY "
              "id DESC LIMIT 1) UNION ALL SELECT * FROM (SELECT id, sort_at "
              "FROM snapshots INDEXED BY snapshots_imported WHERE trigger = "
              "'import' AND path = 'p' ORDER BY sort_at DESC, id DESC LIMIT "
              "1)) ORDER BY sort_at DESC, id DESC LIMIT 1");
  CHECK(latest.find("SEARCH snapshots USING INDEX snapshots_by_path "
                    "(path=?)") != std::string::npos);
  CHECK(latest.find("SEARCH snapshots USING INDEX snapshots_imported "
                    "(path=?)") != std::string::npos);
  CHECK(latest.find("SCAN snapshots") == std::string::npos);
  // Where a new snapshot goes in list order: after the last recorded one
  // and every import.
  CHECK(plan_of("SELECT sort_at FROM snapshots WHERE trigger <> 'import' "
                "ORDER BY id DESC LIMIT 1") == "SCAN snapshots\n");
  CHECK(plan_of("SELECT max(sort_at) FROM snapshots WHERE trigger = "
                "'import'") ==
        "SEARCH snapshots USING INDEX snapshots_imported_by_time\n");
  // The import's lookup of a time.
  CHECK(plan_of("SELECT id FROM snapshots INDEXED BY snapshots_by_time WHERE "
                "path = 'p' AND taken_at = 1 ORDER BY id LIMIT 1")
            .find("snapshots_by_time (taken_at=?)") != std::string::npos);
}

TEST_CASE("Store::open_reader reads another connection's store") {
  const auto dir = test::scratch_dir();
  const fs::path file = dir / "store.db";

  SUBCASE("it neither creates nor checks a store") {
    auto missing = Store::open_reader(file, Compression::zstd);
    CHECK_FALSE(missing);
    CHECK_FALSE(fs::exists(file));
  }

  SUBCASE("it reads what the daemon's connection commits, in snapshots") {
    Store writer = open_store(dir);
    REQUIRE(writer.add_snapshot(snap("/p/a"), "one"));
    auto opened = Store::open_reader(file, Compression::zstd);
    REQUIRE(opened);
    Store reader = std::move(*opened);
    CHECK(reader.identity() == writer.identity());

    REQUIRE(reader.begin_reading());
    auto before = reader.list({});
    REQUIRE(before);
    CHECK(before->size() == 1);
    // Committed while the read transaction is open: not seen by it...
    auto second = writer.add_snapshot(snap("/p/a"), "two");
    REQUIRE(second);
    auto during = reader.list({});
    REQUIRE(during);
    CHECK(during->size() == 1);
    reader.end_reading();
    // ...and seen by the next one, content included.
    REQUIRE(reader.begin_reading());
    auto after = reader.list({});
    REQUIRE(after);
    CHECK(after->size() == 2);
    auto content = reader.content(*second);
    REQUIRE(content);
    CHECK(*content == "two");
    reader.end_reading();
  }

  SUBCASE("a store of another schema is refused") {
    { Store writer = open_store(dir); }
    auto db = sql::Database::open(file, sql::Database::Create::no);
    REQUIRE(db);
    REQUIRE(db->exec("PRAGMA user_version = 999"));
    auto opened = Store::open_reader(file, Compression::zstd);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().message.find("schema 999") != std::string::npos);
  }
}

TEST_CASE("two processes making the same new store at once") {
  // mcpbkd's first start and an `mcpbkctl status` typed at once both open
  // the new store and bring its schema up to date: each step ran twice
  // ("table blobs already exists") and the daemon exited. Two threads
  // with their own connections stand for the two processes.
  const fs::path dir = test::scratch_dir();
  for (int round = 0; round < 40; ++round) {
    const fs::path file = dir / ("store-" + std::to_string(round));
    fs::create_directories(file);
    std::atomic<int> ready{0};
    std::array<std::string, 2> errors;
    std::array<std::thread, 2> openers;
    for (std::size_t i = 0; i < 2; ++i) {
      openers[i] = std::thread([&, i] {
        ++ready;
        while (ready.load() < 2) {
        }
        auto store = Store::open(file / "store.db", Compression::zstd,
                                 Store::Repair::no);
        if (!store) {
          errors[i] = store.error().message;
        }
      });
    }
    for (auto &t : openers) {
      t.join();
    }
    CAPTURE(round);
    CHECK(errors[0] == "");
    CHECK(errors[1] == "");
  }
}
