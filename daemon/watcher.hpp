#pragma once

#include <common/error.hpp>
#include <common/hosts.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace mcpbk::daemon {

// What a watcher reports. Both callbacks run on the io_context thread.
struct WatcherCallbacks {
  // A watched path may have changed (content, existence, or link target).
  std::function<void(const std::filesystem::path &)> changed;
  // Events may have been missed: every path must be checked again.
  std::function<void(const std::string &reason)> rescan;
  // An entry a discovery directory looks for appeared (or the directory
  // itself did): the files to protect must be resolved again. May be empty.
  std::function<void()> discover;
};

// Watches a set of file paths. Backends decide how; after "this path may
// have changed" everything is shared.
class Watcher {
public:
  virtual ~Watcher() = default;
  // Replaces the set of watched paths (absolute, links not resolved).
  virtual void set_paths(const std::vector<std::filesystem::path> &paths) = 0;
  // Replaces the set of discovery directories (see DiscoveryDir).
  virtual void set_discovery(const std::vector<DiscoveryDir> &dirs) = 0;
  // Stops watching and cancels pending work.
  virtual void stop() = 0;
  virtual std::string backend() const = 0;
  // Sticky degraded states with advice ("inotify watch limit reached ...").
  virtual std::vector<std::string> warnings() const = 0;
  // The watched paths whose changes are not reported because a directory
  // they need could not be watched (the inotify watch limit): only the
  // periodic rescan sees them.
  virtual std::set<std::filesystem::path> unreported() const { return {}; }
  // Forces the overflow path, as if the kernel queue had overflowed (tests).
  virtual void simulate_overflow() = 0;
};

// Linux inotify on parent directories (never on file inodes).
Result<std::unique_ptr<Watcher>>
make_inotify_watcher(boost::asio::io_context &io, WatcherCallbacks callbacks);

// Portable stat-based polling every `interval_ms`.
std::unique_ptr<Watcher> make_poll_watcher(boost::asio::io_context &io,
                                           WatcherCallbacks callbacks,
                                           std::uint64_t interval_ms);

} // namespace mcpbk::daemon
