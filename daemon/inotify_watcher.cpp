#include <daemon/watcher.hpp>

#include <common/atomic_file.hpp>
#include <common/fs.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <set>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mcpbk::daemon {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr std::uint32_t k_mask =
    IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
    IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;

// A directory watched only for new entries (a discovery directory, or the
// nearest existing ancestor of a missing directory): writes to the files in
// it do not wake the daemon.
constexpr std::uint32_t k_arrivals_mask =
    IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// A directory, or its nearest existing ancestor when it does not exist yet.
fs::path nearest_existing_dir(fs::path dir) {
  std::error_code ec;
  while (!dir.empty() && dir != dir.root_path() && !fs::is_directory(dir, ec)) {
    dir = dir.parent_path();
  }
  return dir.empty() ? fs::path("/") : dir;
}

// The directory to watch for a path: its parent, or the nearest existing
// ancestor when the parent does not exist yet.
fs::path watch_dir_for(const fs::path &path) {
  return nearest_existing_dir(path.parent_path());
}

bool is_under(const fs::path &path, const fs::path &dir) {
  auto d = dir.begin();
  auto p = path.begin();
  for (; d != dir.end(); ++d, ++p) {
    if (p == path.end() || *d != *p) {
      return false;
    }
  }
  return true;
}

class InotifyWatcher final : public Watcher {
public:
  InotifyWatcher(asio::io_context &io, WatcherCallbacks callbacks, int fd)
      : m_stream(io, fd), m_callbacks(std::move(callbacks)) {
    read();
  }
  ~InotifyWatcher() override { stop(); }

  void set_paths(const std::vector<fs::path> &paths) override {
    m_paths = paths;
    arm();
  }

  void set_discovery(const std::vector<DiscoveryDir> &dirs) override {
    m_discovery = dirs;
    arm();
  }

  void stop() override {
    m_stopped = true;
    boost::system::error_code ec;
    m_stream.cancel(ec);
    m_stream.close(ec);
  }

  std::string backend() const override { return "inotify"; }

  std::vector<std::string> warnings() const override {
    return {m_warnings.begin(), m_warnings.end()};
  }

  std::set<fs::path> unreported() const override { return m_unreported; }

  void simulate_overflow() override {
    m_callbacks.rescan("inotify event queue overflowed (simulated)");
  }

private:
  // Recomputes which directories must be watched and which paths are of
  // interest, adding and removing inotify watches to match.
  void arm() {
    if (m_stopped) {
      return;
    }
    m_interest.clear();
    m_chains.clear();
    m_dir_links.clear();
    // Said again below while it lasts: a limit raised since (and a reload)
    // ends the warning.
    m_warnings.clear();
    m_unreported.clear();
    std::set<fs::path> failed; // directories that could not be watched
    std::map<fs::path, std::uint32_t> dirs; // directory -> events needed
    for (const auto &p : m_paths) {
      auto chain = link_chain(p);
      std::set<fs::path> seen;
      for (const auto &link : chain) {
        m_interest[link].insert(p);
        const fs::path dir = watch_dir_for(link);
        dirs[dir] |= dir == link.parent_path() ? k_mask : k_arrivals_mask;
        links_on_the_way(link, p, dirs, seen);
      }
      m_chains[p] = std::move(chain);
    }
    for (const DiscoveryDir &d : m_discovery) {
      dirs[nearest_existing_dir(d.dir)] |= k_arrivals_mask;
    }
    for (auto it = m_watches.begin(); it != m_watches.end();) {
      if (!dirs.count(it->first)) {
        drop_name(it->first, it->second.wd);
        it = m_watches.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto &[dir, mask] : dirs) {
      // A watch follows the directory it was added on, not its name: when
      // the name now leads elsewhere (a re-pointed link), it is added again.
      struct stat info {};
      const bool found = ::stat(dir.c_str(), &info) == 0;
      const auto watched = m_watches.find(dir);
      if (watched != m_watches.end() && found &&
          (watched->second.dev != info.st_dev ||
           watched->second.ino != info.st_ino)) {
        forget(dir);
      } else if (watched != m_watches.end() &&
                 (watched->second.mask & mask) == mask) {
        continue;
      }
      // IN_MASK_ADD: a directory reached under two names (links) has one
      // watch, which must keep the events either name needs. A watch that
      // needs fewer events later keeps the old ones (more wakeups, nothing
      // missed).
      const int wd = inotify_add_watch(m_stream.native_handle(), dir.c_str(),
                                       mask | IN_MASK_ADD);
      if (wd < 0) {
        const int err = errno;
        if (err == ENOSPC) {
          m_warnings.insert(
              "inotify watch limit reached: some files are only checked by "
              "the periodic rescan; raise fs.inotify.max_user_watches "
              "(sysctl) or set watch.backend: poll");
        } else if (err == ENOENT || err == ENOTDIR) {
          m_rearm_needed = true; // it vanished meanwhile
        } else {
          m_warnings.insert("cannot watch " + dir.string() + ": " +
                            std::strerror(err));
        }
        if (err != ENOENT && err != ENOTDIR) {
          failed.insert(dir);
        }
        continue;
      }
      m_watches[dir] = {wd, m_watches[dir].mask | mask,
                        found ? info.st_dev : dev_t{},
                        found ? info.st_ino : ino_t{}};
      // A directory reached under two names (a link to it) has one watch,
      // whose events are about both.
      std::vector<fs::path> &names = m_wd_dirs[wd];
      if (std::find(names.begin(), names.end(), dir) == names.end()) {
        names.push_back(dir);
      }
    }
    // A path whose own directory, or one on its chain of links, went
    // unwatched: its saves wake nobody until the rescan.
    if (!failed.empty()) {
      for (const auto &[p, chain] : m_chains) {
        for (const auto &link : chain) {
          if (failed.count(watch_dir_for(link)) != 0) {
            m_unreported.insert(p);
            break;
          }
        }
      }
    }
  }

  // A directory on the way to `path` that is a link (GNU stow links whole
  // directories): re-pointing it puts another file at the watched path `p`,
  // which only the directory holding the link sees. What it leads to may
  // also be deleted and made again (`git checkout`, `stow -R`, a directory
  // renamed into its place) while the link stays: only that target's own
  // parent sees it arrive. Every link of its chain is looked at so, and
  // the links on the way to each (a link to a directory inside a linked
  // directory), a few levels deep.
  void links_on_the_way(const fs::path &path, const fs::path &p,
                        std::map<fs::path, std::uint32_t> &dirs,
                        std::set<fs::path> &seen, int depth = 0) {
    if (depth > 8) {
      return;
    }
    for (fs::path up = path.parent_path(); up.has_relative_path();
         up = up.parent_path()) {
      std::error_code ec;
      if (!fs::is_symlink(up, ec)) {
        continue;
      }
      for (const fs::path &link : link_chain(up)) {
        if (!seen.insert(link).second) {
          continue; // already followed for this path (or a loop)
        }
        m_interest[link].insert(p);
        m_dir_links.insert(link);
        dirs[watch_dir_for(link)] |= k_arrivals_mask;
        if (link != up) {
          links_on_the_way(link, p, dirs, seen, depth + 1);
        }
      }
    }
  }

  // One name of a watch goes; the watch goes when no other name needs it.
  void drop_name(const fs::path &dir, int wd) {
    std::vector<fs::path> &names = m_wd_dirs[wd];
    std::erase(names, dir);
    if (names.empty()) {
      inotify_rm_watch(m_stream.native_handle(), wd);
      m_wd_dirs.erase(wd);
    }
  }

  void forget(const fs::path &dir) {
    const auto it = m_watches.find(dir);
    drop_name(dir, it->second.wd);
    m_watches.erase(it);
  }

  void read() {
    m_stream.async_read_some(
        asio::buffer(m_buffer),
        [this](const boost::system::error_code &ec, std::size_t n) {
          if (ec || m_stopped) {
            return; // operation_aborted at stop
          }
          handle(n);
          if (m_rearm_needed) {
            m_rearm_needed = false;
            arm();
          }
          read();
        });
  }

  void handle(std::size_t n) {
    std::size_t offset = 0;
    while (offset + sizeof(inotify_event) <= n) {
      inotify_event ev;
      std::memcpy(&ev, m_buffer.data() + offset, sizeof ev);
      const char *name_ptr = m_buffer.data() + offset + sizeof(inotify_event);
      const std::string name =
          ev.len ? std::string(name_ptr, strnlen(name_ptr, ev.len)) : "";
      offset += sizeof(inotify_event) + ev.len;
      event(ev.wd, ev.mask, name);
    }
  }

  void event(int wd, std::uint32_t mask, const std::string &name) {
    if (mask & IN_Q_OVERFLOW) {
      m_callbacks.rescan("inotify event queue overflowed");
      return;
    }
    auto it = m_wd_dirs.find(wd);
    if (it == m_wd_dirs.end()) {
      return;
    }
    const std::vector<fs::path> dirs = it->second;
    if (mask & IN_IGNORED) {
      m_wd_dirs.erase(it);
      for (const fs::path &dir : dirs) {
        m_watches.erase(dir);
      }
    }
    for (const fs::path &dir : dirs) {
      event_in(dir, mask, name);
    }
  }

  // An event of the directory `dir` (one of the names of its watch).
  void event_in(const fs::path &dir, std::uint32_t mask,
                const std::string &name) {
    if (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
      m_rearm_needed = true;
      changed_under(dir);
      return;
    }
    if (name.empty()) {
      return;
    }
    const fs::path full = dir / name;
    if (auto interest = m_interest.find(full); interest != m_interest.end()) {
      // A directory link on the way was replaced: what it leads to now
      // must be watched.
      m_rearm_needed = m_rearm_needed || m_dir_links.count(full) != 0;
      for (const auto &p : interest->second) {
        // A link in the chain may have been re-pointed (or a file replaced
        // by a link): then other directories must be watched. Re-arming
        // for every save instead costs a hundred stat calls per change.
        const auto known = m_chains.find(p);
        if (known == m_chains.end() || link_chain(p) != known->second) {
          m_rearm_needed = true;
        }
        m_callbacks.changed(p);
      }
      return;
    }
    if (is_temp_name(name)) {
      return;
    }
    const bool arrived = (mask & (IN_CREATE | IN_MOVED_TO)) != 0;
    bool discover = arrived && looked_for(dir, name);
    // A link that arrives may lead to a directory (GNU stow links whole
    // directories; inotify does not say IN_ISDIR for it).
    std::error_code ec;
    if ((mask & IN_ISDIR) || (arrived && fs::is_symlink(full, ec))) {
      // A directory on the way to a watched path or a discovery directory
      // appeared or went away.
      bool on_the_way = false;
      for (const auto &[path, owners] : m_interest) {
        if (is_under(path, full)) {
          on_the_way = true;
          break;
        }
      }
      for (const DiscoveryDir &d : m_discovery) {
        if (is_under(d.dir, full)) {
          m_rearm_needed = true;
          discover = discover || arrived;
          break;
        }
      }
      if (on_the_way) {
        m_rearm_needed = true;
        changed_under(full);
      }
    }
    if (discover && m_callbacks.discover) {
      m_callbacks.discover();
    }
  }

  // Whether a discovery directory `dir` looks for entries named `name`.
  bool looked_for(const fs::path &dir, const std::string &name) const {
    auto it = std::lower_bound(
        m_discovery.begin(), m_discovery.end(), dir,
        [](const DiscoveryDir &d, const fs::path &p) { return d.dir < p; });
    for (; it != m_discovery.end() && it->dir == dir; ++it) {
      if (discovers(*it, name)) {
        return true;
      }
    }
    return false;
  }

  void changed_under(const fs::path &dir) {
    std::set<fs::path> owners;
    for (const auto &[path, o] : m_interest) {
      if (is_under(path, dir)) {
        owners.insert(o.begin(), o.end());
      }
    }
    for (const auto &p : owners) {
      m_callbacks.changed(p);
    }
  }

  asio::posix::stream_descriptor m_stream;
  WatcherCallbacks m_callbacks;
  std::array<char, 64 * 1024> m_buffer{};
  std::vector<fs::path> m_paths;
  std::vector<DiscoveryDir> m_discovery;              // sorted by directory
  std::map<fs::path, std::set<fs::path>> m_interest;  // path -> watched paths
  std::map<fs::path, std::vector<fs::path>> m_chains; // watched path -> links
  std::set<fs::path> m_dir_links; // directory links on watched paths' way
  struct Watch {
    int wd = -1;
    std::uint32_t mask = 0; // the events asked for under this name
    dev_t dev{};            // the directory the watch was added on
    ino_t ino{};
  };
  std::map<fs::path, Watch> m_watches;            // watched directories
  std::map<int, std::vector<fs::path>> m_wd_dirs; // a watch's names
  std::set<std::string> m_warnings;
  std::set<fs::path> m_unreported; // see unreported()
  bool m_rearm_needed = false;
  bool m_stopped = false;
};

} // namespace

Result<std::unique_ptr<Watcher>>
make_inotify_watcher(asio::io_context &io, WatcherCallbacks callbacks) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return fail_errno("cannot start inotify", errno);
  }
  return std::unique_ptr<Watcher>(
      std::make_unique<InotifyWatcher>(io, std::move(callbacks), fd));
}

} // namespace mcpbk::daemon
