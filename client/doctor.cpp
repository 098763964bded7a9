#include <client/doctor.hpp>

#include <client/connection.hpp>
#include <client/format.hpp>

#include <common/config.hpp>
#include <common/fs.hpp>
#include <common/hosts.hpp>
#include <common/mcp.hpp>
#include <common/ops/ops.hpp>
#include <common/store.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#ifdef __linux__
#include <linux/fs.h>
#include <sys/ioctl.h>
#endif
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace mcpbk::client {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Check {
  enum class Level { ok, warning, problem };
  std::string name;
  Level level = Level::ok;
  std::string message;
  std::string fix; // empty when nothing needs doing
};

const char *to_string(Check::Level level) {
  switch (level) {
  case Check::Level::ok:
    return "ok";
  case Check::Level::warning:
    return "warning";
  case Check::Level::problem:
    return "problem";
  }
  return "?";
}

// Runs a fixed command (no user input in it) and returns its first line of
// output, or std::nullopt when it could not run or failed.
std::optional<std::string> first_line_of(const char *command) {
  std::FILE *pipe = ::popen(command, "r");
  if (!pipe) {
    return std::nullopt;
  }
  char buf[256] = {};
  const bool got = std::fgets(buf, sizeof buf, pipe) != nullptr;
  const int status = ::pclose(pipe);
  std::string line = got ? buf : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.pop_back();
  }
  if (status != 0) {
    return std::nullopt;
  }
  return line;
}

bool have_user_systemd() {
  return first_line_of("systemctl --user show-environment 2>/dev/null")
      .has_value();
}

std::string start_advice() {
  if (current_os() == Os::macos) {
    return "launchctl kickstart gui/$(id -u)/com.mcpbk.mcpbkd (or run "
           "./scripts/install)";
  }
  if (have_user_systemd()) {
    return "systemctl --user start mcpbkd; `journalctl --user -u mcpbkd` "
           "says why it stopped";
  }
  return "run `mcpbkd &` (no service manager here), or ./scripts/install";
}

// A file or directory marked immutable or append-only (chattr +i, +a),
// which no chown or chmod mends: `what` went wrong, said with the mark and
// the command that takes it away. Nothing elsewhere than Linux.
std::optional<std::pair<std::string, std::string>>
marked_problem(const std::string &what, const fs::path &path, bool dir) {
#ifdef __linux__
  int flags = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC |
                                          (dir ? O_DIRECTORY : O_NOFOLLOW));
  const bool got = fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  if (got && (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)) != 0) {
    const bool immutable = (flags & FS_IMMUTABLE_FL) != 0;
    const std::string attr = immutable ? "i" : "a";
    return std::pair{
        what + " (it is marked " + (immutable ? "immutable" : "append-only") +
            ": lsattr" + (dir ? " -d" : "") + " shows " + attr + ")",
        "sudo chattr -" + attr + " " + path.string()};
  }
#else
  (void)what;
  (void)path;
  (void)dir;
#endif
  return std::nullopt;
}

// Why mcpbkd could not write the store's files, when the reason is one a
// restart does not mend: {what is wrong, the fix}. Empty when each of them
// opens for writing (or does not exist yet) and the directory takes new
// files.
std::optional<std::pair<std::string, std::string>>
store_write_problem(const fs::path &store_file) {
  const fs::path dir = store_file.parent_path();
  std::vector<fs::path> files{store_file};
  for (const char *suffix : {"-wal", "-shm"}) {
    fs::path side = store_file;
    side += suffix;
    files.push_back(std::move(side));
  }
  for (const fs::path &file : files) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      ::close(fd);
      continue;
    }
    const int err = errno;
    if (err == ENOENT) {
      continue;
    }
    std::string what =
        "cannot write " + file.string() + ": " + std::strerror(err);
    if (err == EROFS) {
      return std::pair{what, "remount it read-write, or set store.dir (or "
                             "--state-dir) to a writable place"};
    }
    if (auto marked = marked_problem(what, file, false)) {
      return marked;
    }
    if (err == EACCES || err == EPERM) {
      return std::pair{what, "make it yours and writable: sudo chown " +
                                 std::to_string(::getuid()) + " " +
                                 file.string() + " && chmod 600 " +
                                 file.string()};
    }
    return std::pair{what, ""};
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int err = errno;
    const std::string what =
        "cannot create files in " + dir.string() + ": " + std::strerror(err);
    if (err == EROFS) {
      return std::pair{what, std::string("remount it read-write, or set "
                                         "store.dir (or --state-dir) to a "
                                         "writable place")};
    }
    if (auto marked = marked_problem(what, dir, true)) {
      return marked;
    }
    return std::pair{what, "sudo chown " + std::to_string(::getuid()) + " " +
                               dir.string() + " && chmod 700 " + dir.string()};
  }
  return std::nullopt;
}

} // namespace

int run_doctor(const Env &env, const PathOverrides &overrides,
               bool json_output) {
  std::vector<Check> checks;
  const Os os = current_os();

  // Config.
  Config config = default_config();
  const auto config_file = resolve_config_file(overrides, env, os);
  if (config_file) {
    auto loaded = load_config_file(*config_file);
    if (loaded) {
      config = std::move(*loaded);
      checks.push_back({"config", Check::Level::ok,
                        "using " + shorten_home(*config_file, env.home()), ""});
    } else {
      std::string message = "invalid, so mcpbkd will not start (exit 78):";
      for (const auto &p : loaded.error().problems) {
        message += "\n" + p.to_string();
      }
      checks.push_back({"config", Check::Level::problem, message,
                        "edit " + config_file->string() +
                            " and fix each field above; `mcpbkd "
                            "--check-config` confirms"});
    }
  } else {
    checks.push_back(
        {"config", Check::Level::ok,
         "no config file; using the built-in defaults "
         "(" +
             shorten_home(default_config_file(env, os), env.home()) +
             " would be read)",
         ""});
  }
  const StatePaths paths = resolve_state_paths(overrides, config, env, os);

  // A watched file that is broken now (watched_file_problem()): the daemon
  // keeps its versions, but the host cannot read it.
  const auto file_problem = [&](const std::string &path, const json &w) {
    const std::string latest = std::to_string(w.value("latest_id", 0LL));
    std::string fix = "mcpbkctl diff " + latest + " shows it";
    if (w.contains("last_good_id")) {
      const std::string good = std::to_string(w.value("last_good_id", 0LL));
      fix = "mcpbkctl diff " + good +
            " shows what changed since the last good snapshot; mcpbkctl "
            "restore " +
            good + " puts it back";
    }
    checks.push_back(
        {"files", Check::Level::warning,
         printable(shorten_home(path, env.home())) +
             (w.value("problem", std::string()) == "unparseable"
                  ? " does not parse (snapshot #" + latest + ")"
                  : " has no MCP servers (snapshot #" + latest + ")"),
         fix});
  };

  // Daemon.
  json status;
  std::string why; // what went wrong asking it
  auto connection = Connection::open(paths.socket);
  // The config moves the state directory or the socket, which a running
  // daemon applies at its next start: the one in use is at the default
  // places ("not reachable: run mcpbkd" started a second one).
  if (auto found = connection ? std::nullopt
                              : daemon_before_move(overrides, config, env)) {
    const StatePaths &before = found->paths;
    connection = std::move(found->connection);
    checks.push_back(
        {"daemon", Check::Level::warning,
         "mcpbkd (pid " + found->pid + ") runs with the state directory " +
             before.state_dir.string() + " and the socket " +
             before.socket.string() + "; the config moves them to " +
             paths.state_dir.string() + " and " + paths.socket.string() +
             ", which applies when it restarts",
         "restart it (systemctl --user restart mcpbkd); the history in " +
             before.state_dir.string() +
             " does not move with it: move its files there first, or "
             "set store.dir back"});
  }
  if (connection) {
    connection->set_timeout(std::chrono::seconds(5));
    auto reply = connection->call("status", json::object());
    if (reply && reply->value("ok", false)) {
      status = (*reply)["result"];
    } else if (!reply) {
      why = reply.error().message;
    }
  } else {
    why = connection.error().message;
  }
  if (status.is_object()) {
    const json d = status.contains("daemon") && status["daemon"].is_object()
                       ? status["daemon"]
                       : status;
    const auto watched = d.value("watched", json::array());
    checks.push_back({"daemon", Check::Level::ok,
                      "mcpbkd " + d.value("version", std::string("?")) +
                          " running (pid " + std::to_string(d.value("pid", 0)) +
                          ", up " + std::to_string(d.value("uptime_s", 0)) +
                          " s, " + counted(watched.size(), "file") +
                          " watched with " +
                          d.value("backend", std::string("?")) + ")",
                      ""});
    // The daemon's own warnings (watch limits, skipped files, the clock, a
    // notify.command that cannot start, a config that needs a restart).
    for (const auto &w : d.value("warnings", json::array())) {
      if (w.is_string()) {
        // Files whose saves nothing records are a problem, not a warning.
        const std::string text = w.get<std::string>();
        checks.push_back({"status",
                          text.find("not watched at all") != std::string::npos
                              ? Check::Level::problem
                              : Check::Level::warning,
                          text, "see README, Troubleshooting"});
      }
    }
    for (const auto &w : watched) {
      if (w.contains("problem")) {
        file_problem(w.value("path", std::string()), w);
      }
    }
  } else if (const auto holder = lock_holder(paths.lock_file);
             holder && process_stopped(std::atoi(holder->c_str()))) {
    // Starting another would exit 75: this one holds the state directory.
    checks.push_back({"daemon", Check::Level::problem,
                      "mcpbkd (pid " + *holder +
                          ") is stopped: your configs are not being "
                          "protected",
                      "kill -CONT " + *holder});
  } else if (const auto pid = connection ? std::nullopt : holder) {
    checks.push_back({"daemon", Check::Level::problem,
                      "mcpbkd (pid " + *pid + ") serves " +
                          paths.state_dir.string() +
                          " but does not answer at " + paths.socket.string() +
                          (why.empty() ? "" : " (" + why + ")"),
                      reach_hint(*pid, paths.socket)});
  } else {
    checks.push_back({"daemon", Check::Level::problem,
                      "not reachable at " + paths.socket.string() +
                          (why.empty() ? "" : " (" + why + ")") +
                          ": your configs are not being protected",
                      start_advice()});
  }

  // Service.
  if (os == Os::gnu_linux) {
    if (have_user_systemd()) {
      const auto enabled =
          first_line_of("systemctl --user is-enabled mcpbkd 2>/dev/null");
      if (enabled && *enabled == "enabled") {
        checks.push_back({"service", Check::Level::ok,
                          "systemd user service mcpbkd is enabled", ""});
      } else {
        checks.push_back({"service", Check::Level::warning,
                          "systemd user service mcpbkd is not enabled: "
                          "mcpbkd will not start at login",
                          "systemctl --user enable --now mcpbkd (or run "
                          "./scripts/install)"});
      }
    } else {
      checks.push_back({"service", Check::Level::warning,
                        "no systemd user manager here: mcpbkd will not "
                        "start at login",
                        "start `mcpbkd` from your session's startup, or "
                        "re-run ./scripts/install after a reboot"});
    }
  } else if (os == Os::macos) {
    const auto loaded = first_line_of(
        "launchctl print gui/$(id -u)/com.mcpbk.mcpbkd >/dev/null 2>&1 && "
        "echo loaded");
    checks.push_back(
        loaded ? Check{"service", Check::Level::ok,
                       "LaunchAgent com.mcpbk.mcpbkd is loaded", ""}
               : Check{"service", Check::Level::warning,
                       "LaunchAgent com.mcpbk.mcpbkd is not loaded: mcpbkd "
                       "will not start at login",
                       "run ./scripts/install"});
  }

  // Hosts.
  std::vector<std::string> present; // their files that exist
  {
    ResolveInput input;
    input.config = &config;
    input.env = env;
    input.os = os;
    input.claude_projects = claude_projects_of(env, 64u << 20);
    std::map<std::string, int> found;
    std::size_t total = 0;
    for (const auto &t : resolve_targets(input)) {
      std::error_code ec;
      if (fs::exists(t.path, ec)) {
        ++found[t.host];
        ++total;
        present.push_back(t.path.string());
      }
    }
    if (total == 0) {
      checks.push_back({"hosts", Check::Level::warning,
                        "no host config file exists yet; each is protected "
                        "as soon as it appears",
                        ""});
    } else {
      std::string list;
      for (const auto &[host, n] : found) {
        list +=
            (list.empty() ? "" : ", ") + host + " (" + std::to_string(n) + ")";
      }
      checks.push_back({"hosts", Check::Level::ok,
                        counted(total, "config file") + " found: " + list, ""});
    }
  }

  // notify.command: a program that cannot be found only shows at the first
  // risky change, in the daemon's log and status.
  if (!config.notify.command.empty()) {
    const std::string &program = config.notify.command.front();
    std::optional<fs::path> found;
    if (program.find('/') != std::string::npos) {
      if (::access(program.c_str(), X_OK) == 0) {
        found = program;
      }
    } else if (const auto path = env.get("PATH")) {
      std::string_view dirs = *path;
      while (!found) {
        const std::size_t colon = dirs.find(':');
        const fs::path dir(std::string(dirs.substr(0, colon)));
        if (!dir.empty() && ::access((dir / program).c_str(), X_OK) == 0) {
          found = dir / program;
        }
        if (colon == std::string_view::npos) {
          break;
        }
        dirs.remove_prefix(colon + 1);
      }
    }
    checks.push_back(
        found ? Check{"notify", Check::Level::ok,
                      "notify.command runs " + found->string() +
                          " on high and critical changes",
                      ""}
              : Check{"notify", Check::Level::warning,
                      "notify.command: " + program +
                          (program.find('/') != std::string::npos
                               ? " is not an executable file"
                               : " is not found in PATH"),
                      "give its full path in notify.command (the service's "
                      "PATH may differ from your shell's)"});
  }

  // Watcher backend.
  if (os == Os::gnu_linux && config.watch.backend != WatchBackend::poll) {
    std::ifstream in("/proc/sys/fs/inotify/max_user_watches");
    long watches = 0;
    if (in >> watches && watches < 8192) {
      checks.push_back(
          {"backend", Check::Level::warning,
           "fs.inotify.max_user_watches is only " + std::to_string(watches),
           "sudo sysctl fs.inotify.max_user_watches=65536 (or "
           "set watch.backend: poll)"});
    } else {
      checks.push_back(
          {"backend", Check::Level::ok,
           "inotify (max_user_watches " + std::to_string(watches) + ")", ""});
    }
  } else {
    checks.push_back({"backend", Check::Level::ok,
                      "poll (stat every " +
                          std::to_string(config.watch.poll_interval_ms) +
                          " ms)",
                      ""});
  }

  // Store.
  struct stat st {};
  if (::stat(paths.state_dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    checks.push_back({"store", Check::Level::problem,
                      "state directory " + paths.state_dir.string() +
                          " is readable by others (mode " +
                          mode_text(st.st_mode) + ")",
                      "chmod 700 " + paths.state_dir.string()});
  }
  if (::stat(paths.store_file.c_str(), &st) != 0) {
    checks.push_back({"store", Check::Level::warning,
                      "no store at " + paths.store_file.string() +
                          " yet (mcpbkd creates it when it first starts)",
                      ""});
  } else if ((st.st_mode & 077) != 0) {
    checks.push_back({"store", Check::Level::problem,
                      paths.store_file.string() +
                          " is readable by others (mode " +
                          mode_text(st.st_mode) +
                          "); it holds your configs and their secrets",
                      "chmod 600 " + paths.store_file.string()});
  } else if (const auto problem = store_write_problem(paths.store_file)) {
    // Nothing can be recorded: every save is lost until this is mended.
    checks.push_back({"store", Check::Level::problem,
                      problem->first + "; no change can be recorded",
                      problem->second});
  } else {
    auto store = Store::open(paths.store_file, config.store.compression,
                             Store::Repair::no);
    auto stats = store ? store->stats()
                       : Result<StoreStats>(tl::unexpected(store.error()));
    if (!stats) {
      checks.push_back({"store", Check::Level::problem,
                        "cannot read " + paths.store_file.string() + ": " +
                            stats.error().message,
                        "restart mcpbkd: a store that fails its integrity "
                        "check is moved aside and a new one started"});
    } else {
      // With the daemon down, its files' state from the store, as status
      // gives it offline.
      for (const auto &path :
           status.is_object() ? std::span<const std::string>() : present) {
        try {
          if (const json w = ops::watched_file_problem(*store, path);
              w.is_object()) {
            file_problem(path, w);
          }
        } catch (const ops::OpError &) {
          // The store's own check below says what is wrong with it.
        }
      }
      checks.push_back({"store", Check::Level::ok,
                        paths.store_file.string() + ": " +
                            counted(stats->snapshots, "snapshot") + " of " +
                            counted(stats->paths, "file") + ", " +
                            human_size(stats->file_bytes) +
                            " (the database; mcpbkctl verify checks every "
                            "snapshot's content)",
                        ""});
    }
  }

  bool any_problem = false;
  std::size_t problems = 0;
  std::size_t warnings = 0;
  json out = json::array();
  for (const auto &c : checks) {
    any_problem = any_problem || c.level == Check::Level::problem;
    problems += c.level == Check::Level::problem ? 1 : 0;
    warnings += c.level == Check::Level::warning ? 1 : 0;
    out.push_back({{"name", c.name},
                   {"level", to_string(c.level)},
                   {"message", c.message},
                   {"fix", c.fix}});
  }
  if (json_output) {
    std::cout << json{{"ok", !any_problem}, {"checks", out}}.dump(2) << '\n';
  } else {
    const Style style = Style::detect();
    for (const auto &c : checks) {
      const char *mark = c.level == Check::Level::ok        ? "ok  "
                         : c.level == Check::Level::warning ? "warn"
                                                            : "FAIL";
      const Colour colour = c.level == Check::Level::ok ? Colour::green
                            : c.level == Check::Level::warning
                                ? Colour::yellow
                                : Colour::bold_red;
      std::string message = c.message;
      for (std::size_t pos = 0;
           (pos = message.find('\n', pos)) != std::string::npos; pos += 15) {
        message.replace(pos, 1, "\n              ");
      }
      std::printf("%s  %-8s %s\n", style.paint(mark, colour).c_str(),
                  c.name.c_str(), message.c_str());
      if (!c.fix.empty()) {
        std::printf("              fix: %s\n", c.fix.c_str());
      }
    }
    // Warnings do not fail the check (what doctor sees may not be what
    // the service sees, such as its PATH), but they are not "all clear".
    std::string summary = problems > 0 ? counted(problems, "problem") + " found"
                                       : std::string("no problems found");
    if (warnings > 0) {
      summary += ", " + counted(warnings, "warning") + " to look at";
    }
    std::printf("doctor: %s\n", summary.c_str());
  }
  return any_problem ? 1 : 0;
}

} // namespace mcpbk::client
