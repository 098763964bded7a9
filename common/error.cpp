#include <common/error.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mcpbk {

namespace {
constexpr std::array<std::pair<ErrorCode, const char *>, 11> k_names = {{
    {ErrorCode::bad_request, "bad_request"},
    {ErrorCode::unknown_op, "unknown_op"},
    {ErrorCode::unsupported_version, "unsupported_version"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::conflict, "conflict"},
    {ErrorCode::io_error, "io_error"},
    {ErrorCode::integrity_error, "integrity_error"},
    {ErrorCode::too_large, "too_large"},
    {ErrorCode::forbidden, "forbidden"},
    {ErrorCode::busy, "busy"},
    {ErrorCode::internal, "internal"},
}};
} // namespace

const char *to_string(ErrorCode code) {
  for (const auto &[c, name] : k_names) {
    if (c == code) {
      return name;
    }
  }
  return "internal";
}

ErrorCode error_code_from_string(const std::string &text) {
  for (const auto &[c, name] : k_names) {
    if (text == name) {
      return c;
    }
  }
  return ErrorCode::internal;
}

tl::unexpected<Error> fail_errno(const std::string &what, int err) {
  Error error(ErrorCode::io_error, what + ": " + std::strerror(err));
  error.sys_errno = err;
  return tl::unexpected<Error>(std::move(error));
}

void assertion_failed(const char *condition, const char *file, int line) {
  std::fprintf(stderr, "mcpbk: assertion failed: %s (%s:%d)\n", condition, file,
               line);
  std::abort();
}

} // namespace mcpbk
