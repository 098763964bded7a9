#pragma once

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/error.hpp>
#include <common/paths.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace mcpbk::client {

// A blocking connection to mcpbkd's socket (plain POSIX, JSON lines).
class Connection {
public:
  // Connects; io_error with the reason when nothing listens there.
  static Result<Connection> open(const std::filesystem::path &socket);

  Connection(Connection &&other) noexcept;
  Connection &operator=(Connection &&other) noexcept;
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;
  ~Connection();

  // Sends one request and returns its reply (stream messages that arrive
  // first are skipped). io_error when the connection breaks.
  Result<nlohmann::json> call(const std::string &op,
                              const nlohmann::json &args);

  // Sends a request without waiting; returns its id.
  Result<std::int64_t> send(const std::string &op, const nlohmann::json &args);

  // Reads the next message line; std::nullopt when the daemon closed the
  // connection.
  Result<std::optional<nlohmann::json>> read_message();

  // Limits how long one read may wait for the daemon's next line (none:
  // forever). With a limit, a wait also gives up at once, saying so, when
  // the daemon's process is stopped (SIGSTOP, a debugger): it cannot answer
  // until it is let go on. Without one (events --follow), it waits on.
  void set_timeout(std::optional<std::chrono::milliseconds> timeout);

  // The daemon's pid (from the socket's peer credentials), 0 if unknown.
  int peer_pid() const { return m_peer_pid; }

private:
  explicit Connection(int fd);

  // Waits until the socket is ready for `ready_for` (POLLIN, POLLOUT);
  // fails when the timeout passes or the daemon is seen to be stopped.
  Result<void> wait_until(short ready_for);

  int m_fd = -1;
  int m_peer_pid = 0;
  std::optional<std::chrono::milliseconds> m_timeout;
  std::string m_buffer;
  std::int64_t m_next_id = 1;
};

// Whether the process is stopped (SIGSTOP, SIGTSTP, a debugger): it cannot
// answer until it is let go on (`kill -CONT`). Linux; elsewhere false.
bool process_stopped(int pid);

// The path of the Unix socket a process listens on (the first found), from
// /proc: where a daemon started with another XDG_RUNTIME_DIR (sudo, cron,
// ssh) is reached. Linux, a process of the same user; elsewhere nothing.
std::optional<std::filesystem::path> listening_socket_of(int pid);

// How the daemon `pid`, which serves the state directory but did not answer
// at `socket`, is reached: a file in the socket's place is named, else the
// socket it listens on (listening_socket_of()), else --socket is advised.
std::string reach_hint(const std::string &pid,
                       const std::filesystem::path &socket);

// The daemon in use when the config moves the state directory or the
// socket (store.dir, ipc.socket), which a running daemon applies only when
// it restarts: the one holding the default places, connected to. Nothing
// when no such move is asked for (nor one by --state-dir, --socket or
// their variables), or nothing answers there.
struct DaemonBeforeMove {
  std::string pid;
  StatePaths paths; // where it is
  Connection connection;
};
std::optional<DaemonBeforeMove>
daemon_before_move(const PathOverrides &overrides, const Config &config,
                   const Env &env);

// "mcpbkd (pid N) is stopped and cannot answer; `kill -CONT N` ...".
std::string stopped_daemon_message(const std::string &pid);

// The pid of the mcpbkd holding a state directory's lock (its text, "?" if
// unreadable), if one does.
std::optional<std::string> lock_holder(const std::filesystem::path &lock_file);

} // namespace mcpbk::client
