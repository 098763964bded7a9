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
    std::map<fs::path, std::optional<FileInfo>> next;
    for (const auto &p : paths) {
      auto old = m_state.find(p);
      next[p] = old != m_state.end() ? old->second : look(p);
    }
    m_state = std::move(next);
  }

  void set_discovery(const std::vector<DiscoveryDir> &dirs) override {
    std::map<fs::path, std::optional<FileInfo>> next;
    for (const DiscoveryDir &d : dirs) {
      auto old = m_dirs.find(d.dir);
      next[d.dir] = old != m_dirs.end() ? old->second : look(d.dir);
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
  static std::optional<FileInfo> look(const fs::path &p) {
    auto info = stat_path(p);
    return info ? *info : std::nullopt;
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
      auto now = look(path);
      const bool differs = now.has_value() != last.has_value() ||
                           (now && last && !same(*now, *last));
      if (differs) {
        last = now;
        m_callbacks.changed(path);
      }
    }
    // A discovery directory whose entries changed (its mtime moves), or
    // that appeared: any entry may be one it looks for.
    bool discover = false;
    for (auto &[dir, last] : m_dirs) {
      auto now = look(dir);
      if (now.has_value() != last.has_value() ||
          (now && last && !same(*now, *last))) {
        discover = discover || now.has_value();
        last = now;
      }
    }
    if (discover && m_callbacks.discover) {
      m_callbacks.discover();
    }
  }

  static bool same(const FileInfo &a, const FileInfo &b) {
    return a.size == b.size && a.mtime_ns == b.mtime_ns &&
           a.ctime_ns == b.ctime_ns && a.inode == b.inode &&
           a.device == b.device && a.is_regular == b.is_regular;
  }

  asio::steady_timer m_timer;
  WatcherCallbacks m_callbacks;
  std::uint64_t m_interval;
  std::map<fs::path, std::optional<FileInfo>> m_state;
  std::map<fs::path, std::optional<FileInfo>> m_dirs; // discovery directories
  bool m_stopped = false;
};

} // namespace

std::unique_ptr<Watcher> make_poll_watcher(asio::io_context &io,
                                           WatcherCallbacks callbacks,
                                           std::uint64_t interval_ms) {
  return std::make_unique<PollWatcher>(io, std::move(callbacks), interval_ms);
}

} // namespace mcpbk::daemon
