// The helper bench/run and bench/e2e.py call:
//
//   mcpbk_bench_tool gen desktop|claude FILE [REV]
//       Writes a generated config (gen.hpp) with its revision marker at REV.
//   mcpbk_bench_tool fill STORE N HOST FILE...
//       Adds N snapshots to STORE through Store::add_snapshot, round-robin
//       over the FILEs, each a revision of the desktop config (10 000
//       distinct ones), taken one second apart and ending now (1000 per
//       transaction).
//   mcpbk_bench_tool captures desktop|claude N
//       Records N edits through capture_bytes() on a temp store after a
//       prefill past retention.max_count. Only the N measured captures run
//       with callgrind instrumentation (valgrind --instr-atstart=no), so
//       callgrind's total divided by N is the instruction count per change.

#include "gen.hpp"

#include <common/capture.hpp>
#include <common/config.hpp>
#include <common/hash.hpp>
#include <common/mcp.hpp>
#include <common/store.hpp>

#include <valgrind/callgrind.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

namespace fs = std::filesystem;
using namespace mcpbk;

int usage() {
  std::cerr << "usage: mcpbk_bench_tool gen desktop|claude FILE [REV]\n"
               "       mcpbk_bench_tool fill STORE N HOST FILE...\n"
               "       mcpbk_bench_tool captures desktop|claude N\n";
  return 2;
}

std::string doc_of(const std::string &kind) {
  if (kind == "desktop") {
    return bench::desktop_config();
  }
  if (kind == "claude") {
    return bench::claude_config();
  }
  throw std::runtime_error("unknown kind " + kind);
}

int cmd_gen(int argc, char **argv) {
  if (argc < 4) {
    return usage();
  }
  const std::uint64_t rev = argc > 4 ? std::stoull(argv[4]) : 0;
  std::ofstream out(argv[3], std::ios::binary | std::ios::trunc);
  out << bench::with_rev(doc_of(argv[2]), rev);
  return out ? 0 : 1;
}

int cmd_fill(int argc, char **argv) {
  if (argc < 6) {
    return usage();
  }
  const fs::path file = argv[2];
  const std::uint64_t n = std::stoull(argv[3]);
  const std::string host = argv[4];
  std::vector<std::string> paths(argv + 5, argv + argc);
  auto store = Store::open(file, Compression::zstd, Store::Repair::no);
  if (!store) {
    std::cerr << store.error().message << "\n";
    return 1;
  }
  const std::string base = bench::desktop_config();
  const McpView view = extract_mcp(base, Format::json, "mcpServers");
  const Micros now = now_micros();
  for (std::uint64_t i = 0; i < n;) {
    auto tx = store->transaction();
    if (!tx) {
      std::cerr << tx.error().message << "\n";
      return 1;
    }
    for (std::uint64_t end = std::min(n, i + 1000); i < end; ++i) {
      // 10 000 distinct contents: each path's consecutive snapshots differ,
      // and blobs are shared between paths as content addressing allows.
      const std::string content = bench::with_rev(base, i % 10000 + 1);
      NewSnapshot s;
      s.host = host;
      s.path = paths[i % paths.size()];
      s.taken_at = now - static_cast<Micros>(n - i) * 1'000'000;
      s.mode = 0644;
      s.risk = Risk::low;
      s.parsed = true;
      s.servers = view.server_names();
      // The digest differs per revision as the real one would (the edit is
      // in a server's env); hashing the revision keeps the fill fast.
      s.mcp_digest = sha256_hex(std::to_string(i + 1));
      s.summary = "~" + s.servers[3] + "(env)";
      auto r = store->add_snapshot(s, content);
      if (!r) {
        std::cerr << r.error().message << "\n";
        return 1;
      }
    }
    if (auto c = tx->commit(); !c) {
      std::cerr << c.error().message << "\n";
      return 1;
    }
  }
  return 0;
}

int cmd_captures(int argc, char **argv) {
  if (argc < 4) {
    return usage();
  }
  const std::string kind = argv[2];
  const std::uint64_t n = std::stoull(argv[3]);
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/mcpbk-bench-XXXXXX";
  if (!::mkdtemp(pattern.data())) {
    return 1;
  }
  const fs::path dir = pattern;
  int rc = 0;
  {
    auto store =
        Store::open(dir / "store.db", Compression::zstd, Store::Repair::no);
    if (!store) {
      std::cerr << store.error().message << "\n";
      return 1;
    }
    const Config config = default_config();
    const std::string base = doc_of(kind);
    const WatchTarget target =
        kind == "desktop"
            ? target_for("claude-desktop",
                         (dir / "claude_desktop_config.json").string(), {})
            : target_for("claude-code", (dir / ".claude.json").string(), {});
    std::uint64_t rev = 0;
    auto one = [&]() {
      const std::string bytes = bench::with_rev(base, ++rev);
      auto r = capture_bytes(*store, target, bytes, 0644, {}, config);
      return r && r->kind == CaptureOutcome::Kind::recorded;
    };
    for (std::uint64_t i = 0; i < config.retention.max_count + 5; ++i) {
      if (!one()) {
        rc = 1;
      }
    }
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!one()) {
        rc = 1;
      }
    }
    CALLGRIND_DUMP_STATS_AT("measured");
    CALLGRIND_STOP_INSTRUMENTATION;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (rc != 0) {
    std::cerr << "a capture did not record\n";
  }
  return rc;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    return usage();
  }
  try {
    const std::string cmd = argv[1];
    if (cmd == "gen") {
      return cmd_gen(argc, argv);
    }
    if (cmd == "fill") {
      return cmd_fill(argc, argv);
    }
    if (cmd == "captures") {
      return cmd_captures(argc, argv);
    }
  } catch (const std::exception &e) {
    std::cerr << "mcpbk_bench_tool: " << e.what() << "\n";
    return 1;
  }
  return usage();
}
