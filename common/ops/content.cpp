// content: one snapshot's exact bytes (SPEC §8: file bytes travel base64).
//
// Args: id. Result: {"snapshot":{...}, "content_base64":"..."}. The blob's
// hash is verified: integrity_error when the store was tampered with.

#include <common/base64.hpp>
#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_content(Context &context, const json &raw_args) {
  Args args(raw_args);
  const std::int64_t id = args.id();
  args.finish();

  const SnapshotRecord snapshot = require_snapshot(context, id);
  const std::string bytes = value_or_throw(context.store.content(snapshot));
  return {{"snapshot", to_json(snapshot)},
          {"content_base64", base64_encode(bytes)}};
}

} // namespace mcpbk::ops
