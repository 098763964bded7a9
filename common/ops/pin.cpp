// pin / unpin: exempt a snapshot from retention, or return it (SPEC §7).
//
// Args: id. Result: {"snapshot":{...}} with the new pinned state.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

namespace {

json set_pinned(Context &context, const json &raw_args, bool pinned) {
  Args args(raw_args);
  const std::int64_t id = args.id();
  args.finish();

  require_snapshot(context, id);
  value_or_throw(context.store.set_pinned(id, pinned));
  return {{"snapshot", to_json(require_snapshot(context, id))}};
}

} // namespace

json op_pin(Context &context, const json &args) {
  return set_pinned(context, args, true);
}

json op_unpin(Context &context, const json &args) {
  return set_pinned(context, args, false);
}

} // namespace mcpbk::ops
