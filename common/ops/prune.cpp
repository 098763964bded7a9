// prune: apply the retention rules now (SPEC §7).
//
// Args: dry_run? (default false). Result: {dry_run, deleted:[{snapshot,
// rule}], count, bytes_freed, blobs_freed, events_deleted}. A dry run
// deletes nothing and reports bytes_freed 0. The event log is trimmed to
// its newest Store::k_events_kept events too (events_deleted).

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_prune(Context &context, const json &raw_args) {
  Args args(raw_args);
  const bool dry_run = args.flag("dry_run");
  args.finish();

  const auto plan =
      value_or_throw(context.store.plan_prune(context.config.retention));
  json deleted = json::array();
  std::vector<std::int64_t> ids;
  for (const auto &[snapshot, rule] : plan) {
    deleted.push_back({{"snapshot", to_json(snapshot)}, {"rule", rule}});
    ids.push_back(snapshot.id);
  }
  DeleteResult done;
  std::uint64_t events = 0;
  if (!dry_run && !ids.empty()) {
    done = value_or_throw(context.store.delete_snapshots(ids));
  }
  if (!dry_run) {
    events = value_or_throw(context.store.trim_events());
  }
  return {{"dry_run", dry_run},        {"deleted", std::move(deleted)},
          {"count", ids.size()},       {"bytes_freed", done.bytes_freed},
          {"blobs_freed", done.blobs}, {"events_deleted", events}};
}

} // namespace mcpbk::ops
