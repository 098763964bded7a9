#include <client/connection.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

// How often a read that waits looks at the daemon's process.
constexpr std::chrono::milliseconds k_look_every{500};
// How long a connection waits for room in the daemon's queue.
constexpr std::chrono::seconds k_connect_patience{3};

// The pid at the other end of a connected Unix socket, 0 if unknown.
int peer_pid_of(int fd) {
#if defined(SO_PEERCRED)
  ucred cred{};
  socklen_t size = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == 0) {
    return static_cast<int>(cred.pid);
  }
#endif
  (void)fd;
  return 0;
}

} // namespace

std::string stopped_daemon_message(const std::string &pid) {
  return "mcpbkd (pid " + pid + ") is stopped and cannot answer; `kill -CONT " +
         pid + "` lets it go on";
}

// Its state in /proc/PID/stat, the letter after the command's closing
// parenthesis.
bool process_stopped(int pid) {
  if (pid <= 0) {
    return false;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) {
    return false;
  }
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) {
    return false;
  }
  const char state = stat[close + 2];
  return state == 'T' || state == 't';
}

std::optional<std::filesystem::path> listening_socket_of(int pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  // The process's sockets by inode...
  std::set<std::string> inodes;
  std::error_code ec;
  const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto &entry : std::filesystem::directory_iterator(fds, ec)) {
    std::error_code link_ec;
    const std::string target =
        std::filesystem::read_symlink(entry.path(), link_ec).string();
    if (!link_ec && target.starts_with("socket:[") && target.ends_with("]")) {
      inodes.insert(target.substr(8, target.size() - 9));
    }
  }
  if (inodes.empty()) {
    return std::nullopt;
  }
  // ...and among Unix sockets, a listening one of them with a path:
  // "Num RefCount Protocol Flags Type St Inode Path", Flags with
  // __SO_ACCEPTCON (00010000).
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line); // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >>
          inode) ||
        !std::getline(fields >> std::ws, path)) {
      continue; // no path: an unnamed or abstract socket
    }
    if (flags == "00010000" && path.starts_with("/") && inodes.count(inode)) {
      return std::filesystem::path(path);
    }
  }
  return std::nullopt;
}

std::optional<DaemonBeforeMove>
daemon_before_move(const PathOverrides &overrides, const Config &config,
                   const Env &env) {
  if (overrides.state_dir || overrides.socket || env.get("MCPBK_STATE_DIR") ||
      env.get("MCPBK_SOCKET") ||
      (config.store.dir.empty() && config.ipc.socket.empty())) {
    return std::nullopt;
  }
  Config plain = config;
  plain.store.dir.clear();
  plain.ipc.socket.clear();
  StatePaths before = resolve_state_paths(overrides, plain, env, current_os());
  auto pid = lock_holder(before.lock_file);
  if (!pid) {
    return std::nullopt;
  }
  auto connection = Connection::open(before.socket);
  if (!connection) {
    return std::nullopt;
  }
  return DaemonBeforeMove{std::move(*pid), std::move(before),
                          std::move(*connection)};
}

std::string reach_hint(const std::string &pid,
                       const std::filesystem::path &socket) {
  struct stat at {};
  if (::lstat(socket.c_str(), &at) == 0 && !S_ISSOCK(at.st_mode)) {
    return socket.string() + " is not a socket (" +
           (S_ISDIR(at.st_mode) ? "a directory" : "a file") +
           " is in its place); remove it and the daemon listens there again";
  }
  if (const auto listening = listening_socket_of(std::atoi(pid.c_str()))) {
    return "it listens at " + listening->string() + ": `mcpbkctl --socket " +
           listening->string() + "` reaches it";
  }
  return "it listens at another socket (its XDG_RUNTIME_DIR or ipc.socket "
         "is not this shell's: sudo, cron, ssh without a login session): "
         "give that path with --socket";
}

Connection::Connection(int fd) : m_fd(fd), m_peer_pid(peer_pid_of(fd)) {}

Result<Connection> Connection::open(const std::filesystem::path &socket) {
  sockaddr_un addr{};
  if (socket.native().size() >= sizeof(addr.sun_path)) {
    return fail(ErrorCode::io_error, "socket path too long");
  }
  // Not blocking while it connects: a daemon that is stopped, or too busy
  // to accept, fills its queue of connections, and a blocking connect()
  // would then wait for ever.
  const int fd =
      ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return fail_errno("socket", errno);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket.c_str(), socket.native().size());
  const auto give_up = std::chrono::steady_clock::now() + k_connect_patience;
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&addr),
                  sizeof(addr)) == 0) {
      break;
    }
    const int err = errno;
    if ((err == EAGAIN || err == EINTR) &&
        std::chrono::steady_clock::now() < give_up) {
      ::poll(nullptr, 0, 50); // the queue is full: look again shortly
      continue;
    }
    ::close(fd);
    return fail(ErrorCode::io_error,
                err == EAGAIN ? std::string("its queue of connections is "
                                            "full: is it stopped, or stuck?")
                              : std::string(std::strerror(err)));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
#if defined(SO_NOSIGPIPE)
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  Connection connection(fd);
  connection.set_timeout(std::chrono::seconds(120));
  return connection;
}

Connection::Connection(Connection &&other) noexcept
    : m_fd(other.m_fd), m_peer_pid(other.m_peer_pid),
      m_timeout(other.m_timeout), m_buffer(std::move(other.m_buffer)),
      m_next_id(other.m_next_id) {
  other.m_fd = -1;
}

Connection &Connection::operator=(Connection &&other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.m_fd;
    m_peer_pid = other.m_peer_pid;
    m_timeout = other.m_timeout;
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
  m_timeout = timeout;
}

Result<void> Connection::wait_until(short ready_for) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (;;) {
    auto slice = k_look_every;
    if (m_timeout) {
      const auto left =
          *m_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                           Clock::now() - start);
      if (left.count() <= 0) {
        return fail(ErrorCode::io_error,
                    m_peer_pid > 0 ? "timed out waiting for the daemon (pid " +
                                         std::to_string(m_peer_pid) + ")"
                                   : std::string("timed out waiting for the "
                                                 "daemon"));
      }
      slice = std::min(slice, left);
    }
    pollfd p{m_fd, ready_for, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(slice.count()));
    if (ready > 0) {
      return {};
    }
    if (ready < 0 && errno != EINTR) {
      return fail_errno("cannot wait for the daemon", errno);
    }
    if (m_timeout && process_stopped(m_peer_pid)) {
      return fail(ErrorCode::io_error,
                  stopped_daemon_message(std::to_string(m_peer_pid)));
    }
  }
}

Result<std::int64_t> Connection::send(const std::string &op, const json &args) {
  const std::int64_t id = m_next_id++;
  const json request = {{"v", 1}, {"id", id}, {"op", op}, {"args", args}};
  std::string line =
      request.dump(-1, ' ', false, json::error_handler_t::replace);
  line += '\n';
  std::size_t sent = 0;
  while (sent < line.size()) {
    TRY(wait_until(POLLOUT));
    const ssize_t n = ::send(m_fd, line.data() + sent, line.size() - sent,
                             k_send_flags | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
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
    TRY(wait_until(POLLIN));
    char chunk[65536];
    const ssize_t n = ::recv(m_fd, chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
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

std::optional<std::string> lock_holder(const std::filesystem::path &lock_file) {
  const int fd = ::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  std::optional<std::string> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    while (!pid->empty() && (pid->back() == '\n' || pid->back() == ' ')) {
      pid->pop_back();
    }
  }
  ::close(fd); // and with it the shared lock, when it was taken
  return pid;
}

} // namespace mcpbk::client
