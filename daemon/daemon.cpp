#include <daemon/daemon.hpp>

#include <common/atomic_file.hpp>
#include <common/capture.hpp>
#include <common/compress.hpp>
#include <common/fs.hpp>
#include <common/hosts.hpp>
#include <common/ops/ops.hpp>
#include <common/process.hpp>
#include <common/store.hpp>
#include <daemon/debouncer.hpp>
#include <daemon/ipc_server.hpp>
#include <daemon/logging.hpp>
#include <daemon/reader_lane.hpp>
#include <daemon/watcher.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <random>
#include <set>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <unordered_set>

extern char **environ;

namespace mcpbk::daemon {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto k_restore_watch = 10s;
// A failed capture (disk full, read-only store) is retried after this, then
// twice as long each time it fails again, up to k_retry_max.
constexpr auto k_retry_first = 500ms;
constexpr auto k_retry_max = 30s;
// How often the daemon checks that its store file and socket are still the
// ones it opened.
constexpr auto k_health_retry = 1s;
// This long after its last capture or request, the daemon hands the memory
// that work used (SQLite's page cache, freed heap) back to the system and
// unmaps the code it ran (release_file_pages). A one-shot timer, re-armed by
// activity: an idle daemon does not wake up.
constexpr auto k_idle_trim = 5s;
// At a stop, how long the reader threads get to end once interrupted
// (SPEC §5: a stop takes at most 2 s).
constexpr auto k_reader_stop_wait = 1s;

// The wall clock set this far ahead of where it stood when the daemon
// started pauses retention's age rule (see check_clock()). NTP corrects a
// running clock by far less; a suspend moves both clocks alike.
constexpr Micros k_clock_jump = k_micros_per_day;

// The exclusive lock of a state dir, held for the daemon's lifetime.
class LockFile {
public:
  LockFile() = default;
  LockFile(LockFile &&other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  LockFile &operator=(LockFile &&) = delete;
  LockFile(const LockFile &) = delete;
  ~LockFile() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }

  // Takes the lock; on contention the error names the holder's pid.
  static Result<LockFile> acquire(const fs::path &file) {
    LockFile lock;
    lock.m_fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.m_fd < 0) {
      return fail_errno("cannot open lock file " + file.string(), errno);
    }
    if (::flock(lock.m_fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        char buf[32] = {};
        const ssize_t n = ::pread(lock.m_fd, buf, sizeof buf - 1, 0);
        std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n))
                                : std::string("unknown");
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
          pid.pop_back();
        }
        return fail(ErrorCode::conflict, "another mcpbkd (pid " + pid +
                                             ") is running for this state "
                                             "directory (lock " +
                                             file.string() + ")");
      }
      return fail_errno("cannot lock " + file.string(), err);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock.m_fd, 0) != 0 ||
        ::pwrite(lock.m_fd, pid.data(), pid.size(), 0) < 0) {
      return fail_errno("cannot write lock file " + file.string(), errno);
    }
    return lock;
  }

private:
  int m_fd = -1;
};

std::string random_instance_id() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

// Tells systemd (Type=notify) that the daemon is ready, when it asked.
void notify_systemd(const Env &env, const std::string &state) {
  const auto sock = env.get("NOTIFY_SOCKET");
  if (!sock || sock->size() >= sizeof(sockaddr_un::sun_path)) {
    return;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, sock->data(), sock->size());
  if (addr.sun_path[0] == '@') {
    addr.sun_path[0] = '\0'; // abstract namespace
  }
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sock->size());
  (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr *>(&addr), len);
  ::close(fd);
}

std::string replace_all(std::string text, const std::string &from,
                        const std::string &to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos;
       pos += to.size()) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// Runs notify.command without a shell; children are reaped by SIGCHLD
// being ignored in the daemon. Returns why it could not be started, or
// nothing when it was.
std::string run_notify(const std::vector<std::string> &command,
                       const std::string &message, const std::string &path) {
  if (command.empty()) {
    return {};
  }
  std::vector<std::string> args;
  for (const auto &a : command) {
    args.push_back(
        replace_all(replace_all(a, "{message}", message), "{path}", path));
  }
  std::vector<char *> argv;
  for (auto &a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGCHLD);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc =
      posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return "notify.command " + args[0] +
           " could not be started: " + std::strerror(rc);
  }
  return {};
}

// Removes the temp files a restore left next to `target` when it was killed
// before its rename: ".<name>.mcpbk-tmp-<pid>-<n>" whose writer no longer
// runs. A live writer's file is left alone.
void remove_stale_temp_files(const fs::path &target) {
  const std::string prefix =
      "." + target.filename().string() + std::string(k_temp_marker);
  std::error_code ec;
  for (fs::directory_iterator it(target.parent_path(), ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos ||
        rest.find_first_not_of("0123456789") != dash) {
      continue;
    }
    const long pid = std::strtol(rest.c_str(), nullptr, 10);
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) {
      continue;
    }
    if (::unlink(it->path().c_str()) == 0) {
      spdlog::info("removed {}, left by an interrupted restore",
                   it->path().string());
    }
  }
}

class Daemon final : public ops::DaemonServices {
public:
  Daemon(asio::io_context &io, const Env &env, DaemonOptions options,
         Config config, std::optional<fs::path> config_file, StatePaths paths,
         Store store)
      : m_io(io), m_env(env), m_options(std::move(options)),
        m_config(std::move(config)), m_config_file(std::move(config_file)),
        m_paths(std::move(paths)),
        m_store(std::move(store)), m_context{m_store,      m_config, m_env,
                                             current_os(), this,     {},
                                             {},           {}},
        m_debouncer(std::chrono::milliseconds(m_config.watch.debounce_ms),
                    std::chrono::milliseconds(m_config.watch.max_delay_ms)),
        m_discovery_debouncer(
            std::chrono::milliseconds(m_config.watch.debounce_ms),
            std::chrono::milliseconds(m_config.watch.max_delay_ms)),
        m_debounce_timer(io), m_discovery_timer(io), m_rescan_timer(io),
        m_prune_timer(io), m_retry_timer(io), m_health_timer(io),
        m_idle_timer(io), m_signals(io), m_instance_id(random_instance_id()),
        m_started(std::chrono::steady_clock::now()),
        m_clock_offset(wall_clock_offset_micros()) {}

  Result<void> start() {
    if (m_store.moved_aside()) {
      m_warnings.insert("the store failed its integrity check and was moved "
                        "to " +
                        m_store.moved_aside()->string());
      spdlog::critical("store {} was damaged; moved to {} and started anew",
                       m_store.file().string(),
                       m_store.moved_aside()->string());
    }
    TRY(make_watcher());
    refresh_claude_projects();
    check_variables_of_config();
    refresh_targets(SnapshotTrigger::initial);
    m_server = std::make_unique<IpcServer>(m_io, m_context);
    // Before each request too: `prune` and `restore` apply retention.
    m_server->on_request([this] {
      check_clock();
      arm_idle_trim();
    });
    TRY(m_server->listen(m_paths.socket));
    m_signals.add(SIGINT);
    m_signals.add(SIGTERM);
    m_signals.add(SIGHUP);
    m_signals.add(SIGUSR1);
    wait_signal();
    schedule_rescan();
    schedule_prune();
    spdlog::info("mcpbkd {} started (pid {}, instance {}): watching {} files "
                 "with {}, store {}, socket {}",
                 MCPBK_VERSION, ::getpid(), m_instance_id, m_targets->size(),
                 m_watcher->backend(), m_store.file().string(),
                 m_paths.socket.string());
    notify_systemd(m_env, "READY=1\nMAINPID=" + std::to_string(::getpid()));
    return {};
  }

  // After run(): ends the reader threads, interrupting what they read.
  // False when one is still busy after `wait`.
  bool stop_readers(std::chrono::milliseconds wait) {
    return !m_server || m_server->reader_lane().stop(wait);
  }

  // ops::DaemonServices
  json status_info() override {
    json watched = json::array();
    std::vector<std::string> warnings(m_warnings.begin(), m_warnings.end());
    const std::set<fs::path> unreported = m_watcher->unreported();
    for (const auto &t : *m_targets) {
      const auto it = m_exists.find(t.path);
      const bool exists = it != m_exists.end() && it->second;
      std::string state = exists ? "watching" : "waiting for file";
      if (unreported.count(t.path) != 0) {
        // Not woken by its saves: say how late one may be seen, or that
        // none will be.
        const auto every = m_config.watch.rescan_interval_s;
        state = every == 0
                    ? "not watched (watch limit; rescan off)"
                    : "rescan only (every " + std::to_string(every) + " s)";
      }
      if (const auto skip = m_skipped.find(t.path); skip != m_skipped.end()) {
        state = "not snapshotted";
        warnings.push_back(skip->second.message);
      }
      watched.push_back({{"host", t.host},
                         {"path", t.path.string()},
                         {"scope", to_string(t.scope)},
                         {"format", to_string(t.format)},
                         {"trigger", to_string(t.trigger)},
                         {"exists", exists},
                         {"state", std::move(state)}});
    }
    for (const auto &w : m_watcher->warnings()) {
      if (m_config.watch.rescan_interval_s == 0 && !unreported.empty() &&
          w.starts_with("inotify watch limit reached")) {
        // No rescan looks at them either: their saves are not recorded.
        warnings.push_back(
            "inotify watch limit reached: " +
            std::to_string(unreported.size()) +
            (unreported.size() == 1 ? " file is" : " files are") +
            " not watched at all, and with watch.rescan_interval_s: 0 "
            "nothing looks at them; raise fs.inotify.max_user_watches "
            "(sysctl), set watch.backend: poll, or turn the rescan on");
        continue;
      }
      warnings.push_back(w);
    }
    if (!m_clock_warning.empty()) {
      warnings.push_back(m_clock_warning);
    }
    if (!m_restart_warning.empty()) {
      warnings.push_back(m_restart_warning);
    }
    if (!m_config_warning.empty()) {
      warnings.push_back(m_config_warning);
    }
    if (!m_unset_warning.empty()) {
      warnings.push_back(m_unset_warning);
    }
    if (!m_notify_warning.empty()) {
      warnings.push_back(m_notify_warning);
    }
    if (!m_retry.empty()) {
      // Said here too: with the disk full, the snapshot_failed event could
      // not be recorded either, and status said nothing was wrong.
      warnings.push_back(
          "snapshots are failing for " + std::to_string(m_retry.size()) +
          (m_retry.size() == 1 ? " file" : " files") + " (" + m_last_failure +
          "); retrying, and what they hold now is recorded once it works");
    }
    if (m_overflow_rescans > 0) {
      warnings.push_back(
          std::to_string(m_overflow_rescans) +
          " rescans after missed events (last: " + m_last_rescan_reason + ")");
    }
    const auto now = std::chrono::steady_clock::now();
    const auto uptime =
        std::chrono::duration_cast<std::chrono::seconds>(now - m_started)
            .count();
    // The requests that only read being answered beside the loop.
    json reading = json::array();
    std::size_t waiting = 0;
    if (m_server) {
      const ReaderLane &lane = m_server->reader_lane();
      for (const auto &running : lane.running()) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            now - running.since)
                            .count();
        reading.push_back({{"op", running.op},
                           {"seconds", static_cast<double>(ms) / 1000.0}});
      }
      waiting = lane.waiting();
    }
    return {{"version", MCPBK_VERSION},
            {"pid", ::getpid()},
            {"instance_id", m_instance_id},
            {"uptime_s", uptime},
            {"backend", m_watcher->backend()},
            {"config_file",
             m_config_file ? m_config_file->string() : "(embedded default)"},
            {"state_dir", m_paths.state_dir.string()},
            {"socket", m_paths.socket.string()},
            {"pending_changes", m_debouncer.pending()},
            {"connections", m_server ? m_server->connection_count() : 0},
            {"reading", std::move(reading)},
            {"reading_waiting", waiting},
            {"watched", std::move(watched)},
            {"warnings", std::move(warnings)}};
  }

  const std::vector<WatchTarget> &watched_targets() override {
    return *m_targets;
  }

  std::set<fs::path> unreported() override { return m_watcher->unreported(); }

  Result<void> reload() override {
    // The file is looked for again, as a restart would: one written since
    // the daemon started without one is read, and when the one it read was
    // removed, the defaults apply again.
    const std::optional<fs::path> file =
        resolve_config_file(m_options.paths, m_env, current_os());
    auto loaded = file ? load_config_file(*file)
                       : tl::expected<Config, ConfigErrors>(default_config());
    if (!loaded) {
      std::string message = "config reload refused; keeping the old config:";
      for (const auto &p : loaded.error().problems) {
        message += "\n  " + p.to_string();
      }
      spdlog::error("{}", message);
      (void)m_store.add_event({Severity::error, "config_rejected",
                               file ? file->string() : "", message, "{}", 0});
      // Until a reload succeeds: the file on disk is not what runs.
      m_config_warning =
          "the config file " + (file ? file->string() : std::string()) +
          " was refused at the last reload (mcpbkd --check-config says why); "
          "the config read before it still applies";
      return fail(ErrorCode::bad_request, message);
    }
    m_config_warning.clear();
    const bool backend_changed =
        loaded->watch.backend != m_config.watch.backend ||
        loaded->watch.poll_interval_ms != m_config.watch.poll_interval_ms;
    check_paths_of(*loaded);
    // Hosts whose trigger changed: what their files hold now may not have
    // been recorded under the old one (an edit outside the servers, with
    // trigger mcp), and is looked at without waiting for a save.
    std::set<std::string> retriggered;
    for (const auto &def : host_catalog()) {
      if (loaded->host(def.name).trigger != m_config.host(def.name).trigger) {
        retriggered.emplace(def.name);
      }
    }
    m_config = std::move(*loaded);
    m_config_file = file;
    m_notify_warning.clear(); // the next risky change tries the new command
    configure_logging(m_config.log.format,
                      m_options.log_level.value_or(m_config.log.level));
    m_store.set_compression(m_config.store.compression);
    for (Debouncer *debouncer : {&m_debouncer, &m_discovery_debouncer}) {
      debouncer->set_delays(
          std::chrono::milliseconds(m_config.watch.debounce_ms),
          std::chrono::milliseconds(m_config.watch.max_delay_ms));
    }
    if (backend_changed) {
      m_watcher->stop();
      TRY(make_watcher());
    }
    check_variables_of_config();
    refresh_targets(SnapshotTrigger::initial);
    // A file skipped under the old config (over the old max_file_bytes) is
    // read again under the new one, without waiting for its next save.
    for (const auto &[path, skip] : m_skipped) {
      queue_scan(path, SnapshotTrigger::change);
    }
    for (const auto &t : *m_targets) {
      if (retriggered.contains(t.host) && !m_skipped.contains(t.path)) {
        queue_scan(t.path, SnapshotTrigger::change);
      }
    }
    schedule_rescan();
    schedule_prune();
    spdlog::info("config reloaded from {}",
                 m_config_file ? m_config_file->string() : "embedded default");
    return {};
  }

  // Watch paths that name an unset ${VAR} resolve to nothing: a status
  // warning while the config (loaded at start and reload) has them.
  void check_variables_of_config() {
    std::string unset;
    for (const std::string &problem :
         unset_variables_in(m_config, m_env, current_os())) {
      unset += (unset.empty() ? "" : "; ") + problem;
    }
    set_warning(m_unset_warning, std::move(unset), "config_unresolved");
  }

  // The state directory and the socket cannot move under a running
  // daemon (its lock, its store, its clients): a config that moves them
  // applies at the next start. Until then mcpbkctl, which follows the
  // config, looks for them elsewhere: say so, once per change, in the log,
  // an event and status.
  void check_paths_of(const Config &config) {
    const StatePaths wanted =
        resolve_state_paths(m_options.paths, config, m_env, current_os());
    std::vector<std::string> moved;
    // The same place by another name (a link to the directory in use) is
    // no move.
    const auto same = [](const fs::path &a, const fs::path &b) {
      std::error_code ec_a;
      std::error_code ec_b;
      return a == b ||
             (fs::weakly_canonical(a, ec_a) == fs::weakly_canonical(b, ec_b) &&
              !ec_a && !ec_b);
    };
    if (!same(wanted.state_dir, m_paths.state_dir)) {
      moved.push_back("state directory to " + wanted.state_dir.string() +
                      " (in use: " + m_paths.state_dir.string() + ")");
    }
    if (!same(wanted.socket, m_paths.socket)) {
      moved.push_back("socket to " + wanted.socket.string() +
                      " (in use: " + m_paths.socket.string() + ")");
    }
    std::string warning;
    for (const auto &m : moved) {
      warning += (warning.empty() ? "the config moves the " : " and the ") + m;
    }
    if (!warning.empty()) {
      warning += "; restart mcpbkd to apply it (until then mcpbkctl, which "
                 "reads the config, looks for the daemon's files there)";
    }
    set_warning(m_restart_warning, std::move(warning), "restart_needed");
  }

  void restored(const WatchTarget &target) override {
    m_restored[target.path] = std::chrono::steady_clock::now();
  }

  void publish(const json &message) override {
    if (m_server) {
      m_server->publish(message);
    }
  }

  // Publishes a snapshot or an event record to subscribers, building the
  // message only when a client subscribes (most of the time none does).
  template <class Record>
  void publish_record(const char *kind, const Record &record) {
    if (m_server && m_server->has_subscribers()) {
      m_server->publish({{"v", ops::k_protocol_version},
                         {"event", kind},
                         {"data", ops::to_json(record)}});
    }
  }

private:
  // A watcher of the configured backend (inotify falls back to poll under
  // `auto` when it cannot start).
  Result<std::unique_ptr<Watcher>> new_watcher(WatcherCallbacks callbacks) {
    const bool poll = m_config.watch.backend == WatchBackend::poll ||
                      (m_config.watch.backend == WatchBackend::automatic &&
                       current_os() != Os::gnu_linux);
    if (!poll) {
      auto w = make_inotify_watcher(m_io, callbacks);
      if (w || m_config.watch.backend == WatchBackend::inotify) {
        return w;
      }
      m_warnings.insert(w.error().message + "; using the poll backend");
    }
    return make_poll_watcher(m_io, std::move(callbacks),
                             m_config.watch.poll_interval_ms);
  }

  Result<void> make_watcher() {
    TRY_ASSIGN(m_watcher,
               new_watcher({[this](const fs::path &p) { on_change(p); },
                            [this](const std::string &reason) {
                              on_rescan_needed(reason);
                            },
                            [this] {
                              on_discover();
                            }}));
    std::vector<fs::path> paths;
    for (const auto &t : *m_targets) {
      paths.push_back(t.path);
    }
    m_watcher->set_paths(paths);
    m_watcher->set_discovery(m_discovery);
    // The store file and the socket are watched like config files, so a
    // deletion or replacement is noticed at once without polling.
    if (m_state_watcher) {
      m_state_watcher->stop();
    }
    TRY_ASSIGN(m_state_watcher,
               new_watcher({[this](const fs::path &) { health_check(); },
                            [this](const std::string &) { health_check(); },
                            {}}));
    m_state_watcher->set_paths({m_store.file(), m_paths.socket});
    return {};
  }

  // Re-resolves the files to protect; new ones are captured with `trigger`
  // (`change`: after the debounce, as a file that was just written).
  void refresh_targets(SnapshotTrigger trigger) {
    ResolveInput input;
    input.config = &m_config;
    input.env = m_env;
    input.claude_projects = m_claude_projects;
    Resolution next = resolve_watch(input);
    std::set<fs::path> before;
    for (const auto &t : *m_targets) {
      before.insert(t.path);
    }
    // Requests being answered beside the loop keep the list they were
    // given.
    const std::shared_ptr<const std::vector<WatchTarget>> previous =
        std::move(m_targets);
    m_targets = std::make_shared<const std::vector<WatchTarget>>(
        std::move(next.targets));
    m_target_index.clear();
    m_target_index.reserve(m_targets->size());
    for (std::size_t i = 0; i < m_targets->size(); ++i) {
      m_target_index.emplace((*m_targets)[i].path.native(), i);
    }
    m_context.targets = m_targets;
    std::set<fs::path> now;
    for (const auto &t : *m_targets) {
      now.insert(t.path);
    }
    for (const auto &t : *previous) {
      // A file that went with its directory (a project renamed or removed)
      // is no longer resolved; its deletion is still an event, as when it
      // is deleted alone. One that is still there was only let go (a host
      // disabled, a project dropped from ~/.claude.json).
      std::error_code ec;
      if (!now.count(t.path) && m_exists[t.path] &&
          fs::symlink_status(t.path, ec).type() == fs::file_type::not_found) {
        m_exists[t.path] = false;
        file_deleted(t);
      } else if (!now.count(t.path) && m_exists[t.path]) {
        // Let go (a host disabled, a watch.paths entry removed): its
        // history stays, and the log says that its saves no longer are.
        spdlog::info("no longer watched: {} ({}); its snapshots are kept",
                     t.path.string(), t.host);
      }
    }
    std::vector<fs::path> paths;
    for (const auto &t : *m_targets) {
      paths.push_back(t.path);
      if (!before.count(t.path)) {
        remove_stale_temp_files(t.path);
        if (trigger == SnapshotTrigger::change) {
          on_change(t.path);
        } else {
          queue_scan(t.path, trigger);
        }
      }
    }
    // A file created in a new discovery directory between the resolve above
    // and its watch below would be seen by no event: resolve once more after
    // the watch is in place (at start too).
    const bool more =
        std::ranges::any_of(next.discovery, [this](const DiscoveryDir &d) {
          return !std::binary_search(m_discovery.begin(), m_discovery.end(), d);
        });
    m_discovery = std::move(next.discovery);
    m_watcher->set_paths(paths);
    m_watcher->set_discovery(m_discovery);
    if (more) {
      on_discover();
    }
  }

  // A new entry may add files to protect: resolve again once entries have
  // been quiet for the debounce (a clone or an unpacked archive makes many).
  void on_discover() {
    if (m_stopping) {
      return;
    }
    // Quiet for the debounce, but no later than max_delay after the first
    // entry, as for a file's changes (one key: the whole set of targets).
    m_discovery_debouncer.touch({}, std::chrono::steady_clock::now());
    m_discovery_timer.expires_at(*m_discovery_debouncer.next_deadline());
    m_discovery_timer.async_wait([this](const boost::system::error_code &ec) {
      if (ec || m_stopping ||
          m_discovery_debouncer.take_due(std::chrono::steady_clock::now())
              .empty()) {
        return;
      }
      spdlog::debug("new entries where files to protect may appear: "
                    "resolving the watched files again");
      refresh_targets(SnapshotTrigger::change);
    });
  }

  void refresh_claude_projects() {
    set_claude_projects(
        claude_projects_of(m_env, m_config.store.max_file_bytes));
  }

  void set_claude_projects(std::vector<fs::path> projects) {
    // Kept once known: a project ~/.claude.json no longer lists (a reset by
    // an installer, the file emptied or broken: the very day its project
    // files most need watching) keeps its files protected, as do those
    // with good snapshots from before this start.
    if (m_project_roots_from_store &&
        std::all_of(projects.begin(), projects.end(), [this](const auto &p) {
          return m_claude_project_set.contains(p.native());
        })) {
      return; // nothing new: the usual change of ~/.claude.json
    }
    projects.insert(projects.end(), m_claude_projects.begin(),
                    m_claude_projects.end());
    if (!m_project_roots_from_store) {
      // Any project file with a good snapshot taken here (.mcp.json,
      // .cursor/mcp.json, ...) makes its directory a project; a user-level
      // file of that shape (~/.cursor/mcp.json, ~/.config/opencode/
      // opencode.json) does not.
      m_project_roots_from_store.emplace();
      ResolveInput users;
      users.config = &m_config;
      users.env = m_env;
      std::unordered_set<std::string> user_files;
      for (const auto &t : resolve_targets(users)) {
        user_files.insert(t.path.string());
      }
      if (auto files = m_store.good_files()) {
        for (const auto &[host, path] : *files) {
          if (user_files.contains(path)) {
            continue;
          }
          if (const auto root = project_root_of(host, path)) {
            m_project_roots_from_store->push_back(*root);
          }
        }
      }
    }
    projects.insert(projects.end(), m_project_roots_from_store->begin(),
                    m_project_roots_from_store->end());
    std::sort(projects.begin(), projects.end());
    projects.erase(std::unique(projects.begin(), projects.end()),
                   projects.end());
    if (projects != m_claude_projects) {
      m_claude_projects = std::move(projects);
      m_claude_project_set.clear();
      for (const auto &project : m_claude_projects) {
        m_claude_project_set.insert(project.native());
      }
      if (!m_targets->empty()) {
        refresh_targets(SnapshotTrigger::initial);
      }
    }
  }

  // By the index: every capture looks its file up, and a ~/.claude.json
  // of 10 000 projects has 30 000 targets (a scan of them per capture made
  // the first start take minutes).
  const WatchTarget *find_target(const fs::path &path) const {
    const auto it = m_target_index.find(path.native());
    return it == m_target_index.end() ? nullptr : &(*m_targets)[it->second];
  }

  void on_change(const fs::path &path) {
    if (m_stopping) {
      return;
    }
    m_debouncer.touch(path, std::chrono::steady_clock::now());
    arm_debounce_timer();
  }

  void on_rescan_needed(const std::string &reason) {
    ++m_overflow_rescans;
    m_last_rescan_reason = reason;
    spdlog::warn("rescanning every watched file: {}", reason);
    (void)m_store.add_event({Severity::warning, "rescan", "",
                             "rescanning every watched file: " + reason, "{}",
                             0});
    rescan_all();
  }

  void rescan_all() {
    refresh_claude_projects();
    refresh_targets(SnapshotTrigger::initial);
    for (const auto &t : *m_targets) {
      remove_stale_temp_files(t.path);
      queue_scan(t.path, SnapshotTrigger::change);
    }
  }

  void arm_debounce_timer() {
    const auto deadline = m_debouncer.next_deadline();
    if (!deadline) {
      return;
    }
    m_debounce_timer.expires_at(*deadline);
    m_debounce_timer.async_wait([this](const boost::system::error_code &ec) {
      if (ec || m_stopping) {
        return;
      }
      for (const auto &path :
           m_debouncer.take_due(std::chrono::steady_clock::now())) {
        capture(path, SnapshotTrigger::change);
      }
      arm_debounce_timer();
      arm_idle_trim();
    });
  }

  // Captures are queued and run one per turn of the loop, so a scan of many
  // files never holds up the socket for longer than one snapshot.
  void queue_scan(const fs::path &path, SnapshotTrigger trigger) {
    m_scan_queue.emplace_back(path, trigger);
    if (m_scan_queue.size() == 1) {
      asio::post(m_io, [this] { drain_one(); });
    }
  }

  void drain_one() {
    if (m_scan_queue.empty() || m_stopping) {
      m_scan_queue.clear();
      return;
    }
    auto [path, trigger] = m_scan_queue.front();
    m_scan_queue.pop_front();
    capture(path, trigger);
    if (!m_scan_queue.empty()) {
      asio::post(m_io, [this] { drain_one(); });
    } else {
      arm_idle_trim();
    }
  }

  void arm_idle_trim() {
    if (m_stopping) {
      // A reply finished after the stop began (a read answered beside the
      // loop) armed it again, and run() waited the 5 s out.
      return;
    }
    m_idle_timer.expires_after(k_idle_trim);
    m_idle_timer.async_wait([this](const boost::system::error_code &ec) {
      if (ec || m_stopping) {
        return;
      }
      m_store.release_memory();
      release_compression_memory();
#ifdef __GLIBC__
      ::malloc_trim(0);
#endif
      // Last: reading smaps and the trim above fault in code of their own.
      const ReleasedPages released = release_file_pages();
      spdlog::debug("idle: released {} KiB of code and read-only data in {} "
                    "mappings",
                    released.bytes / 1024, released.mappings);
    });
  }

  // Retention measures age from the newest snapshot's time (SPEC §7).
  // Snapshots recorded after the wall clock was set far ahead carry times
  // that make everything before them look old, and the age rule would
  // delete that history at once. While the clock stands more than
  // k_clock_jump ahead of where it was at start (against the boot clock,
  // which setting the wall clock does not move), the age rule is paused;
  // max_count and the other rules still apply. A clock set back needs no
  // pause: retention orders snapshots by record, not by time.
  void check_clock() {
    const Micros ahead = wall_clock_offset_micros() - m_clock_offset;
    const bool jumped = ahead > k_clock_jump;
    if (jumped == m_store.age_rule_paused()) {
      return;
    }
    m_store.pause_age_rule(jumped);
    if (!jumped) {
      m_clock_warning.clear();
      spdlog::info("the system clock is back near where it was when mcpbkd "
                   "started; retention's max_age_days applies again");
      return;
    }
    const Micros days = ahead / k_micros_per_day;
    m_clock_warning =
        "the system clock was set " + std::to_string(days) +
        (days == 1 ? " day" : " days") +
        " ahead while mcpbkd ran; retention's max_age_days is paused "
        "until the clock is back or mcpbkd restarts, so that a wrong clock "
        "does not age the history out";
    warn_event("clock_jumped", m_clock_warning);
  }

  // A warning for the log, the event log and subscribers.
  void warn_event(std::string_view kind, const std::string &message) {
    spdlog::warn("{}", message);
    auto event = m_store.add_event(
        {Severity::warning, std::string(kind), "", message, "{}", 0});
    if (event) {
      publish_record("event", *event);
    }
  }

  // A warning that stays in status while it holds (`slot`); the log and the
  // event log get it once, when it appears or changes. Empty ends it.
  void set_warning(std::string &slot, std::string text, std::string_view kind) {
    if (text == slot) {
      return;
    }
    slot = std::move(text);
    if (!slot.empty()) {
      warn_event(kind, slot);
    }
  }

  void capture(const fs::path &path, SnapshotTrigger trigger) {
    check_clock();
    const WatchTarget *found = find_target(path);
    if (!found) {
      m_retry.erase(path);
      return;
    }
    const WatchTarget target = *found;
    const bool claude_json = m_claude_json_files.contains(path.native());
    CaptureRequest request;
    request.trigger = trigger;
    request.claude_projects = claude_json;
    if (const auto skipped = m_skipped.find(path); skipped != m_skipped.end()) {
      request.skip_reported = skipped->second.kind;
    }
    auto outcome = capture_file(m_store, target, request, m_config);
    if (!outcome) {
      spdlog::error("cannot snapshot {}: {}", path.string(),
                    outcome.error().message);
      m_last_failure = outcome.error().message;
      if (m_retry.count(path) > 0) {
        // Already reported; a failure that lasts must not fill the events.
        schedule_retry(path, trigger);
        return;
      }
      auto event = m_store.add_event(
          {Severity::error, "snapshot_failed", path.string(),
           "cannot snapshot " + path.string() + ": " + outcome.error().message,
           "{}", 0});
      if (event) {
        publish_record("event", *event);
      } else {
        spdlog::error("cannot record the snapshot_failed event either: {}",
                      event.error().message);
      }
      schedule_retry(path, trigger);
      return;
    }
    if (m_retry.erase(path) > 0 && m_retry.empty()) {
      spdlog::info("snapshots work again");
      m_retry_delay = 0ms;
    }
    for (const auto &event : outcome->events) {
      publish_record("event", event);
    }
    using Kind = CaptureOutcome::Kind;
    const bool seen = m_exists.count(path) > 0;
    const bool existed = seen && m_exists[path];
    switch (outcome->kind) {
    case Kind::recorded:
      m_exists[path] = true;
      recorded(target, *outcome);
      break;
    case Kind::missing:
      m_exists[path] = false;
      if (existed || (!seen && deleted_unseen(path))) {
        file_deleted(target, !existed);
      }
      break;
    case Kind::unchanged:
    case Kind::mcp_unchanged:
      m_exists[path] = true;
      if (outcome->kind == Kind::mcp_unchanged) {
        spdlog::debug("{} changed outside its MCP servers; no snapshot",
                      path.string());
      }
      break;
    case Kind::skipped:
      m_exists[path] = true;
      // Reported once while it lasts: an application rewriting a file the
      // daemon cannot read (or one over store.max_file_bytes) would
      // otherwise add an event at each save.
      if (outcome->events.empty()) {
        spdlog::debug("{} still not snapshotted: {}", path.string(),
                      outcome->skip_message);
      } else {
        spdlog::warn("{} not snapshotted: {}", path.string(),
                     outcome->skip_message);
      }
      m_skipped[path] = {outcome->skip_kind, outcome->skip_message};
      break;
    }
    if (outcome->kind != Kind::skipped && m_skipped.erase(path) > 0 &&
        outcome->kind != Kind::missing) {
      spdlog::info("{} can be snapshotted again", path.string());
    }
    if (claude_json && (outcome->kind == Kind::recorded ||
                        outcome->kind == Kind::mcp_unchanged)) {
      // The capture's parse lists the projects; reading the file again
      // would cost a 2 MB one a few more milliseconds per change.
      if (outcome->claude_projects) {
        set_claude_projects(std::move(*outcome->claude_projects));
      } else {
        refresh_claude_projects();
      }
    }
  }

  void recorded(const WatchTarget &target, const CaptureOutcome &outcome) {
    const SnapshotRecord &snap = *outcome.snapshot;
    spdlog::info("snapshot {} of {} ({}, {} risk): {}", snap.id, snap.path,
                 to_string(snap.trigger), to_string(snap.risk), snap.summary);
    if (outcome.pruned.snapshots > 0) {
      spdlog::info("retention removed {} snapshots of {}",
                   outcome.pruned.snapshots, snap.path);
    }
    publish_record("snapshot", snap);
    if (snap.risk >= Risk::high && !m_config.notify.command.empty()) {
      // One that cannot be started warns once per spell instead of failing
      // unseen at every risky change; one that starts again, or a reload,
      // ends the spell.
      set_warning(m_notify_warning,
                  run_notify(m_config.notify.command,
                             std::string("mcpbk: ") + to_string(snap.risk) +
                                 " risk change to " +
                                 shorten_home(snap.path, m_env.home()) + ": " +
                                 snap.summary,
                             snap.path),
                  "notify_failed");
    }
    auto restored_at = m_restored.find(target.path);
    if (restored_at != m_restored.end()) {
      if (std::chrono::steady_clock::now() - restored_at->second <=
              k_restore_watch &&
          snap.trigger == SnapshotTrigger::change) {
        const std::string message =
            target.path.string() +
            " was rewritten within 10 s of a restore; the host application "
            "may have overwritten it (snapshot " +
            std::to_string(snap.id) + ")";
        spdlog::warn("{}", message);
        auto event = m_store.add_event(
            {Severity::warning, "rewritten_after_restore", target.path.string(),
             message, json{{"snapshot_id", snap.id}}.dump(), 0});
        if (event) {
          publish_record("event", *event);
        }
      }
      m_restored.erase(restored_at);
    }
  }

  // Whether a file found missing the first time it is looked at (at start,
  // or newly watched) was deleted while mcpbkd was not watching it: it has
  // snapshots, its newest not imported (another machine's history of a
  // file that never was here), and no deletion said of that newest one
  // (known by the snapshot the event names, as a newest one dated ahead of
  // the clock would fail a test of times; or, for an event from before
  // events named it, by its time).
  bool deleted_unseen(const fs::path &path) {
    const auto latest = m_store.latest_for_path(path.string());
    if (!latest || !*latest ||
        (*latest)->trigger == SnapshotTrigger::imported) {
      return false;
    }
    const auto said = m_store.has_event_since(
        "deleted", path.string(), (*latest)->id, (*latest)->taken_at);
    return said && !*said;
  }

  void file_deleted(const WatchTarget &target, bool unseen = false) {
    const std::string message =
        target.path.string() +
        (unseen ? " was deleted while mcpbkd was not watching it"
                : " was deleted") +
        "; its snapshots are kept";
    spdlog::warn("{}", message);
    json details = json::object();
    if (const auto latest = m_store.latest_for_path(target.path.string());
        latest && *latest) {
      details["snapshot_id"] = (*latest)->id;
    }
    auto event =
        m_store.add_event({Severity::warning, "deleted", target.path.string(),
                           message, details.dump(), 0});
    if (event) {
      publish_record("event", *event);
    }
  }

  void schedule_rescan() {
    m_rescan_timer.cancel();
    if (m_config.watch.rescan_interval_s == 0) {
      return;
    }
    m_rescan_timer.expires_after(
        std::chrono::seconds(m_config.watch.rescan_interval_s));
    m_rescan_timer.async_wait([this](const boost::system::error_code &ec) {
      if (ec || m_stopping) {
        return;
      }
      spdlog::debug("periodic rescan");
      health_check();
      rescan_all();
      schedule_rescan();
    });
  }

  // Captures `path` again later: a failure such as a full disk must not
  // leave the last change unprotected until the next edit.
  void schedule_retry(const fs::path &path, SnapshotTrigger trigger) {
    if (m_stopping) {
      return;
    }
    m_retry.emplace(path, trigger);
    if (m_retry_armed) {
      return;
    }
    m_retry_delay = m_retry_delay == 0ms
                        ? std::chrono::milliseconds(k_retry_first)
                        : std::min<std::chrono::milliseconds>(m_retry_delay * 2,
                                                              k_retry_max);
    spdlog::warn("retrying {} failed snapshots in {} ms", m_retry.size(),
                 m_retry_delay.count());
    m_retry_armed = true;
    m_retry_timer.expires_after(m_retry_delay);
    m_retry_timer.async_wait([this](const boost::system::error_code &ec) {
      m_retry_armed = false;
      if (ec || m_stopping) {
        return;
      }
      for (const auto &[retry_path, retry_trigger] : m_retry) {
        queue_scan(retry_path, retry_trigger);
      }
    });
  }

  // Detects a store file deleted or replaced behind the daemon's back
  // (SQLite would go on writing to the unlinked inode) and a deleted
  // socket, and repairs both. Runs on the state watcher's events; while a
  // repair fails it is retried every second.
  void health_check() {
    if (m_stopping) {
      return;
    }
    check_store_file();
    check_socket();
    if (m_store_problem.empty() && !m_socket_lost) {
      return;
    }
    m_health_timer.expires_after(k_health_retry);
    m_health_timer.async_wait([this](const boost::system::error_code &ec) {
      if (!ec) {
        health_check();
      }
    });
  }

  void check_store_file() {
    if (!m_store.file_replaced()) {
      return;
    }
    // No reader thread opens a connection while the daemon moves the old
    // WAL aside and opens the new file (one opening it meanwhile could use
    // the WAL being moved); those they have read the old file until their
    // next request, which opens the file the daemon has then.
    auto history = [this] {
      if (!m_server) {
        return m_store.reopen_replaced();
      }
      ReaderLane &lane = m_server->reader_lane();
      const auto pause = lane.pause();
      auto reopened = m_store.reopen_replaced();
      lane.set_store(m_store.file(), m_store.identity());
      return reopened;
    }();
    if (!history) {
      if (m_store_problem != history.error().message) {
        m_store_problem = history.error().message;
        spdlog::critical("the store file {} was deleted or replaced, and "
                         "cannot be reopened: {}; still writing to the "
                         "open database",
                         m_store.file().string(), m_store_problem);
      }
      return;
    }
    m_store_problem.clear();
    const std::string message =
        "the store file " + m_store.file().string() +
        " was deleted or replaced while the daemon ran; the store is open "
        "again and its history is in " +
        history->string();
    spdlog::critical("{}", message);
    m_warnings.insert(message);
    auto event = m_store.add_event(
        {Severity::critical, "store_replaced", m_store.file().string(), message,
         json{{"history", history->string()}}.dump(), 0});
    if (event) {
      publish_record("event", *event);
    }
    // A new store may lack the current content of every file.
    rescan_all();
  }

  void check_socket() {
    if (!m_server) {
      return;
    }
    auto recreated = m_server->ensure_socket();
    if (!recreated) {
      if (!m_socket_lost) {
        m_socket_lost = true;
        spdlog::critical("the socket {} was removed and cannot be re-created: "
                         "{}; clients cannot reach the daemon",
                         m_paths.socket.string(), recreated.error().message);
        (void)m_store.add_event({Severity::critical, "socket_lost",
                                 m_paths.socket.string(),
                                 "the socket was removed and cannot be "
                                 "re-created: " +
                                     recreated.error().message,
                                 "{}", 0});
      }
      return;
    }
    if (*recreated) {
      m_socket_lost = false;
      const std::string message = "the socket " + m_paths.socket.string() +
                                  " was removed or replaced; re-created it";
      spdlog::warn("{}", message);
      (void)m_store.add_event({Severity::warning, "socket_recreated",
                               m_paths.socket.string(), message, "{}", 0});
    }
  }

  void schedule_prune() {
    m_prune_timer.cancel();
    m_prune_timer.expires_after(
        std::chrono::seconds(m_config.prune_interval_s));
    m_prune_timer.async_wait([this](const boost::system::error_code &ec) {
      if (ec || m_stopping) {
        return;
      }
      check_clock();
      auto result = apply_retention(m_store, m_config.retention);
      if (!result) {
        spdlog::error("retention failed: {}", result.error().message);
      } else if (result->snapshots > 0) {
        spdlog::info("retention removed {} snapshots ({} bytes)",
                     result->snapshots, result->bytes_freed);
      }
      if (auto events = m_store.trim_events(); !events) {
        spdlog::error("trimming the event log failed: {}",
                      events.error().message);
      } else if (*events > 0) {
        spdlog::info("the event log dropped its {} oldest events", *events);
      }
      arm_idle_trim();
      schedule_prune();
    });
  }

  void wait_signal() {
    m_signals.async_wait([this](const boost::system::error_code &ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading config");
        (void)reload();
        wait_signal();
      } else if (sig == SIGUSR1) {
        on_rescan_needed("SIGUSR1");
        wait_signal();
      } else {
        spdlog::info("{}: shutting down",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
        shutdown();
      }
    });
  }

  // Stops accepting, captures what is pending, then lets run() return.
  void shutdown() {
    if (m_server) {
      m_server->stop();
    }
    for (const auto &path :
         m_debouncer.take_due(std::chrono::steady_clock::time_point::max())) {
      capture(path, SnapshotTrigger::change);
    }
    m_stopping = true;
    m_scan_queue.clear();
    m_watcher->stop();
    m_state_watcher->stop();
    m_debounce_timer.cancel();
    m_discovery_timer.cancel();
    m_rescan_timer.cancel();
    m_prune_timer.cancel();
    m_retry_timer.cancel();
    m_health_timer.cancel();
    m_idle_timer.cancel();
    boost::system::error_code ignored;
    m_signals.cancel(ignored);
  }

  asio::io_context &m_io;
  const Env &m_env;
  DaemonOptions m_options;
  Config m_config;
  std::optional<fs::path> m_config_file;
  StatePaths m_paths;
  Store m_store;
  ops::Context m_context;
  std::unique_ptr<Watcher> m_watcher;
  std::unique_ptr<Watcher> m_state_watcher;
  std::unique_ptr<IpcServer> m_server;
  Debouncer m_debouncer;
  Debouncer m_discovery_debouncer;
  asio::steady_timer m_debounce_timer;
  asio::steady_timer m_discovery_timer;
  asio::steady_timer m_rescan_timer;
  asio::steady_timer m_prune_timer;
  asio::steady_timer m_retry_timer;
  asio::steady_timer m_health_timer;
  asio::steady_timer m_idle_timer;
  asio::signal_set m_signals;
  std::shared_ptr<const std::vector<WatchTarget>> m_targets =
      std::make_shared<const std::vector<WatchTarget>>();
  // m_targets' positions by path (find_target()).
  std::unordered_map<std::string, std::size_t> m_target_index;
  std::vector<DiscoveryDir> m_discovery; // sorted
  std::vector<fs::path> m_claude_projects;
  // Project roots of the claude-code project files with good snapshots,
  // read from the store once.
  std::optional<std::vector<fs::path>> m_project_roots_from_store;
  std::unordered_set<std::string> m_claude_project_set; // the same, to look up
  // The Claude Code config files whose projects count (claude_projects_of).
  const std::unordered_set<std::string> m_claude_json_files = [this] {
    std::unordered_set<std::string> files;
    for (const auto &file : claude_code_config_paths(m_env)) {
      files.insert(file.lexically_normal().native());
    }
    return files;
  }();
  std::map<fs::path, bool> m_exists;
  // Watched files passed over (unreadable, too large, not a regular file)
  // until a capture no longer skips them: why (for status), and the kind
  // already recorded as an event.
  struct Skip {
    std::string kind; // the event kind recorded
    std::string message;
  };
  std::map<fs::path, Skip> m_skipped;
  std::map<fs::path, std::chrono::steady_clock::time_point> m_restored;
  std::deque<std::pair<fs::path, SnapshotTrigger>> m_scan_queue;
  std::map<fs::path, SnapshotTrigger> m_retry;
  std::string m_last_failure; // the newest capture failure's message
  std::chrono::milliseconds m_retry_delay{0};
  bool m_retry_armed = false;
  std::string m_store_problem;
  bool m_socket_lost = false;
  std::set<std::string> m_warnings;
  std::uint64_t m_overflow_rescans = 0;
  std::string m_last_rescan_reason;
  std::string m_instance_id;
  std::chrono::steady_clock::time_point m_started;
  Micros m_clock_offset;         // wall_clock_offset_micros() at start
  std::string m_clock_warning;   // while the age rule is paused
  std::string m_restart_warning; // while the config moves the state or socket
  std::string m_notify_warning;  // while notify.command cannot be started
  std::string m_config_warning;  // while the config file was refused
  std::string m_unset_warning;   // while watch paths name unset variables
  bool m_stopping = false;
};

void print_config_errors(const ConfigErrors &errors) {
  for (const auto &p : errors.problems) {
    std::fprintf(stderr, "mcpbkd: %s: %s\n", errors.source.c_str(),
                 p.to_string().c_str());
  }
}

} // namespace

int run(const DaemonOptions &options, const Env &env) {
  const auto config_file =
      resolve_config_file(options.paths, env, current_os());
  auto config = config_file
                    ? load_config_file(*config_file)
                    : tl::expected<Config, ConfigErrors>(default_config());
  if (!config) {
    print_config_errors(config.error());
    return k_exit_config;
  }
  // What would stop a start is checked by --check-config too (scripts/
  // install relies on it), before anything is made.
  if (!configure_logging(config->log.format,
                         options.log_level.value_or(config->log.level))) {
    std::fprintf(stderr, "mcpbkd: --log-level: unknown level \"%s\"\n",
                 options.log_level.value_or("").c_str());
    return k_exit_usage;
  }
  const StatePaths paths =
      resolve_state_paths(options.paths, *config, env, current_os());
  if (const std::size_t most = sizeof(sockaddr_un{}.sun_path) - 1;
      paths.socket.native().size() > most) {
    std::fprintf(stderr,
                 "mcpbkd: the socket path %s is too long (%zu bytes, at most "
                 "%zu); set ipc.socket (or --socket) to a shorter one\n",
                 paths.socket.c_str(), paths.socket.native().size(), most);
    return options.paths.socket ? k_exit_usage : k_exit_config;
  }
  if (options.check_config) {
    std::printf("%s: configuration is valid\n",
                config_file ? config_file->c_str() : "embedded default");
    for (const std::string &problem :
         unset_variables_in(*config, env, current_os())) {
      std::printf("warning: %s\n", problem.c_str());
    }
    return k_exit_ok;
  }
  if (auto dir = ensure_private_dir(paths.state_dir); !dir) {
    spdlog::critical("{}", dir.error().message);
    return k_exit_failure;
  }
  auto lock = LockFile::acquire(paths.lock_file);
  if (!lock) {
    std::fprintf(stderr, "mcpbkd: %s\n", lock.error().message.c_str());
    return lock.error().code == ErrorCode::conflict ? k_exit_tempfail
                                                    : k_exit_failure;
  }
  auto store = Store::open(paths.store_file, config->store.compression,
                           Store::Repair::yes);
  if (!store) {
    spdlog::critical("cannot open the store: {}", store.error().message);
    return k_exit_failure;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGCHLD, SIG_IGN); // notify.command children reap themselves

  asio::io_context io(1);
  Daemon daemon(io, env, options, std::move(*config), config_file, paths,
                std::move(*store));
  if (auto started = daemon.start(); !started) {
    spdlog::critical("cannot start: {}", started.error().message);
    return k_exit_failure;
  }
  io.run();
  // SPEC §5 gives a stop 2 s. A request that only reads is interrupted;
  // one still busy after that (a diff's own work cannot be) is left behind:
  // everything the daemon wrote is committed, and destroying the daemon
  // would wait for that thread.
  if (!daemon.stop_readers(k_reader_stop_wait)) {
    spdlog::warn("a request that only reads is still running; exiting "
                 "without waiting for it");
    spdlog::info("mcpbkd stopped");
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(k_exit_ok);
  }
  spdlog::info("mcpbkd stopped");
  return k_exit_ok;
}

} // namespace mcpbk::daemon
