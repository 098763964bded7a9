// export / import: portable bundles (SPEC §9). Not implemented yet: both
// answer bad_request so clients can tell.

#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_export(Context &, const json &) {
  throw OpError(ErrorCode::bad_request, "export/import is not implemented yet");
}

json op_import(Context &, const json &) {
  throw OpError(ErrorCode::bad_request, "export/import is not implemented yet");
}

} // namespace mcpbk::ops
