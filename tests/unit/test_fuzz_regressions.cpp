// Bugs found by the fuzzers (fuzz/, docs/RELIABILITY.md), reproduced in the
// normal build. Each test names the function at fault and the reproducer
// kept in fuzz/regressions/<target>/. A test of a bug not fixed yet carries
// doctest::may_fail(): it runs and reports, but does not fail the suite;
// whoever fixes the bug removes the decorator. (None is open.)

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/ops/ops.hpp>
#include <common/store.hpp>

#include <doctest/doctest.h>
#include <tests/unit/scratch.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

using namespace mcpbk;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A store in the test's scratch dir and a HOME next to it, as the client's
// offline mode would have them.
struct OfflineOps {
  fs::path dir = test::scratch_dir();
  Config config = default_config();
  Env env = Env::from_map({{"HOME", (dir / "home").string()}});
  std::optional<Store> store;

  OfflineOps() {
    fs::create_directories(dir / "home");
    auto opened =
        Store::open(dir / "store.db", Compression::zstd, Store::Repair::no);
    REQUIRE(opened);
    store.emplace(std::move(*opened));
  }

  json request(std::string_view line) {
    ops::Context context{.store = *store,
                         .config = config,
                         .env = env,
                         .os = current_os(),
                         .daemon = nullptr,
                         .targets = {},
                         .progress = {},
                         .after_reply = {}};
    const std::string reply = ops::handle_line(context, line);
    ops::finish_after_reply(context);
    return json::parse(reply);
  }
};

} // namespace

// fuzz/regressions/fuzz_request/number-overflow-internal-error: a number
// too large for a double throws json out_of_range (406), not parse_error, so
// handle_line answered "internal" instead of "bad_request" (SPEC §8:
// malformed JSON gets a bad_request error reply).
TEST_CASE("ops::handle_line rejects an overflowing number as bad_request") {
  OfflineOps ops;
  const json reply = ops.request(R"({"v":1,"id":1e400,"op":"status"})");
  CHECK(reply["v"] == 1);
  CHECK(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "bad_request");
}

// fuzz/regressions/fuzz_request/deep-nesting-stack-overflow: dispatch()
// copies "args" (`args = *it;`), and nlohmann's copy is recursive, so a
// request of deeply nested arrays (well under the 1 MiB limit) overflows the
// stack and killed the daemon (SIGSEGV). handle_line now refuses requests
// nested deeper than k_max_request_depth while parsing.
TEST_CASE("ops::handle_line survives deeply nested args") {
  OfflineOps ops;
  constexpr std::size_t k_depth = 500'000;
  const std::string line = R"({"v":1,"op":"list","args":{"x":)" +
                           std::string(k_depth, '[') +
                           std::string(k_depth, ']') + "}}";
  REQUIRE(line.size() < ops::k_max_request_bytes);
  const json reply = ops.request(line);
  CHECK(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "bad_request");
}

// Found by hand: {"v":1,"op":"status","op":"list"} ran list (the last key
// won). A key given twice in one object, at any level, is a bad request;
// the same key in two objects is fine.
TEST_CASE("ops::handle_line refuses a key given twice in one object") {
  OfflineOps ops;
  for (const char *line :
       {R"({"v":1,"op":"status","op":"list"})",
        R"({"v":1,"op":"list","args":{"limit":1,"limit":2}})"}) {
    const json reply = ops.request(line);
    CHECK(reply["ok"] == false);
    CHECK(reply["error"]["code"] == "bad_request");
    CHECK(reply["error"]["message"].get<std::string>().find("given twice") !=
          std::string::npos);
  }
  const json reply =
      ops.request(R"({"v":1,"op":"list","args":{"limit":1},"id":{"limit":2}})");
  CHECK(reply["error"]["message"].get<std::string>().find("given twice") ==
        std::string::npos);
}
