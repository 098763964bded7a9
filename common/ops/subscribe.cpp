// subscribe: turn this connection into a stream of new snapshots and events.
//
// Result: {"subscribed":true}. The IPC server then writes lines
// {"v":1,"event":"snapshot","data":{snapshot}} and
// {"v":1,"event":"event","data":{event}} as they happen. Needs the daemon.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_subscribe(Context &context, const json &raw_args) {
  Args args(raw_args);
  args.finish();
  require_daemon(context, "subscribe");
  return {{"subscribed", true}};
}

} // namespace mcpbk::ops
