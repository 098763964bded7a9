// reload: re-read the daemon's config file (like SIGHUP). An invalid config
// is refused with its problems and the old one kept.
//
// Result: {"reloaded":true}. Needs the daemon.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_reload(Context &context, const json &raw_args) {
  Args args(raw_args);
  args.finish();
  require_daemon(context, "reload");
  value_or_throw(context.daemon->reload());
  return {{"reloaded", true}};
}

} // namespace mcpbk::ops
