// libFuzzer target: one protocol request line through ops::handle_line and
// the real handlers, on a store in a temp dir (SPEC §8).
//
// At start-up it makes a temp dir with a HOME holding a few host files, and
// a store with snapshots of them (several versions, one pinned) and events.
// Each input is one request line; the reply must be a JSON object with
// "v":1 and either "ok":true with a result or "ok":false with an error code
// of SPEC §8. Anything else aborts.
//
// Ops that write files only ever write inside the temp dir: snapshot paths
// all lie inside it, requests whose restore has a "to" argument are skipped
// (it may name any path on disk), and so are snapshot requests naming a
// path outside the temp dir (a later restore would write it back there).
// After a request that changed the store or the files, both are rebuilt, so
// every input runs against the same state and a crash reproduces alone.

#include <common/capture.hpp>
#include <common/config.hpp>
#include <common/env.hpp>
#include <common/fs.hpp>
#include <common/hosts.hpp>
#include <common/ops/ops.hpp>
#include <common/store.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdlib.h>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace mcpbk;

[[noreturn]] void fail(const std::string &what, std::string_view line,
                       std::string_view reply) {
  std::fprintf(stderr, "fuzz_request: %s\nrequest: %.*s\nreply: %.*s\n",
               what.c_str(), static_cast<int>(line.size()), line.data(),
               static_cast<int>(reply.size()), reply.data());
  std::abort();
}

void check(bool ok, const std::string &what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_request: set-up failed: %s\n", what.c_str());
    std::abort();
  }
}

void write(const fs::path &path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  check(static_cast<bool>(out), "write " + path.string());
}

// Host files of the temp HOME, each in a few versions (the last one stays on
// disk).
struct Sample {
  const char *relative;
  std::array<const char *, 3> versions;
};

const std::array<Sample, 4> k_samples = {{
    {".claude.json",
     {R"({"mcpServers":{"github":{"command":"npx","args":["-y","gh"],"env":{"GITHUB_TOKEN":"ghp_abcdefghijklmnopqrstuvwxyz0123"}}},"projects":{"/tmp/p":{"mcpServers":{"fs":{"command":"fs"}}}},"numStartups":3})",
      R"({"mcpServers":{"github":{"command":"npx","args":["-y","gh"]},"slack":{"url":"https://x"}},"numStartups":4})",
      R"({"mcpServers":{},"numStartups":5})"}},
    {".cursor/mcp.json",
     {R"({"mcpServers":{"a":{"command":"a"},"b":{"command":"b"}}})",
      "{not json",
      R"({"mcpServers":{"a":{"command":"a2","env":{"API_KEY":"sk-123456789"}}}})"}},
    {".codex/config.toml",
     {"model = \"x\"\n[mcp_servers.github]\ncommand = \"npx\"\nargs = "
      "[\"gh\"]\n",
      "model = \"x\"\n[mcp_servers.github]\ncommand = \"npx\"\n"
      "[mcp_servers.docs]\nurl = \"https://d\"\n",
      ""}},
    {".continue/config.yaml",
     {"name: c\nmcpServers:\n  - name: fs\n    command: npx\n",
      "name: c\nmcpServers: [\n", "name: c\nmcpServers:\n  - name: web\n"}},
}};

struct State {
  fs::path root;
  fs::path home;
  Env env;
  Config config = default_config();
  std::optional<Store> store;
  std::shared_ptr<const std::vector<WatchTarget>> targets;
};

State *g_state = nullptr;

// (Re)creates the HOME files and the store.
void populate(State &state) {
  state.store.reset();
  std::error_code ec;
  fs::remove_all(state.home, ec);
  fs::remove_all(state.root / "state", ec);
  fs::create_directories(state.home);
  fs::create_directories(state.root / "state");

  auto store = Store::open(state.root / "state" / "store.db", Compression::zstd,
                           Store::Repair::no);
  check(store.has_value(), "open store");
  state.store.emplace(std::move(*store));

  ResolveInput input;
  input.config = &state.config;
  input.env = state.env;
  state.targets =
      std::make_shared<const std::vector<WatchTarget>>(resolve_targets(input));

  Micros at = 1'700'000'000'000'000;
  for (const auto &sample : k_samples) {
    const fs::path path = state.home / sample.relative;
    const auto it =
        std::find_if(state.targets->begin(), state.targets->end(),
                     [&](const WatchTarget &t) { return t.path == path; });
    check(it != state.targets->end(), "no target for " + path.string());
    for (const char *version : sample.versions) {
      write(path, version);
      CaptureRequest request;
      request.trigger = SnapshotTrigger::change;
      auto outcome = capture_file(*state.store, *it, request, state.config);
      check(outcome.has_value(), "capture " + path.string());
    }
  }
  check(state.store->set_pinned(1, true).has_value(), "pin");
  for (int i = 0; i < 3; ++i) {
    NewEvent event;
    event.severity = i == 0 ? Severity::critical : Severity::warning;
    event.kind = i == 0 ? "risk" : "skipped";
    event.path = (state.home / ".cursor/mcp.json").string();
    event.message = "event " + std::to_string(i);
    event.details = i == 2 ? "not json" : R"({"risk":"critical"})";
    event.at = at + i;
    check(state.store->add_event(event).has_value(), "add event");
  }
}

State &state() {
  if (g_state != nullptr) {
    return *g_state;
  }
  char pattern[] = "/tmp/mcpbk-fuzz-request-XXXXXX";
  check(::mkdtemp(pattern) != nullptr, "mkdtemp");
  g_state = new State;
  g_state->root = fs::path(pattern);
  g_state->home = g_state->root / "home";
  g_state->env = Env::from_map({
      {"HOME", g_state->home.string()},
      {"XDG_CONFIG_HOME", (g_state->home / ".config").string()},
      {"XDG_STATE_HOME", (g_state->home / ".local/state").string()},
      {"XDG_DATA_HOME", (g_state->home / ".local/share").string()},
      {"XDG_RUNTIME_DIR", (g_state->root / "run").string()},
  });
  g_state->config.store.dir = (g_state->root / "state").string();
  populate(*g_state);
  std::atexit([] {
    std::error_code ec;
    g_state->store.reset();
    fs::remove_all(g_state->root, ec);
  });
  return *g_state;
}

bool inside(const fs::path &path, const fs::path &root) {
  const auto rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

// Requests the harness does not run because they could write outside the
// temp dir. Parsed exactly as handle_line parses them.
bool skip(const State &s, std::string_view line) {
  const json request = json::parse(line, nullptr, false);
  if (!request.is_object()) {
    return false;
  }
  const auto op = request.find("op");
  const auto args = request.find("args");
  if (op == request.end() || !op->is_string() || args == request.end() ||
      !args->is_object()) {
    return false;
  }
  if (*op == "restore" && args->contains("to")) {
    return true;
  }
  if (*op == "snapshot") {
    const auto paths = args->find("paths");
    if (paths == args->end() || !paths->is_array()) {
      return false;
    }
    for (const auto &p : *paths) {
      if (p.is_string() &&
          !inside(normalize_path(expand_home(p.get<std::string>(), s.env)),
                  s.root)) {
        return true;
      }
    }
  }
  return false;
}

const std::array<std::string_view, 11> k_codes = {"bad_request",
                                                  "unknown_op",
                                                  "unsupported_version",
                                                  "not_found",
                                                  "conflict",
                                                  "io_error",
                                                  "integrity_error",
                                                  "too_large",
                                                  "forbidden",
                                                  "busy",
                                                  "internal"};

// Whether the request may have changed the store or the files.
bool mutating(const json &request) {
  if (!request.is_object() || !request.contains("op") ||
      !request["op"].is_string()) {
    return false;
  }
  const auto &op = request["op"].get_ref<const std::string &>();
  return op == "restore" || op == "snapshot" || op == "prune" || op == "pin" ||
         op == "unpin" || op == "import" || op == "export";
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  State &s = state();
  std::string_view line(reinterpret_cast<const char *>(data), size);
  // handle_line strips one trailing "\n" and "\r"; the filter sees the same.
  std::string_view stripped = line;
  if (!stripped.empty() && stripped.back() == '\n') {
    stripped.remove_suffix(1);
  }
  if (!stripped.empty() && stripped.back() == '\r') {
    stripped.remove_suffix(1);
  }
  if (skip(s, stripped)) {
    return -1; // not added to the corpus
  }

  ops::Context context{.store = *s.store,
                       .config = s.config,
                       .env = s.env,
                       .os = current_os(),
                       .daemon = nullptr,
                       .targets = s.targets,
                       .progress = {},
                       .after_reply = {}};
  const std::string reply_text = ops::handle_line(context, line);
  ops::finish_after_reply(context);

  const json reply = json::parse(reply_text, nullptr, false);
  if (!reply.is_object()) {
    fail("reply is not a JSON object", line, reply_text);
  }
  if (!reply.contains("v") || reply["v"] != 1) {
    fail("reply without \"v\":1", line, reply_text);
  }
  if (!reply.contains("id")) {
    fail("reply without id", line, reply_text);
  }
  if (!reply.contains("ok") || !reply["ok"].is_boolean()) {
    fail("reply without a boolean ok", line, reply_text);
  }
  if (reply["ok"] == true) {
    if (!reply.contains("result")) {
      fail("ok reply without result", line, reply_text);
    }
  } else {
    const auto error = reply.find("error");
    if (error == reply.end() || !error->is_object() ||
        !error->contains("code") || !(*error)["code"].is_string() ||
        !error->contains("message") || !(*error)["message"].is_string()) {
      fail("error reply without error.code and error.message", line,
           reply_text);
    }
    const auto &code = (*error)["code"].get_ref<const std::string &>();
    if (std::find(k_codes.begin(), k_codes.end(), code) == k_codes.end()) {
      fail("error code not in SPEC §8: " + code, line, reply_text);
    }
    // An internal error is a handler bug the dispatcher caught: not a crash
    // of the daemon, but a bug all the same.
    if (code == "internal") {
      fail("internal error reply", line, reply_text);
    }
  }

  // A refused request changed nothing; anything else may have.
  const bool refused =
      reply["ok"] == false && (reply["error"]["code"] == "bad_request" ||
                               reply["error"]["code"] == "not_found" ||
                               reply["error"]["code"] == "unknown_op");
  if (!refused && mutating(json::parse(stripped, nullptr, false))) {
    populate(s);
  }
  return 0;
}
