// verify: re-hash every blob and check the database (SPEC §6).
//
// Result: {ok, blobs_checked, snapshots_checked, problems:["..."]}. Problems
// are a result, not an error reply; the client exits 1 when ok is false.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_verify(Context &context, const json &raw_args) {
  Args args(raw_args);
  args.finish();

  const VerifyReport report = value_or_throw(context.store.verify());
  json problems = json::array();
  for (const auto &problem : report.problems) {
    problems.push_back(problem.what);
  }
  return {{"ok", report.ok()},
          {"blobs_checked", report.blobs_checked},
          {"snapshots_checked", report.snapshots_checked},
          {"problems", std::move(problems)}};
}

} // namespace mcpbk::ops
