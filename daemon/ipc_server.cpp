#include <daemon/ipc_server.hpp>

#include <daemon/reader_lane.hpp>

#include <common/fs.hpp>
#include <common/ops/ops.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <poll.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>
#include <variant>

namespace mcpbk::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using stream = asio::local::stream_protocol;
using nlohmann::json;

namespace {

std::string dump_line(const json &message) {
  std::string line =
      message.dump(-1, ' ', false, json::error_handler_t::replace);
  line += '\n';
  return line;
}

std::string error_line(ErrorCode code, const std::string &message) {
  return dump_line(ops::error_reply(nullptr, code, message));
}

// The uid of the peer of a connected Unix socket, or std::nullopt.
std::optional<uid_t> peer_uid(int fd) {
#if defined(SO_PEERCRED)
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return std::nullopt;
  }
  return cred.uid;
#else
  uid_t uid = 0;
  gid_t gid = 0;
  if (::getpeereid(fd, &uid, &gid) != 0) {
    return std::nullopt;
  }
  return uid;
#endif
}

// True when a process accepts connections on the socket file.
bool socket_is_live(const fs::path &path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr *>(&addr),
                              sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

class Session;

} // namespace

struct IpcServer::Impl : std::enable_shared_from_this<IpcServer::Impl> {
  Impl(asio::io_context &io_context, ops::Context &ctx, IpcLimits lim)
      : io(io_context), context(ctx), limits(lim), acceptor(io_context),
        accept_retry(io_context) {}

  void accept();
  void remove(const std::shared_ptr<Session> &session) {
    sessions.erase(session);
  }

  asio::io_context &io;
  ops::Context &context;
  IpcLimits limits;
  stream::acceptor acceptor;
  // After a failed accept (out of file descriptors: the connection stays
  // queued, and accepting again at once failed again at once, two million
  // times in 27 s, all logged), the next waits a while.
  asio::steady_timer accept_retry;
  bool accept_failing = false;
  fs::path socket_path;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;
  std::set<std::shared_ptr<Session>> sessions;
  // Declared after what its jobs' completions use: destroyed (joined)
  // first.
  ReaderLane lane;
  bool listening = false;
  bool lost = false; // the socket file went away and re-binding failed
  std::function<void()> on_request;
};

namespace {

// One client connection. Every async operation holds a shared_ptr to it; the
// server's set holds it while it is open.
class Session : public std::enable_shared_from_this<Session> {
public:
  Session(stream::socket socket, std::weak_ptr<IpcServer::Impl> server,
          ops::Context &context, IpcLimits limits)
      : m_socket(std::move(socket)), m_timer(m_socket.get_executor()),
        m_server(std::move(server)), m_context(context), m_limits(limits) {}

  // Checks the peer, then starts reading requests.
  void start() {
    const auto uid = peer_uid(m_socket.native_handle());
    if (!uid || *uid != ::geteuid()) {
      spdlog::warn("ipc: refused a connection from uid {}",
                   uid ? std::to_string(*uid) : std::string("unknown"));
      reject(ErrorCode::forbidden,
             "this daemon serves only its own user (uid " +
                 std::to_string(::geteuid()) + ")");
      return;
    }
    arm_idle_timer();
    read();
  }

  // Sends one error line and closes once it is written.
  void reject(ErrorCode code, const std::string &message) {
    send(error_line(code, message));
    m_close_after_write = true;
  }

  // Queues one line (with its newline) for writing.
  void send(std::string line) {
    if (m_closed) {
      return;
    }
    m_queued += line.size();
    m_queue.push_back(std::move(line));
    if (!m_writing) {
      write_next();
    }
  }

  // Publishes to a subscriber; a subscriber that does not keep up is
  // dropped rather than letting its queue grow without bound.
  void publish(const std::string &line) {
    if (!m_subscribed || m_closed) {
      return;
    }
    if (m_queued + line.size() > m_limits.max_queued_bytes) {
      spdlog::warn("ipc: dropping a subscriber that does not read ({} bytes "
                   "queued)",
                   m_queued);
      close();
      return;
    }
    send(line);
  }

  bool subscribed() const { return m_subscribed && !m_closed; }

  void close() {
    if (m_closed) {
      return;
    }
    m_closed = true;
    boost::system::error_code ignored;
    m_timer.cancel();
    m_socket.shutdown(stream::socket::shutdown_both, ignored);
    m_socket.close(ignored);
    m_queue.clear();
    m_queued = 0;
    if (auto server = m_server.lock()) {
      server->remove(shared_from_this());
    }
  }

private:
  void read() {
    if (m_closed || m_reading || m_waiting) {
      return;
    }
    m_reading = true;
    asio::async_read_until(
        m_socket, asio::dynamic_buffer(m_buffer, ops::k_max_request_bytes + 1),
        '\n',
        [self = shared_from_this()](const boost::system::error_code &ec,
                                    std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code &ec, std::size_t n) {
    m_reading = false;
    if (m_closed || ec == asio::error::operation_aborted) {
      return;
    }
    if (ec == asio::error::not_found) {
      // No newline within the limit: the stream cannot be framed any more.
      reject(ErrorCode::too_large,
             "request line over " + std::to_string(ops::k_max_request_bytes) +
                 " bytes; closing the connection");
      return;
    }
    if (ec == asio::error::eof) {
      if (m_buffer.find_first_not_of(" \t\r\n") != std::string::npos) {
        // A last request without its newline.
        const std::string line = std::exchange(m_buffer, {});
        m_close_after_write = true;
        if (handle(line) && !m_writing) {
          close();
        }
        return;
      }
      // The client sent all it will (it may have shut down only its
      // writing side): replies still being written go out first.
      if (m_writing) {
        m_close_after_write = true;
        return;
      }
      close();
      return;
    }
    if (ec) {
      spdlog::debug("ipc: read failed: {}", ec.message());
      close();
      return;
    }
    std::string line = m_buffer.substr(0, n - 1);
    m_buffer.erase(0, n);
    if (handle(line)) {
      read_on();
    }
  }

  // After a reply: reads the next request, unless the client does not
  // read its replies.
  void read_on() {
    if (m_closed) {
      return;
    }
    arm_idle_timer();
    if (m_queued <= m_limits.max_queued_bytes) {
      read();
    }
  }

  // Answers one request line. Returns false when the reader lane answers
  // it: the connection then reads nothing more until on_lane_reply().
  bool handle(const std::string &line) {
    auto server = m_server.lock();
    if (server && server->on_request) {
      server->on_request();
    }
    auto parsed = ops::parse_request_line(line);
    if (auto *error = std::get_if<std::string>(&parsed)) {
      reply(std::move(*error), line);
      return true;
    }
    nlohmann::json &request = std::get<nlohmann::json>(parsed);
    if (peer_gone()) {
      // The client closed its connection before its request ran (it gave
      // up waiting: the daemon was stopped or busy, and said it failed).
      // Done now, a restore or a prune would surprise whoever saw that.
      const auto op = request.find("op");
      spdlog::info("ipc: a client left before its `{}` request ran; not "
                   "done",
                   op != request.end() && op->is_string()
                       ? op->get_ref<const std::string &>()
                       : std::string("?"));
      close();
      return false;
    }
    const ops::Reads reads = ops::reads_of(request);
    // A subscribed connection's replies keep their place among its pushed
    // messages: `events --follow` subscribes, then reads the history, and
    // drops what is pushed before the reply (it is in the history only
    // when the history is read after it was recorded).
    if (server && !m_subscribed && reads != ops::Reads::no) {
      to_lane(*server, std::move(request), reads == ops::Reads::slow);
      return false;
    }
    reply(ops::reply_line(m_context, request), line);
    return true;
  }

  // Whether the client has closed its end (both directions: a client that
  // only shut down its writing side still reads its reply).
  bool peer_gone() {
    pollfd p{m_socket.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
  }

  void to_lane(IpcServer::Impl &server, nlohmann::json request, bool slow) {
    ReaderLane::Job job;
    job.request = request;
    job.long_op = slow;
    job.config = m_context.config;
    job.env = m_context.env;
    job.targets = m_context.targets;
    // Called once, on the reader's thread: everything it holds moves to
    // the loop, so that the session is never destroyed on that thread.
    job.done = [self = shared_from_this(), &io = server.io,
                request = std::move(request)](
                   std::optional<std::string> answer) mutable {
      asio::post(io, [self = std::move(self), request = std::move(request),
                      answer = std::move(answer)]() mutable {
        self->on_lane_reply(std::move(answer), request);
      });
    };
    m_waiting = true;
    // A long request is not an idle connection.
    m_timer.cancel();
    server.lane.submit(std::move(job));
  }

  void on_lane_reply(std::optional<std::string> answer,
                     const nlohmann::json &request) {
    m_waiting = false;
    if (auto server = m_server.lock(); server && server->on_request) {
      // The end of a long request is activity too (the daemon trims its
      // memory a while after the last).
      server->on_request();
    }
    if (m_closed) {
      return;
    }
    if (!answer) {
      // The lane could not read the store: answered here instead.
      answer = ops::reply_line(m_context, request);
    }
    reply(std::move(*answer), {});
    if (m_close_after_write) {
      if (!m_writing) {
        close();
      }
      return;
    }
    read_on();
  }

  // Sends a reply line (without its newline) to the request `line`.
  void reply(std::string text, const std::string &line) {
    // The reply says whether a subscribe succeeded; only look when the
    // request could have been one.
    if (!m_subscribed && line.find("subscribe") != std::string::npos) {
      const json parsed = json::parse(text, nullptr, false);
      if (parsed.is_object() && parsed.value("ok", false) &&
          parsed.contains("result") && parsed["result"].is_object() &&
          parsed["result"].value("subscribed", false)) {
        m_subscribed = true;
        m_timer.cancel();
      }
    }
    text += '\n';
    // Usually written at once (the socket is writable): what the op left
    // for later runs while the client reads its reply.
    send(std::move(text));
    ops::finish_after_reply(m_context);
  }

  void write_next() {
    if (m_queue.empty() || m_closed) {
      return;
    }
    m_writing = true;
    asio::async_write(
        m_socket, asio::buffer(m_queue.front()),
        [self = shared_from_this()](const boost::system::error_code &ec,
                                    std::size_t) { self->on_write(ec); });
  }

  void on_write(const boost::system::error_code &ec) {
    m_writing = false;
    if (m_closed || ec == asio::error::operation_aborted) {
      return;
    }
    if (ec) {
      spdlog::debug("ipc: write failed: {}", ec.message());
      close();
      return;
    }
    m_queued -= m_queue.front().size();
    m_queue.pop_front();
    if (!m_queue.empty()) {
      write_next();
      return;
    }
    if (m_close_after_write) {
      close();
      return;
    }
    read();
  }

  void arm_idle_timer() {
    if (m_subscribed || m_limits.idle_timeout.count() <= 0) {
      return;
    }
    m_timer.expires_after(m_limits.idle_timeout);
    m_timer.async_wait(
        [self = shared_from_this()](const boost::system::error_code &ec) {
          if (ec == asio::error::operation_aborted || self->m_closed ||
              self->m_subscribed ||
              self->m_timer.expiry() > asio::steady_timer::clock_type::now()) {
            return;
          }
          spdlog::debug("ipc: closing an idle connection");
          self->close();
        });
  }

  stream::socket m_socket;
  asio::steady_timer m_timer;
  std::weak_ptr<IpcServer::Impl> m_server;
  ops::Context &m_context;
  IpcLimits m_limits;
  std::string m_buffer;
  std::deque<std::string> m_queue;
  std::size_t m_queued = 0;
  bool m_writing = false;
  bool m_reading = false;
  bool m_waiting = false; // for the reader lane's reply
  bool m_closed = false;
  bool m_close_after_write = false;
  bool m_subscribed = false;
};

} // namespace

void IpcServer::Impl::accept() {
  acceptor.async_accept(
      [weak = weak_from_this()](const boost::system::error_code &ec,
                                stream::socket socket) {
        auto self = weak.lock();
        if (!self || ec == asio::error::operation_aborted ||
            !self->acceptor.is_open()) {
          return;
        }
        if (ec) {
          if (!self->accept_failing) {
            spdlog::warn("ipc: accept failed: {}; trying again every 0.2 s",
                         ec.message());
          }
          self->accept_failing = true;
          self->accept_retry.expires_after(std::chrono::milliseconds(200));
          self->accept_retry.async_wait(
              [weak](const boost::system::error_code &wait_ec) {
                auto again = weak.lock();
                if (again && !wait_ec && again->acceptor.is_open()) {
                  again->accept();
                }
              });
          return;
        }
        if (self->accept_failing) {
          self->accept_failing = false;
          spdlog::info("ipc: accepting connections again");
        }
        {
          auto session = std::make_shared<Session>(std::move(socket), weak,
                                                   self->context, self->limits);
          if (self->sessions.size() >= self->limits.max_connections) {
            // Not tracked: it lives until its one error line is written.
            session->reject(ErrorCode::busy,
                            "too many connections (" +
                                std::to_string(self->limits.max_connections) +
                                "); try again later");
          } else {
            self->sessions.insert(session);
            session->start();
          }
        }
        self->accept();
      });
}

IpcServer::IpcServer(asio::io_context &io, ops::Context &context,
                     IpcLimits limits)
    : m_impl(std::make_shared<Impl>(io, context, limits)) {
  // The daemon sets it again when it reopens its store.
  m_impl->lane.set_store(context.store.file(), context.store.identity());
}

IpcServer::~IpcServer() {
  stop();
}

Result<void> IpcServer::listen(const fs::path &socket) {
  sockaddr_un probe{};
  if (socket.native().size() >= sizeof(probe.sun_path)) {
    return fail(
        ErrorCode::io_error,
        "socket path is too long (" + std::to_string(socket.native().size()) +
            " bytes, at most " + std::to_string(sizeof(probe.sun_path) - 1) +
            "): " + socket.string());
  }
  TRY(ensure_private_dir(socket.parent_path()));
  struct stat st {};
  if (::lstat(socket.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(ErrorCode::conflict,
                  socket.string() + " exists and is not a socket");
    }
    if (socket_is_live(socket)) {
      return fail(ErrorCode::conflict,
                  "another daemon is listening on " + socket.string());
    }
    if (::unlink(socket.c_str()) != 0 && errno != ENOENT) {
      return fail_errno("cannot remove the stale socket " + socket.string(),
                        errno);
    }
  }
  Impl &impl = *m_impl;
  boost::system::error_code ec;
  impl.acceptor.open(stream(), ec);
  if (!ec) {
    impl.acceptor.bind(stream::endpoint(socket.native()), ec);
  }
  if (!ec) {
    impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    boost::system::error_code ignored;
    impl.acceptor.close(ignored);
    return fail(ErrorCode::io_error,
                "cannot listen on " + socket.string() + ": " + ec.message());
  }
  if (::chmod(socket.c_str(), 0600) != 0) {
    const int err = errno;
    boost::system::error_code ignored;
    impl.acceptor.close(ignored);
    ::unlink(socket.c_str());
    return fail_errno("cannot chmod " + socket.string(), err);
  }
  if (::lstat(socket.c_str(), &st) == 0) {
    impl.socket_dev = st.st_dev;
    impl.socket_ino = st.st_ino;
  }
  impl.socket_path = socket;
  impl.listening = true;
  impl.accept_retry.cancel(); // one accept loop at a time
  impl.accept();
  return {};
}

void IpcServer::stop() {
  Impl &impl = *m_impl;
  boost::system::error_code ignored;
  impl.accept_retry.cancel();
  impl.acceptor.close(ignored);
  const auto sessions = impl.sessions;
  for (const auto &session : sessions) {
    session->close();
  }
  impl.sessions.clear();
  impl.lost = false;
  if (impl.listening) {
    impl.listening = false;
    ::unlink(impl.socket_path.c_str());
  }
}

Result<bool> IpcServer::ensure_socket() {
  Impl &impl = *m_impl;
  if (!impl.listening && !impl.lost) {
    return false;
  }
  struct stat st {};
  if (impl.listening && ::lstat(impl.socket_path.c_str(), &st) == 0 &&
      st.st_dev == impl.socket_dev && st.st_ino == impl.socket_ino) {
    return false;
  }
  // The pending accept completes with operation_aborted and stops there;
  // listen() starts a new one.
  boost::system::error_code ignored;
  impl.acceptor.close(ignored);
  impl.listening = false;
  impl.lost = true;
  const fs::path socket = impl.socket_path;
  TRY(listen(socket));
  impl.lost = false;
  return true;
}

void IpcServer::publish(const json &message) {
  if (!has_subscribers()) {
    return;
  }
  const std::string line = dump_line(message);
  const auto sessions = m_impl->sessions;
  for (const auto &session : sessions) {
    session->publish(line);
  }
}

bool IpcServer::has_subscribers() const {
  return std::ranges::any_of(m_impl->sessions,
                             [](const auto &s) { return s->subscribed(); });
}

std::size_t IpcServer::connection_count() const {
  return m_impl->sessions.size();
}

void IpcServer::on_request(std::function<void()> callback) {
  m_impl->on_request = std::move(callback);
}

ReaderLane &IpcServer::reader_lane() {
  return m_impl->lane;
}

} // namespace mcpbk::daemon
