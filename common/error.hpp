#pragma once

#include <tl/expected.hpp>

#include <string>
#include <utility>

namespace mcpbk {

// Error codes shared by the library and the wire protocol (SPEC §8).
enum class ErrorCode {
  bad_request,
  unknown_op,
  unsupported_version,
  not_found,
  conflict,
  io_error,
  integrity_error,
  too_large,
  forbidden,
  busy,
  internal,
};

// The protocol spelling of an error code.
const char *to_string(ErrorCode code);

// Parses a protocol spelling; unknown spellings give ErrorCode::internal.
ErrorCode error_code_from_string(const std::string &text);

// A failure with a code and a message meant for a person.
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  int sys_errno = 0; // the errno behind it (fail_errno()), 0 if none

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
};

template <typename T> using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

// An error from errno, as "<what>: <strerror>".
tl::unexpected<Error> fail_errno(const std::string &what, int err);

// Always-on invariant check: prints the condition and aborts.
[[noreturn]] void assertion_failed(const char *condition, const char *file,
                                   int line);

} // namespace mcpbk

#define MCPBK_CONCAT_(a, b) a##b
#define MCPBK_CONCAT(a, b) MCPBK_CONCAT_(a, b)

// Propagates the error of an expression returning Result<T>, discarding the
// value.
#define TRY(expr) MCPBK_TRY_IMPL_(expr, MCPBK_CONCAT(try_result_, __COUNTER__))
#define MCPBK_TRY_IMPL_(expr, var)                                             \
  do {                                                                         \
    auto &&var = (expr);                                                       \
    if (!var)                                                                  \
      return tl::unexpected<::mcpbk::Error>(std::move(var).error());           \
  } while (false)

// Propagates the error of an expression returning Result<T>, else declares
// `decl` from its value: TRY_ASSIGN(auto bytes, read_file(path));
#define TRY_ASSIGN(decl, expr)                                                 \
  auto MCPBK_CONCAT(try_tmp_, __LINE__) = (expr);                              \
  if (!MCPBK_CONCAT(try_tmp_, __LINE__))                                       \
    return tl::unexpected<::mcpbk::Error>(                                     \
        std::move(MCPBK_CONCAT(try_tmp_, __LINE__)).error());                  \
  decl = std::move(*MCPBK_CONCAT(try_tmp_, __LINE__))

#define MCPBK_ASSERT(cond)                                                     \
  do {                                                                         \
    if (!(cond))                                                               \
      ::mcpbk::assertion_failed(#cond, __FILE__, __LINE__);                    \
  } while (false)
