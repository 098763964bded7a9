#pragma once

// Helpers shared by the op handlers (common/ops/*.cpp). Not part of the
// protocol interface: only the ops include this.

#include <common/capture.hpp>
#include <common/mcp.hpp>
#include <common/ops/ops.hpp>
#include <common/time.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk::ops {

// The handlers listed in registry.cpp, one per file.
json op_status(Context &context, const json &args);
json op_hosts(Context &context, const json &args);
json op_list(Context &context, const json &args);
json op_show(Context &context, const json &args);
json op_content(Context &context, const json &args);
json op_diff(Context &context, const json &args);
json op_restore(Context &context, const json &args);
json op_snapshot(Context &context, const json &args);
json op_prune(Context &context, const json &args);
json op_verify(Context &context, const json &args);
json op_events(Context &context, const json &args);
json op_subscribe(Context &context, const json &args);
json op_pin(Context &context, const json &args);
json op_unpin(Context &context, const json &args);
json op_export(Context &context, const json &args);
json op_import(Context &context, const json &args);
json op_reload(Context &context, const json &args);

// Reads and checks the arguments of one request. Getters never throw: a
// missing or mistyped argument is recorded as a field error ("args.limit")
// and an empty value returned. finish() then throws every error at once as
// one bad_request, and rejects arguments no getter asked for; call it before
// using any value.
class Args {
public:
  explicit Args(const json &args);

  // An integer argument >= min; floats, strings and booleans are errors.
  std::optional<std::int64_t>
  integer(std::string_view name,
          std::int64_t min = std::numeric_limits<std::int64_t>::min());
  // A required snapshot id (an integer >= 1).
  std::int64_t id(std::string_view name = "id");
  // A string argument; empty strings are errors.
  std::optional<std::string> string(std::string_view name);
  // A boolean argument, false when absent.
  bool flag(std::string_view name);
  // An array of non-empty strings.
  std::optional<std::vector<std::string>> strings(std::string_view name);
  // A time: ISO 8601 text or integer microseconds since the epoch.
  std::optional<Micros> time(std::string_view name);
  // Whether the request has the argument (null included, which each of the
  // getters above refuses).
  bool has(std::string_view name) const;

  // Records an error of one argument.
  void error(std::string_view name, std::string message);
  // Throws the recorded errors as a bad_request.
  void finish();

private:
  const json *find(std::string_view name);

  const json &m_args;
  std::set<std::string, std::less<>> m_known;
  std::vector<FieldError> m_errors;
};

// "args.<name>".
std::string field_name(std::string_view name);

// The watch targets a handler should consider: the context's, else the
// daemon's, else resolved now from the config and environment. A view: copy
// it to keep it across anything that may make the daemon resolve its targets
// again.
const std::vector<WatchTarget> &known_targets(Context &context);

// A path from a client: "~" expanded, absolute required, lexically normal.
// Relative paths are refused (the client resolves them against its own
// working directory). Records an error on args for a bad path.
std::optional<std::filesystem::path> client_path(Context &context, Args &args,
                                                 std::string_view field,
                                                 const std::string &text);

// Why a file must not be written at `path`: it is in the store's directory
// (an export or restore there replaced store.db, or the lock file, and the
// daemon went on with an empty history). Nothing when it may be.
std::optional<std::string> in_state_dir(Context &context,
                                        const std::filesystem::path &path);

// A client path that names a watched file (list, snapshot, export and
// restore --last-good filter by it): as client_path(), and when the path is
// not itself watched but is where a watched path's links lead (the file in
// a dotfiles repository that ~/.cursor/mcp.json links to), the watched path,
// which is the one the store files its snapshots under. A path that is not
// UTF-8 arrives with U+FFFD for its bad bytes: the watched path that reads
// the same is taken.
std::optional<std::filesystem::path> watched_path(Context &context, Args &args,
                                                  std::string_view field,
                                                  const std::string &text);

// The snapshot with that id; not_found (with field details) when missing.
SnapshotRecord require_snapshot(Context &context, std::int64_t id,
                                std::string_view field = "id");

// The host must be in the catalog; records an error otherwise.
void check_host(Args &args, std::string_view field,
                const std::optional<std::string> &host);

// The MCP view of content as the target's format reads it.
McpView view_of(std::string_view bytes, const WatchTarget &target);

// The servers of a view as {name: entry object}, masked unless show_secrets.
json servers_json(const McpView &view, bool show_secrets);

// Server changes as [{name, kind, fields}].
json server_changes_json(const std::vector<ServerChange> &changes);

// Pushes new snapshots and events to subscribers when a daemon runs.
void publish_snapshot(Context &context, const SnapshotRecord &snapshot);
void publish_events(Context &context, const std::vector<EventRecord> &events);

// Throws bad_request when no daemon runs (the client's offline mode).
void require_daemon(const Context &context, std::string_view op);

// "#12 ~/.claude.json @ 2026-11-21T10:00:00.123456Z".
std::string snapshot_label(const Context &context,
                           const SnapshotRecord &snapshot);

// A warning when the host application of a snapshot appears to be running
// (it may rewrite the file); std::nullopt when it does not or is unknown.
std::optional<std::string> running_host_warning(std::string_view host);

} // namespace mcpbk::ops
