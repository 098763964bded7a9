#include <daemon/watcher.hpp>

#include <common/fs.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <optional>

namespace mcpbk::daemon {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

// Stat-based polling: a path may have changed when its existence, size,
// mtime, ctime or inode changed. The snapshotter compares hashes after that.
class PollWatcher final : public Watcher {
public:
  PollWatcher(asio::io_context &io, WatcherCallbacks callbacks,
              std::uint64_t interval_ms)
      : m_timer(io), m_callbacks(std::move(callbacks)),
        m_interval(interval_ms) {
    schedule();
  }
  ~PollWatcher() override { stop(); }

  void set_paths(const std::vector<fs::path> &paths) override {
    States next;
    for (const auto &p : paths) {
      next[p] = known_or_look(m_state, p);
    }
    m_state = std::move(next);
  }

  void set_discovery(const std::vector<DiscoveryDir> &dirs) override {
    States next;
    for (const DiscoveryDir &d : dirs) {
      next[d.dir] = known_or_look(m_dirs, d.dir);
    }
    m_dirs = std::move(next);
  }

  void stop() override {
    m_stopped = true;
    m_timer.cancel();
  }

  std::string backend() const override { return "poll"; }
  std::vector<std::string> warnings() const override { return {}; }
  void simulate_overflow() override {
    m_callbacks.rescan("poll watcher rescan (simulated)");
  }

private:
  using States = std::map<fs::path, std::optional<FileInfo>>;

  // What was last seen of a path, or what it is now for a new one.
  static std::optional<FileInfo> known_or_look(const States &states,
                                               const fs::path &p) {
    auto old = states.find(p);
    return old != states.end() ? old->second : stat_or_missing(p);
  }

  // Looks at a path again; true (and `last` updated) when it differs.
  static bool moved(const fs::path &p, std::optional<FileInfo> &last) {
    auto now = stat_or_missing(p);
    if (unchanged(last, now)) {
      return false;
    }
    last = now;
    return true;
  }

  void schedule() {
    m_timer.expires_after(std::chrono::milliseconds(m_interval));
    m_timer.async_wait([this](const boost::system::error_code &ec) {
      if (ec || m_stopped) {
        return;
      }
      poll();
      schedule();
    });
  }

  void poll() {
    for (auto &[path, last] : m_state) {
      if (moved(path, last)) {
        m_callbacks.changed(path);
      }
    }
    // A discovery directory whose entries changed (its mtime moves), or
    // that appeared: any entry may be one it looks for.
    bool discover = false;
    for (auto &[dir, last] : m_dirs) {
      if (moved(dir, last) && last) {
        discover = true;
      }
    }
    if (discover && m_callbacks.discover) {
      m_callbacks.discover();
    }
  }

  asio::steady_timer m_timer;
  WatcherCallbacks m_callbacks;
  std::uint64_t m_interval;
  States m_state;
  States m_dirs; // discovery directories
  bool m_stopped = false;
};

} // namespace

std::unique_ptr<Watcher> make_poll_watcher(asio::io_context &io,
                                           WatcherCallbacks callbacks,
                                           std::uint64_t interval_ms) {
  return std::make_unique<PollWatcher>(io, std::move(callbacks), interval_ms);
}

} // namespace mcpbk::daemon
