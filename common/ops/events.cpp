// events: the event log, newest first (SPEC §6).
//
// Args: limit? (>= 1), after_id? (only newer events, for following).
// Result: {"events":[event...]}.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_events(Context &context, const json &raw_args) {
  Args args(raw_args);
  const auto limit = args.integer("limit", 1);
  const auto after_id = args.integer("after_id", 0);
  args.finish();

  json events = json::array();
  for (const auto &event :
       value_or_throw(context.store.events(limit, after_id))) {
    events.push_back(to_json(event));
  }
  return {{"events", std::move(events)}};
}

} // namespace mcpbk::ops
