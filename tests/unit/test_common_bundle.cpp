#include <common/bundle.hpp>
#include <common/compress.hpp>
#include <common/hash.hpp>
#include <common/mcp.hpp>
#include <common/sqlite.hpp>
#include <common/time.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <tests/unit/scratch.hpp>
#include <zstd.h>

using namespace mcpbk;
namespace fs = std::filesystem;

namespace {

Store open_store(const fs::path &dir) {
  fs::create_directories(dir);
  auto store =
      Store::open(dir / "store.db", Compression::zstd, Store::Repair::yes);
  REQUIRE_MESSAGE(store, (store ? "" : store.error().message));
  return std::move(*store);
}

const std::string k_secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

std::string config_with_secret(int n) {
  return "{\n  \"mcpServers\": {\n    \"github\": {\n      \"command\": "
         "\"gh\",\n      \"env\": {\n        \"GITHUB_TOKEN\": \"" +
         k_secret + "\"\n      }\n    },\n    \"n\": {\"command\": \"x" +
         std::to_string(n) + "\"}\n  }\n}\n";
}

// Fills a store with `n` snapshots of two paths under `home`.
void fill(Store &store, const std::string &home, int n) {
  for (int i = 0; i < n; ++i) {
    NewSnapshot s;
    s.host = "cursor";
    s.path = home + (i % 2 ? "/.cursor/mcp.json" : "/other/.mcp.json");
    s.taken_at = 1'700'000'000'000'000 + i * 1'000'000;
    s.mode = 0640;
    s.parsed = true;
    s.servers = {"github", "n"};
    s.summary = "+n";
    s.note = i == 0   ? std::optional<std::string>("first")
             : i == 1 ? std::optional<std::string>("restored from #1")
                      : std::nullopt;
    REQUIRE(store.add_snapshot(s, config_with_secret(i)));
  }
}

} // namespace

TEST_CASE("export_bundle and import_bundle") {
  const auto dir = test::scratch_dir();
  const Env source_env = Env::from_map({{"HOME", "/home/alice"}});
  const Env target_env = Env::from_map({{"HOME", "/Users/bob"}});
  Store source = open_store(dir / "a");
  fill(source, "/home/alice", 6);
  const fs::path bundle = dir / "out.mcpbk";

  auto exported = export_bundle(source, bundle, {}, source_env);
  REQUIRE(exported);
  CHECK(exported->snapshots == 6);
  CHECK(exported->bytes == fs::file_size(bundle));

  SUBCASE("a source home written with a final slash maps the same") {
    const fs::path slashed = dir / "slashed.mcpbk";
    REQUIRE(export_bundle(source, slashed, {},
                          Env::from_map({{"HOME", "/home/alice/"}})));
    Store target = open_store(dir / "b");
    ImportOptions options;
    options.map_home = ImportOptions::MapHome::yes;
    auto imported = import_bundle(target, slashed, options, target_env);
    REQUIRE(imported);
    CHECK(imported->header.source_home == "/home/alice");
    CHECK(target.list({})->back().path == "/Users/bob/other/.mcp.json");
  }
  SUBCASE("round trip keeps content and metadata, and maps home") {
    Store target = open_store(dir / "b");
    ImportOptions options;
    options.map_home = ImportOptions::MapHome::yes;
    auto imported = import_bundle(target, bundle, options, target_env);
    REQUIRE(imported);
    CHECK(imported->created == 6);
    CHECK(imported->skipped == 0);
    CHECK(imported->outside_home == 0);
    CHECK(imported->header.source_home == "/home/alice");
    auto list = target.list({});
    REQUIRE(list);
    REQUIRE(list->size() == 6);
    const auto &oldest = list->back();
    CHECK(oldest.path == "/Users/bob/other/.mcp.json");
    CHECK(oldest.taken_at == 1'700'000'000'000'000);
    CHECK(oldest.trigger == SnapshotTrigger::imported);
    CHECK(oldest.mode == 0640);
    CHECK(oldest.note == "first");
    // A restore's note names an id of the other store: said so.
    CHECK((*list)[list->size() - 2].note ==
          "restored from #1 on " + imported->header.source_machine);
    CHECK(*target.content(oldest) == config_with_secret(0));
    CHECK_FALSE(oldest.redacted);
    // Every version reads back exactly, and the later versions of each path
    // were stored as deltas of its first.
    for (const auto &snap : *list) {
      const int i =
          static_cast<int>((snap.taken_at - 1'700'000'000'000'000) / 1'000'000);
      CHECK(*target.content(snap) == config_with_secret(i));
    }
    {
      auto db = sql::Database::open(dir / "b" / "store.db",
                                    sql::Database::Create::no);
      REQUIRE(db);
      auto kinds = db->prepare("SELECT count(*) FROM blobs WHERE compression "
                               "= 'zstd-delta'");
      REQUIRE(kinds);
      REQUIRE(kinds->step());
      CHECK(kinds->column_int64(0) == 4);
    }

    SUBCASE("importing twice skips everything") {
      auto again = import_bundle(target, bundle, options, target_env);
      REQUIRE(again);
      CHECK(again->created == 0);
      CHECK(again->skipped == 6);
    }
  }
  SUBCASE("without map_home, paths under another home are counted") {
    Store target = open_store(dir / "b");
    auto imported = import_bundle(target, bundle, {}, target_env);
    REQUIRE(imported);
    CHECK(imported->created == 6);
    CHECK(imported->outside_home == 6);
    auto list = target.list({});
    REQUIRE(list);
    CHECK(list->back().path == "/home/alice/other/.mcp.json");
    // Into a store of the same home they are that home's files.
    Store same = open_store(dir / "c");
    auto home = import_bundle(same, bundle, {}, source_env);
    REQUIRE(home);
    CHECK(home->created == 6);
    CHECK(home->outside_home == 0);
  }
  SUBCASE("dry run imports nothing") {
    Store target = open_store(dir / "b");
    ImportOptions options;
    options.dry_run = ImportOptions::DryRun::yes;
    auto imported = import_bundle(target, bundle, options, target_env);
    REQUIRE(imported);
    CHECK(imported->created == 6);
    CHECK(target.stats()->snapshots == 0);
  }
  SUBCASE("conflicts: skip, rename, fail") {
    Store target = open_store(dir / "b");
    NewSnapshot clash;
    clash.host = "cursor";
    clash.path = "/home/alice/other/.mcp.json";
    clash.taken_at = 1'700'000'000'000'000;
    REQUIRE(target.add_snapshot(clash, "different content"));

    ImportOptions options;
    options.on_conflict = OnConflict::skip;
    SUBCASE("skip") {
      auto r = import_bundle(target, bundle, options, target_env);
      REQUIRE(r);
      CHECK(r->created == 5);
      CHECK(r->skipped == 1);
    }
    SUBCASE("rename") {
      options.on_conflict = OnConflict::rename;
      auto r = import_bundle(target, bundle, options, target_env);
      REQUIRE(r);
      CHECK(r->created == 5);
      CHECK(r->renamed == 1);
      ListFilter f;
      f.path = "/home/alice/other/.mcp.json.from-" + r->header.source_machine;
      CHECK(target.list(f)->size() == 1);
    }
    SUBCASE("rename: the machine's name cannot make a path elsewhere") {
      // The bundle signed again with another machine's name in its header.
      const auto signed_as = [&](const std::string &machine) {
        const std::string frame = test::read_file(bundle);
        std::string lines(std::size_t{16} << 20, '\0');
        const std::size_t n = ZSTD_decompress(lines.data(), lines.size(),
                                              frame.data(), frame.size());
        REQUIRE_FALSE(ZSTD_isError(n));
        lines.resize(n);
        const std::size_t header_end = lines.find('\n') + 1;
        auto header = nlohmann::json::parse(lines.substr(0, header_end));
        header["source_machine"] = machine;
        const std::size_t end_line = lines.rfind('\n', lines.size() - 2) + 1;
        std::string body = header.dump() + "\n" +
                           lines.substr(header_end, end_line - header_end);
        auto end = nlohmann::json::parse(lines.substr(end_line));
        end["sha256"] = sha256_hex(body);
        const fs::path file = dir / "signed.mcpbk";
        test::write_file(file, zstd_compress(body + end.dump() + "\n"));
        return file;
      };
      options.on_conflict = OnConflict::rename;
      const std::string path = "/home/alice/other/.mcp.json";
      // "/../../.bashrc": the copy stays beside the file.
      auto r = import_bundle(target, signed_as("/../../.bashrc"), options,
                             target_env);
      REQUIRE_MESSAGE(r, r.error().message);
      CHECK(r->renamed == 1);
      ListFilter f;
      f.path = path + ".from-_.._.._.bashrc";
      CHECK(target.list(f)->size() == 1);
      // A name that comes out as one already used for other content: a
      // number is added, nothing is dropped.
      NewSnapshot taken = clash;
      taken.path = path + ".from-a_b";
      REQUIRE(target.add_snapshot(taken, "another machine's content"));
      r = import_bundle(target, signed_as("a b"), options, target_env);
      REQUIRE_MESSAGE(r, r.error().message);
      CHECK(r->renamed == 1);
      f.path = path + ".from-a_b-2";
      CHECK(target.list(f)->size() == 1);
      // Imported again: the same content is found there, and skipped.
      r = import_bundle(target, signed_as("a/b"), options, target_env);
      REQUIRE(r);
      CHECK(r->renamed == 0);
      // A name too long for a file name is cut.
      r = import_bundle(target, signed_as(std::string(300, 'm')), options,
                        target_env);
      REQUIRE_MESSAGE(r, r.error().message);
      CHECK(r->renamed == 1);
      f.path = path + ".from-" + std::string(64, 'm');
      CHECK(target.list(f)->size() == 1);
    }
    SUBCASE("fail imports nothing") {
      options.on_conflict = OnConflict::fail;
      auto r = import_bundle(target, bundle, options, target_env);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == ErrorCode::conflict);
      CHECK(r.error().message.find("nothing was imported") !=
            std::string::npos);
      CHECK(target.stats()->snapshots == 1);
    }
  }
  SUBCASE("redaction leaves no secret bytes in the bundle") {
    ExportOptions options;
    options.redact = ExportOptions::Redact::yes;
    const fs::path redacted = dir / "redacted.mcpbk";
    REQUIRE(export_bundle(source, redacted, options, source_env));
    Store target = open_store(dir / "b");
    auto r = import_bundle(target, redacted, {}, target_env);
    REQUIRE(r);
    CHECK(r->header.redacted);
    auto list = target.list({});
    REQUIRE(list->size() == 6);
    CHECK(list->front().redacted);
    const std::string content = *target.content(list->front());
    CHECK(content.find(k_secret) == std::string::npos);
    CHECK(content.find(std::string(k_redacted)) != std::string::npos);
    CHECK(content.find("\"command\": \"gh\"") != std::string::npos);
    // The compressed file itself: decompressing it is what import did; the
    // secret is not in the stored content, and the blob hash matches it.
    CHECK(list->front().sha256 == sha256_hex(content));
  }
  SUBCASE("a filtered export") {
    ExportOptions options;
    options.filter.path = "/home/alice/.cursor/mcp.json";
    const fs::path some = dir / "some.mcpbk";
    auto r = export_bundle(source, some, options, source_env);
    REQUIRE(r);
    CHECK(r->snapshots == 3);
  }
}

TEST_CASE("import_bundle refuses damaged bundles") {
  const auto dir = test::scratch_dir();
  const Env env = Env::from_map({{"HOME", "/h"}});
  Store source = open_store(dir / "a");
  fill(source, "/h", 4);
  const fs::path bundle = dir / "b.mcpbk";
  REQUIRE(export_bundle(source, bundle, {}, env));
  const std::string bytes = test::read_file(bundle);
  Store target = open_store(dir / "t");

  SUBCASE("truncated") {
    test::write_file(dir / "cut.mcpbk", bytes.substr(0, bytes.size() / 2));
    auto r = import_bundle(target, dir / "cut.mcpbk", {}, env);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("truncated") != std::string::npos);
  }
  SUBCASE("tampered") {
    std::string bad = bytes;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
    test::write_file(dir / "bad.mcpbk", bad);
    auto r = import_bundle(target, dir / "bad.mcpbk", {}, env);
    REQUIRE_FALSE(r);
  }
  SUBCASE("not a bundle") {
    test::write_file(dir / "junk.mcpbk", "{\"hello\": 1}\n");
    auto r = import_bundle(target, dir / "junk.mcpbk", {}, env);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("not a valid bundle") != std::string::npos);
  }
  CHECK(target.stats()->snapshots == 0);
}

TEST_CASE("import_bundle checks what a restore would trust") {
  const auto dir = test::scratch_dir();
  const Env env = Env::from_map({{"HOME", "/h"}});
  // A store holding one odd snapshot, exported with a valid checksum.
  const auto bundle_of = [&](const std::string &name, NewSnapshot s,
                             const std::string &content) {
    Store source = open_store(dir / name);
    REQUIRE(source.add_snapshot(s, content));
    const fs::path bundle = dir / (name + ".mcpbk");
    REQUIRE(export_bundle(source, bundle, {}, env));
    return bundle;
  };
  NewSnapshot good;
  good.host = "cursor";
  good.path = "/h/.cursor/mcp.json";
  good.taken_at = 1'700'000'000'000'000;
  good.mode = 0600;
  good.parsed = true;
  good.servers = {"github", "n"};
  Store target = open_store(dir / "t");

  SUBCASE("paths a restore would write elsewhere, unknown hosts, times") {
    const auto refused = [&](const std::string &name, const NewSnapshot &s,
                             const std::string &field) {
      auto r = import_bundle(target, bundle_of(name, s, config_with_secret(1)),
                             {}, env);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find(field) != std::string::npos);
    };
    for (const std::string &path :
         {std::string("/h/.cursor/mc\0p.json", 20), std::string("/h/../x.json"),
          std::string("/h/.cursor//mcp.json"), std::string("/h/.cursor/")}) {
      NewSnapshot s = good;
      s.path = path;
      refused("p" + std::to_string(path.size()), s, "path:");
    }
    NewSnapshot s = good;
    s.host = "nosuchhost";
    refused("host", s, "host: unknown host");
    s = good;
    s.taken_at = now_micros() + 10 * k_micros_per_day;
    refused("future", s, "taken_at_us:");
    CHECK(target.stats()->snapshots == 0);
  }
  SUBCASE("what the content holds is read from it") {
    NewSnapshot s = good;
    auto r =
        import_bundle(target, bundle_of("lie", s, "not json at all"), {}, env);
    REQUIRE(r);
    auto imported = target.latest_for_path(good.path);
    REQUIRE(imported);
    REQUIRE(*imported);
    CHECK_FALSE((*imported)->parsed);
    CHECK((*imported)->servers.empty());
    CHECK_FALSE((*imported)->good());
  }
}
