#include <client/connection.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace mcpbk::client {

using nlohmann::json;

namespace {

#if defined(MSG_NOSIGNAL)
constexpr int k_send_flags = MSG_NOSIGNAL;
#else
constexpr int k_send_flags = 0;
#endif

} // namespace

Result<Connection> Connection::open(const std::filesystem::path &socket) {
  sockaddr_un addr{};
  if (socket.native().size() >= sizeof(addr.sun_path)) {
    return fail(ErrorCode::io_error, "socket path too long");
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail_errno("socket", errno);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket.c_str(), socket.native().size());
  if (::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) !=
      0) {
    const int err = errno;
    ::close(fd);
    return fail(ErrorCode::io_error, std::strerror(err));
  }
#if defined(SO_NOSIGPIPE)
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  Connection connection(fd);
  connection.set_timeout(std::chrono::seconds(120));
  return connection;
}

Connection::Connection(Connection &&other) noexcept
    : m_fd(other.m_fd), m_buffer(std::move(other.m_buffer)),
      m_next_id(other.m_next_id) {
  other.m_fd = -1;
}

Connection &Connection::operator=(Connection &&other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.m_fd;
    m_buffer = std::move(other.m_buffer);
    m_next_id = other.m_next_id;
    other.m_fd = -1;
  }
  return *this;
}

Connection::~Connection() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

void Connection::set_timeout(std::optional<std::chrono::milliseconds> timeout) {
  timeval tv{};
  if (timeout) {
    tv.tv_sec = static_cast<time_t>(timeout->count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout->count() % 1000) * 1000);
  }
  ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

Result<std::int64_t> Connection::send(const std::string &op, const json &args) {
  const std::int64_t id = m_next_id++;
  const json request = {{"v", 1}, {"id", id}, {"op", op}, {"args", args}};
  std::string line =
      request.dump(-1, ' ', false, json::error_handler_t::replace);
  line += '\n';
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n =
        ::send(m_fd, line.data() + sent, line.size() - sent, k_send_flags);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_errno("cannot send to the daemon", errno);
    }
    sent += static_cast<std::size_t>(n);
  }
  return id;
}

Result<std::optional<json>> Connection::read_message() {
  for (;;) {
    const auto newline = m_buffer.find('\n');
    if (newline != std::string::npos) {
      const std::string line = m_buffer.substr(0, newline);
      m_buffer.erase(0, newline + 1);
      json message = json::parse(line, nullptr, false);
      if (message.is_discarded()) {
        return fail(ErrorCode::io_error, "the daemon sent malformed JSON");
      }
      return std::optional<json>(std::move(message));
    }
    char chunk[65536];
    const ssize_t n = ::recv(m_fd, chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return fail(ErrorCode::io_error, "timed out waiting for the daemon");
      }
      return fail_errno("cannot read from the daemon", errno);
    }
    if (n == 0) {
      return std::optional<json>();
    }
    m_buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

Result<json> Connection::call(const std::string &op, const json &args) {
  TRY_ASSIGN(const std::int64_t id, send(op, args));
  for (;;) {
    TRY_ASSIGN(auto message, read_message());
    if (!message) {
      return fail(ErrorCode::io_error,
                  "the daemon closed the connection without replying");
    }
    if (message->contains("event")) {
      continue;
    }
    const auto it = message->find("id");
    if (it == message->end() || it->is_null() || *it == id) {
      return std::move(*message);
    }
  }
}

} // namespace mcpbk::client
