// list: snapshots, newest first (SPEC §9): in the order recorded, imported
// ones placed by their time (Store::list).
//
// Args: host?, path? (absolute or ~), since? (ISO 8601 or integer
// microseconds), limit? (>= 1), before_id? (the next page: those listed
// after that snapshot).
// Result: {"snapshots":[snapshot...]}.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_list(Context &context, const json &raw_args) {
  Args args(raw_args);
  ListFilter filter;
  filter.host = args.string("host");
  check_host(args, "host", filter.host);
  if (auto path = args.string("path")) {
    if (auto normal = watched_path(context, args, "path", *path)) {
      filter.path = normal->string();
    }
  }
  filter.since = args.time("since");
  filter.limit = args.integer("limit", 1);
  filter.before_id = args.integer("before_id", 1);
  args.finish();

  json snapshots = json::array();
  for (const auto &record : value_or_throw(context.store.list(filter))) {
    snapshots.push_back(to_json(record));
  }
  return {{"snapshots", std::move(snapshots)}};
}

} // namespace mcpbk::ops
