// Snapshot cost in the daemon per change: capture_file() and
// capture_bytes() on a real store in a temp dir (SQLite WAL, fsync on, zstd,
// default retention), for a 5 KB Claude Desktop config and a 2 MB
// ~/.claude.json. Each iteration is one small MCP edit that gets recorded:
// read, hash, compare, parse, assess risk against the previous snapshot,
// compress, insert, retention. The store is pre-filled past
// retention.max_count so retention deletes one snapshot per capture, as in
// steady state. The pieces are benchmarked too, to attribute the cost.

#include "gen.hpp"

#include <common/atomic_file.hpp>
#include <common/capture.hpp>
#include <common/compress.hpp>
#include <common/config.hpp>
#include <common/hash.hpp>
#include <common/hosts.hpp>
#include <common/mcp.hpp>
#include <common/sqlite.hpp>
#include <common/store.hpp>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace mcpbk;

enum class Doc { desktop, claude };

const std::string &base_doc(Doc doc) {
  static const std::string desktop = bench::desktop_config();
  static const std::string claude = bench::claude_config();
  return doc == Doc::desktop ? desktop : claude;
}

void write_bytes(const fs::path &file, const std::string &bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
struct TempDir {
  TempDir() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/mcpbk-bench-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  fs::path path;
};

// A temp dir with a store, the watched file and its target; removed at the
// end.
struct Fixture {
  explicit Fixture(Doc doc) : dir(temp.path) {
    auto opened =
        Store::open(dir / "store.db", Compression::zstd, Store::Repair::no);
    if (!opened) {
      throw std::runtime_error(opened.error().message);
    }
    store = std::make_unique<Store>(std::move(*opened));
    config = default_config();
    base = base_doc(doc);
    const fs::path file =
        dir /
        (doc == Doc::desktop ? "claude_desktop_config.json" : ".claude.json");
    target = target_for(doc == Doc::desktop ? "claude-desktop" : "claude-code",
                        file.string(), {});
  }
  ~Fixture() { store.reset(); }
  Fixture(const Fixture &) = delete;
  Fixture &operator=(const Fixture &) = delete;

  std::string next() { return bench::with_rev(base, ++rev); }

  // Records `n` edits so that retention is in steady state.
  void prefill(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::string bytes = next();
      auto r = capture_bytes(*store, target, bytes, 0644, {}, config);
      if (!r || r->kind != CaptureOutcome::Kind::recorded) {
        throw std::runtime_error("prefill capture failed");
      }
    }
  }

  TempDir temp;
  fs::path dir;
  std::unique_ptr<Store> store;
  Config config;
  WatchTarget target;
  std::string base;
  std::uint64_t rev = 0;
};

// One fixture per document for the whole run, pre-filled once: Google
// Benchmark calls a benchmark function several times, and retention keeps
// the store at its steady-state size anyway.
Fixture &fixture(Doc doc) {
  static std::unique_ptr<Fixture> fixtures[2];
  auto &fx = fixtures[doc == Doc::desktop ? 0 : 1];
  if (!fx) {
    fx = std::make_unique<Fixture>(doc);
    fx->prefill(fx->config.retention.max_count + 5);
  }
  return *fx;
}

void check(benchmark::State &state, const Result<CaptureOutcome> &r) {
  if (!r) {
    state.SkipWithError(r.error().message.c_str());
  } else if (r->kind != CaptureOutcome::Kind::recorded) {
    state.SkipWithError("capture did not record");
  }
}

// One recorded edit through capture_file(): the daemon's path.
void BM_capture_file(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  for (auto _ : state) {
    state.PauseTiming();
    write_bytes(fx.target.path, fx.next());
    state.ResumeTiming();
    check(state, capture_file(*fx.store, fx.target, {}, fx.config));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(fx.base.size()));
}

// The same with retention off (max_count and max_age_days 0, as bench/e2e.py
// configures its edits for the storage comparison, and as a user who keeps
// everything does) and a long history: 2 000 snapshots of the path, one
// more per iteration.
void BM_capture_file_keep_all(benchmark::State &state, Doc doc) {
  static std::unique_ptr<Fixture> fx;
  if (!fx) {
    fx = std::make_unique<Fixture>(doc);
    fx->config.retention.max_count = 0;
    fx->config.retention.max_age_days = 0;
    fx->prefill(2000);
  }
  for (auto _ : state) {
    state.PauseTiming();
    write_bytes(fx->target.path, fx->next());
    state.ResumeTiming();
    check(state, capture_file(*fx->store, fx->target, {}, fx->config));
  }
}

// The same with the thread asleep for 5 ms before each change, as the daemon
// is between real edits: it starts each capture with cold caches.
void BM_capture_file_after_sleep(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  for (auto _ : state) {
    state.PauseTiming();
    write_bytes(fx.target.path, fx.next());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    state.ResumeTiming();
    check(state, capture_file(*fx.store, fx.target, {}, fx.config));
  }
}

// The same from bytes already in memory (no read).
void BM_capture_bytes(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  for (auto _ : state) {
    state.PauseTiming();
    const std::string bytes = fx.next();
    state.ResumeTiming();
    check(state,
          capture_bytes(*fx.store, fx.target, bytes, 0644, {}, fx.config));
  }
}

// A change event whose bytes equal the latest snapshot (touch, or an editor
// rewriting the same content): read, hash, compare, record nothing.
void BM_capture_file_unchanged(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  write_bytes(fx.target.path, bench::with_rev(fx.base, fx.rev));
  for (auto _ : state) {
    auto r = capture_file(*fx.store, fx.target, {}, fx.config);
    if (!r || r->kind != CaptureOutcome::Kind::unchanged) {
      state.SkipWithError("expected unchanged");
    }
  }
}

// The pieces of one capture, for attribution.
void BM_sha256(benchmark::State &state, Doc doc) {
  const std::string bytes = base_doc(doc);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sha256_hex(bytes));
  }
}

void BM_zstd_compress(benchmark::State &state, Doc doc) {
  const std::string bytes = base_doc(doc);
  for (auto _ : state) {
    benchmark::DoNotOptimize(zstd_compress(bytes));
  }
}

void BM_zstd_decompress(benchmark::State &state, Doc doc) {
  const std::string bytes = base_doc(doc);
  const std::string frame = zstd_compress(bytes);
  for (auto _ : state) {
    benchmark::DoNotOptimize(zstd_decompress(frame, bytes.size()));
  }
}

// A small edit compressed against the previous version, as the store keeps
// most versions (docs/ARCHITECTURE.md, "Blobs"), and read back.
void BM_zstd_compress_delta(benchmark::State &state, Doc doc) {
  const std::string &base = base_doc(doc);
  const std::string next = bench::with_rev(base, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(zstd_compress(next, base));
  }
  state.counters["frame_bytes"] =
      static_cast<double>(zstd_compress(next, base).size());
}

// The same with the keyframe indexed once (ZstdPrefix), as the store does
// for the deltas made against a keyframe it holds.
void BM_zstd_compress_delta_prepared(benchmark::State &state, Doc doc) {
  const std::string &base = base_doc(doc);
  const std::string next = bench::with_rev(base, 1);
  const ZstdPrefix prefix(base);
  for (auto _ : state) {
    benchmark::DoNotOptimize(zstd_compress(next, prefix));
  }
  state.counters["frame_bytes"] =
      static_cast<double>(zstd_compress(next, prefix).size());
}

void BM_zstd_decompress_delta(benchmark::State &state, Doc doc) {
  const std::string &base = base_doc(doc);
  const std::string next = bench::with_rev(base, 1);
  const std::string frame = zstd_compress(next, base);
  for (auto _ : state) {
    benchmark::DoNotOptimize(zstd_decompress(frame, next.size(), base));
  }
}

// What the daemon does after each recorded (or MCP-unchanged) change of
// ~/.claude.json besides the capture: list the projects, whose directories
// it watches for project-scoped configs.
void BM_claude_projects(benchmark::State &state) {
  const std::string &bytes = base_doc(Doc::claude);
  if (claude_projects_from(bytes).size() < 100) {
    state.SkipWithError("expected the generated projects");
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(claude_projects_from(bytes));
  }
}

void BM_extract_mcp(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  const std::string locations = locations_of(fx.target);
  for (auto _ : state) {
    benchmark::DoNotOptimize(extract_mcp(fx.base, fx.target.format, locations));
  }
}

// restore --only-mcp's new content (replace_mcp): the current file with
// the snapshot's server maps, here one map that differs (a server's env).
void BM_replace_mcp(benchmark::State &state, Doc doc) {
  const WatchTarget target = target_for(
      doc == Doc::desktop ? "claude-desktop" : "claude-code", "/x.json", {});
  const std::string locations = locations_of(target);
  const std::string current = bench::with_rev(base_doc(doc), 1);
  const std::string snapshot = bench::with_rev(base_doc(doc), 2);
  for (auto _ : state) {
    auto r = replace_mcp(current, snapshot, target.format, locations);
    if (!r || r->find(snapshot.substr(snapshot.find(bench::k_rev_marker),
                                      32)) == std::string::npos) {
      state.SkipWithError("replace_mcp failed");
      break;
    }
  }
}

// The same when every project of ~/.claude.json has another server map
// (hundreds of maps to replace).
void BM_replace_mcp_every_project(benchmark::State &state) {
  const WatchTarget target = target_for("claude-code", "/x.json", {});
  const std::string locations = locations_of(target);
  const std::string &current = base_doc(Doc::claude);
  auto doc = nlohmann::ordered_json::parse(current);
  for (auto &[name, project] : doc["projects"].items()) {
    project["mcpServers"]["added"] = {{"command", "npx"}, {"args", {name}}};
  }
  const std::string snapshot = doc.dump(2) + "\n";
  for (auto _ : state) {
    auto r = replace_mcp(current, snapshot, target.format, locations);
    if (!r || r->size() <= current.size()) {
      state.SkipWithError("replace_mcp failed");
      break;
    }
  }
}

// A whole restore's preview: whether anything outside the server maps
// differs (differs_outside_mcp), here one setting outside them.
void BM_differs_outside_mcp(benchmark::State &state, Doc doc) {
  const WatchTarget target = target_for(
      doc == Doc::desktop ? "claude-desktop" : "claude-code", "/x.json", {});
  const std::string locations = restore_locations_of(target);
  const std::string current = bench::with_rev(base_doc(doc), 1);
  auto changed = nlohmann::ordered_json::parse(current);
  changed["mcpbkBenchSetting"] = true;
  const std::string snapshot = changed.dump(2) + "\n";
  for (auto _ : state) {
    if (differs_outside_mcp(current, snapshot, target.format, locations) !=
        std::optional<bool>(true)) {
      state.SkipWithError("differs_outside_mcp missed the change");
      break;
    }
  }
}

void BM_assess_risk(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  const std::string locations = locations_of(fx.target);
  const std::string before = bench::with_rev(fx.base, 1);
  const std::string after = bench::with_rev(fx.base, 2);
  const McpView vb = extract_mcp(before, fx.target.format, locations);
  const McpView va = extract_mcp(after, fx.target.format, locations);
  for (auto _ : state) {
    benchmark::DoNotOptimize(assess_risk(before, &vb, after, va));
    benchmark::DoNotOptimize(summarize_change(&vb, va));
  }
}

// The 2 MB ~/.claude.json against a later version: a small edit; two
// fields changed in every fourth project (what a week of sessions does);
// the same re-indented (4 spaces: every line changed); its projects in
// reverse order (the same lines, moved). The last two are where a shortest
// line diff is quadratic in the lines and unified_diff's budget ends it
// (DiffBudget).
enum class Rewrite { small_edit, scattered, reindented, reordered };

std::string rewritten(const std::string &doc, Rewrite how) {
  if (how == Rewrite::small_edit) {
    return bench::with_rev(doc, 2);
  }
  auto parsed = nlohmann::ordered_json::parse(doc);
  if (how == Rewrite::scattered) {
    int n = 0;
    for (auto &[name, project] : parsed["projects"].items()) {
      if (n++ % 4 == 0) {
        project["lastCost"] = n;
        project["lastSessionId"] = "0000-" + std::to_string(n);
      }
    }
    return parsed.dump(2) + "\n";
  }
  if (how == Rewrite::reindented) {
    return parsed.dump(4) + "\n";
  }
  nlohmann::ordered_json reversed = nlohmann::ordered_json::object();
  auto &projects = parsed["projects"];
  for (auto it = projects.rbegin(); it != projects.rend(); ++it) {
    reversed[it.key()] = it.value();
  }
  projects = std::move(reversed);
  return parsed.dump(2) + "\n";
}

void BM_unified_diff(benchmark::State &state, Rewrite how,
                     std::size_t bytes = 0) {
  // 16 MB: a file at max_file_bytes (store.max_file_bytes's default).
  const std::string before = bench::with_rev(
      bytes ? bench::claude_config(bytes) : base_doc(Doc::claude), 1);
  const std::string after = rewritten(before, how);
  bool whole = false;
  std::uint64_t used = 0;
  for (auto _ : state) {
    DiffBudget budget;
    benchmark::DoNotOptimize(unified_diff(
        before, after, "a", "b", DiffSecrets::masked, nullptr, &budget));
    whole = budget.whole;
    used = k_diff_comparisons - budget.comparisons;
  }
  state.counters["whole"] = whole ? 1 : 0;
  state.counters["comparisons"] = static_cast<double>(used);
}

// The masking of a diff's text (DiffSecrets::masked, as `diff` and a
// restore's preview do): the line rules, then each secret value of the
// file's servers found wherever it stands.
void BM_mask_secrets_in_text(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  const std::string locations = locations_of(fx.target);
  const std::string text = bench::with_rev(fx.base, 1);
  const McpView view = extract_mcp(text, fx.target.format, locations);
  const SecretWords words = secret_words({&view});
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        mask_secrets_in_text(text, MaskStyle::hint, &words));
  }
  state.counters["words"] = static_cast<double>(words.words.size());
}

void BM_apply_retention(benchmark::State &state, Doc doc) {
  Fixture &fx = fixture(doc);
  const std::string path = fx.target.path.string();
  for (auto _ : state) {
    auto r = apply_retention(*fx.store, fx.config.retention, path);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
    }
  }
}

// Floors: what any durable record costs on this machine, whatever it
// holds. A transaction inserting one 200-byte row into a WAL database with
// synchronous=FULL, as the store's are (SQLite writes the page to the WAL and
// fdatasyncs it), and a 4 KiB pwrite() + fdatasync() of a plain file. A
// recorded snapshot does at least the first.
void BM_floor_sqlite_commit(benchmark::State &state) {
  TempDir dir;
  auto db =
      sql::Database::open(dir.path / "floor.db", sql::Database::Create::yes);
  if (!db || !db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);")) {
    state.SkipWithError("cannot create the floor database");
    return;
  }
  auto insert = db->prepare("INSERT INTO t(v) VALUES (?)");
  if (!insert) {
    state.SkipWithError(insert.error().message.c_str());
    return;
  }
  const std::string row(200, 'x');
  for (auto _ : state) {
    insert->reset();
    insert->bind_blob(1, row);
    if (!db->exec_fixed("BEGIN IMMEDIATE") || !insert->run() ||
        !db->exec_fixed("COMMIT")) {
      state.SkipWithError("floor transaction failed");
      return;
    }
  }
}

void BM_floor_fdatasync_4KiB(benchmark::State &state) {
  TempDir dir;
  const int fd = ::open((dir.path / "floor").c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    state.SkipWithError("cannot create the floor file");
    return;
  }
  std::string page(4096, 'x');
  std::uint64_t n = 0;
  for (auto _ : state) {
    page[0] = static_cast<char>('a' + n++ % 26);
    if (::pwrite(fd, page.data(), page.size(), 0) !=
            static_cast<ssize_t>(page.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("floor write failed");
      break;
    }
  }
  ::close(fd);
}

// What a restore's write costs by itself: atomic_write() replacing the
// file (temp file, fsync, rename, fsync of the directory), in wall time.
void BM_atomic_write(benchmark::State &state, Doc doc) {
  TempDir dir;
  const fs::path file = dir.path / "config.json";
  const std::string &base = base_doc(doc);
  std::uint64_t rev = 0;
  write_bytes(file, base);
  for (auto _ : state) {
    state.PauseTiming();
    const std::string bytes = bench::with_rev(base, ++rev);
    state.ResumeTiming();
    if (!atomic_write(file, bytes, std::nullopt)) {
      state.SkipWithError("atomic_write failed");
      break;
    }
  }
}

} // namespace

BENCHMARK_CAPTURE(BM_atomic_write, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_atomic_write, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_floor_sqlite_commit)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_floor_fdatasync_4KiB)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_capture_file, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_capture_file, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_capture_file_keep_all, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_capture_file_after_sleep, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(200); // 5 ms asleep each: a fixed count keeps it short
BENCHMARK_CAPTURE(BM_capture_bytes, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_capture_bytes, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_capture_file_unchanged, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_capture_file_unchanged, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_sha256, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_zstd_compress, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_zstd_decompress, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_zstd_compress_delta, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_zstd_compress_delta_prepared, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_zstd_decompress_delta, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_claude_projects)
    ->Name("BM_claude_projects/claude_2MB")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_extract_mcp, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_extract_mcp, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_replace_mcp, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_replace_mcp, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_replace_mcp_every_project)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_differs_outside_mcp, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_differs_outside_mcp, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_assess_risk, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_assess_risk, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_apply_retention, desktop_5KB, Doc::desktop)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_mask_secrets_in_text, claude_2MB, Doc::claude)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_unified_diff, claude_2MB_small_edit, Rewrite::small_edit)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_unified_diff, claude_2MB_scattered, Rewrite::scattered)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_unified_diff, claude_2MB_reindented, Rewrite::reindented)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_unified_diff, claude_2MB_reordered, Rewrite::reordered)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_unified_diff, claude_16MB_reindented, Rewrite::reindented,
                  15'000'000)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
