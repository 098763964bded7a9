// show: one snapshot's metadata and MCP servers (SPEC §9).
//
// Args: id, show_secrets? (default false).
// Result: {"snapshot":{...}, "servers":{name: entry object}, "parse_error"?:
// "...", "content_error"?: "..."}. Secret values in the entries are masked
// unless show_secrets. A content that fails its hash check gives the
// metadata, no servers and content_error.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_show(Context &context, const json &raw_args) {
  Args args(raw_args);
  const std::int64_t id = args.id();
  const bool show_secrets = args.flag("show_secrets");
  args.finish();

  const SnapshotRecord snapshot = require_snapshot(context, id);
  const WatchTarget target =
      target_for(snapshot.host, snapshot.path, known_targets(context));
  json result = {{"snapshot", to_json(snapshot)},
                 {"format", to_string(target.format)}};
  auto bytes = context.store.content(snapshot);
  if (!bytes) {
    if (bytes.error().code != ErrorCode::integrity_error) {
      throw OpError(bytes.error().code, bytes.error().message);
    }
    // The metadata (server names included) is still worth showing.
    result["servers"] = json::object();
    result["content_error"] = bytes.error().message;
    return result;
  }
  const McpView view = view_of(*bytes, target);
  result["servers"] = servers_json(view, show_secrets);
  if (!view.parsed) {
    result["parse_error"] = view.parse_error;
  }
  return result;
}

} // namespace mcpbk::ops
