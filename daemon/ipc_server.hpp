#pragma once

#include <common/error.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace mcpbk::ops {
struct Context;
} // namespace mcpbk::ops

namespace mcpbk::daemon {

class ReaderLane;

// Limits of the IPC server.
struct IpcLimits {
  std::size_t max_connections = 128;
  // Bytes queued for one connection before it is dropped (a subscriber that
  // does not read).
  std::size_t max_queued_bytes = 8u << 20;
  // A connection without a complete request for this long is closed (not
  // while subscribed).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
};

// The daemon's Unix-socket server (SPEC §8): JSON lines, one request per
// line, each connection's answered in order. Requests that only read go to
// a ReaderLane; the others are answered on the io_context's thread. Only
// peers with our uid are served. Not thread-safe: use it from the
// io_context's thread only.
class IpcServer {
public:
  IpcServer(boost::asio::io_context &io, ops::Context &context,
            IpcLimits limits = {});
  ~IpcServer();
  IpcServer(const IpcServer &) = delete;
  IpcServer &operator=(const IpcServer &) = delete;

  // Creates the socket's directory (0700), removes a stale socket (one no
  // process answers on), binds, makes the socket 0600 and starts accepting.
  // Fails when another daemon is listening there, or with io_error.
  Result<void> listen(const std::filesystem::path &socket);

  // Closes the acceptor and every connection and removes the socket file.
  // Pending handlers finish quietly; io_context::run() then returns once
  // nothing else is pending.
  void stop();

  // Checks that the socket file is still the one bound by listen(); when it
  // was deleted or replaced, binds a new one (open connections stay).
  // Returns true when the socket was re-created; fails like listen().
  Result<bool> ensure_socket();

  // Sends one message line to every subscribed connection.
  void publish(const nlohmann::json &message);

  // Whether a connection has subscribed (and is open).
  bool has_subscribers() const;

  // Open connections.
  std::size_t connection_count() const;

  // Called as each request arrives, before it is handled, and as the
  // reader lane's reply to one is sent.
  void on_request(std::function<void()> callback);

  // Where requests that only read are answered (daemon/reader_lane.hpp):
  // for status, and to pause it while the store is reopened.
  ReaderLane &reader_lane();

  // The implementation, opaque here so that Asio stays out of this header.
  struct Impl;

private:
  std::shared_ptr<Impl> m_impl;
};

} // namespace mcpbk::daemon
