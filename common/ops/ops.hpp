#pragma once

// Protocol ops (SPEC §8): one handler per op, in common/ops/<op>.cpp, listed
// in one table in common/ops/registry.cpp. The daemon and the client's
// offline mode run the same handlers.

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/error.hpp>
#include <common/hosts.hpp>
#include <common/store.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mcpbk::ops {

using nlohmann::json;

inline constexpr int k_protocol_version = 1;
inline constexpr std::size_t k_max_request_bytes = 1 << 20;
// Requests nested deeper than this are refused (values are walked
// recursively).
inline constexpr int k_max_request_depth = 64;

// A problem with one field of a request.
struct FieldError {
  std::string field; // "args.id"
  std::string message;
};

// Thrown by handlers; the dispatcher turns it into an error reply.
struct OpError : std::exception {
  ErrorCode code;
  std::string message;
  std::vector<FieldError> details;

  OpError(ErrorCode c, std::string m, std::vector<FieldError> d = {})
      : code(c), message(std::move(m)), details(std::move(d)) {}
  const char *what() const noexcept override { return message.c_str(); }
};

// Throws the Result's error as an OpError, else returns its value.
template <typename T> T value_or_throw(Result<T> result) {
  if (!result) {
    throw OpError(result.error().code, result.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*result);
  }
}

// What only a running daemon can do. Offline, Context::daemon is null and
// ops that need it answer with an error.
class DaemonServices {
public:
  virtual ~DaemonServices() = default;
  // Daemon facts for `status`: version, instance_id, pid, uptime_s, watched
  // files and their state, warnings.
  virtual json status_info() = 0;
  // The files currently being watched (valid until the daemon next
  // resolves its targets: a rescan or a reload).
  virtual const std::vector<WatchTarget> &watched_targets() = 0;
  // Those of them whose saves wake nothing (a directory they need could not
  // be watched: the inotify watch limit): only the periodic rescan, when
  // there is one, sees them.
  virtual std::set<std::filesystem::path> unreported() = 0;
  // Re-reads the config file; the error message says why it was refused.
  virtual Result<void> reload() = 0;
  // Tells the daemon a file was just restored (it records a warning if the
  // file is rewritten within 10 s, and must not treat the write as a
  // change of its own).
  virtual void restored(const WatchTarget &target) = 0;
  // Pushes an event or a new snapshot to `subscribe` connections.
  virtual void publish(const json &message) = 0;
};

// Everything a handler may use.
struct Context {
  Store &store;
  const Config &config;
  const Env &env;
  Os os = current_os();
  DaemonServices *daemon = nullptr; // null in the client's offline mode
  // Resolved watch targets (the daemon's, shared with the requests its
  // reader threads answer, or resolved by the client). Null: not yet.
  std::shared_ptr<const std::vector<WatchTarget>> targets;
  // Long ops (export, import) report (done, total) here when set: the
  // client's direct mode draws a progress bar with it.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
  // Work that need not delay the reply (a restore frees the replaced
  // file's blocks here): run by finish_after_reply(), which the daemon calls
  // once the reply is sent and dispatch() calls before the next request.
  std::vector<std::function<void()>> after_reply;
};

// Runs and clears context.after_reply.
void finish_after_reply(Context &context);

// An op: its name, handler, whether it works offline, and a one-line help.
// Where the daemon may answer an op: on its loop, or beside it (ops that
// read the store and the watched files and change nothing, nor need the
// daemon's own state), those that can take long (a diff of two very
// different files, a verify of a large store) apart.
enum class Reads { no, quick, slow };

struct OpDef {
  std::string_view name;
  json (*handler)(Context &, const json &args);
  bool offline;
  std::string_view help;
  Reads reads = Reads::no;
  // For a request with dry_run:true, when more than `reads` (a restore's
  // preview changes nothing).
  Reads dry_run_reads = Reads::no;
};

// Every op, in one table.
std::span<const OpDef> op_table();

// Handles one parsed request object and returns the reply object. Never
// throws: handler errors and exceptions become error replies.
json dispatch(Context &context, const json &request);

// Parses one request line and returns the reply line (no trailing newline).
// Malformed JSON, non-objects and oversized lines get error replies.
std::string handle_line(Context &context, std::string_view line);

// handle_line() in two steps: the parsed request, or the error reply line
// for a line that is not one (oversized, malformed, nested too deep, a key
// given twice)...
std::variant<json, std::string> parse_request_line(std::string_view line);
// ...and the reply line to a parsed request. Never throws.
std::string reply_line(Context &context, const json &request);

// The request's op's OpDef::reads (Reads::no for a request without a known
// op), or its OpDef::dry_run_reads with dry_run:true where that says more.
Reads reads_of(const json &request);

// Builds an error reply.
json error_reply(const json &id, ErrorCode code, const std::string &message,
                 const std::vector<FieldError> &details = {});

// JSON form of records (SPEC §9: taken_at as ISO 8601 UTC).
json to_json(const SnapshotRecord &snapshot);
json to_json(const EventRecord &event);

// What is wrong with a watched file now, from its snapshots: null when its
// newest snapshot parses and has servers (or it never had any), else
// {problem: "unparseable"|"no_servers", latest_id, last_good_id?,
// last_good_servers?}. status and doctor report it. Throws OpError.
json watched_file_problem(Store &store, const std::string &path);

// For a watched file that does not exist now but has snapshots: {deleted:
// true, latest_id, last_good_id?, last_good_servers?} (what a restore would
// put back); null when it has none. Throws OpError.
json deleted_file_info(Store &store, const std::string &path);

} // namespace mcpbk::ops
