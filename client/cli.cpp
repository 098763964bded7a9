#include <client/cli.hpp>

#include <client/connection.hpp>
#include <client/doctor.hpp>
#include <client/format.hpp>

#include <common/base64.hpp>
#include <common/config.hpp>
#include <common/env.hpp>
#include <common/fs.hpp>
#include <common/hosts.hpp>
#include <common/ops/ops.hpp>
#include <common/paths.hpp>
#include <common/store.hpp>
#include <common/time.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace mcpbk::client {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Unwinds to run() with an exit code; the message was already printed.
struct Exit {
  int code;
};

void print_error(const std::string &message) {
  std::cerr << "mcpbkctl: " << printable_message(message) << '\n';
}

std::string dump_pretty(const json &value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace);
}

// With --json, a failure that is not a daemon's error reply (those are
// printed as they come) is also one JSON object on standard output, so a
// script reading it always gets one.
bool g_json_errors = false;
// Set while `events --follow` streams JSON lines: its error is one line too.
bool g_json_lines = false;

void print_json_error(int code, const std::string &message) {
  if (!g_json_errors) {
    return;
  }
  const char *name = code == k_exit_usage         ? "usage"
                     : code == k_exit_unreachable ? "unreachable"
                                                  : "failed";
  const json error = {{"error", {{"code", name}, {"message", message}}}};
  std::cout << (g_json_lines
                    ? error.dump(-1, ' ', false, json::error_handler_t::replace)
                    : dump_pretty(error))
            << '\n';
}

// The exit code once standard output is flushed: output redirected to a
// full disk fails only here, and a command whose output was lost has not
// done its job.
// Set once standard output's failure was said (by output_written(), or
// where the command found it first): said once.
bool g_output_failure_said = false;

int output_written(int code) {
  errno = 0;
  std::cout.flush();
  int error = errno;
  bool failed = !std::cout;
  errno = 0;
  if (std::fflush(stdout) != 0) {
    failed = true;
    error = error != 0 ? error : errno;
  }
  failed = failed || std::ferror(stdout) != 0;
  if (!failed) {
    return code;
  }
  if (!g_output_failure_said) {
    g_output_failure_said = true;
    print_error(std::string("cannot write to standard output: ") +
                (error != 0 ? std::strerror(error) : "write error"));
  }
  return code == k_exit_ok ? k_exit_failed : code;
}

// A whole number of at least 1, else the message `refused` makes of the
// text. (CLI::PositiveNumber says "Value 0 not in range 0 to 1.797e308" and
// takes 2.5.)
CLI::Validator at_least_one(std::string (*refused)(const std::string &),
                            std::string name) {
  return CLI::Validator(
      [refused](std::string &text) -> std::string {
        long long value = 0;
        const auto [end, ec] =
            std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() ||
            value < 1) {
          return refused(text);
        }
        return {};
      },
      std::move(name));
}

// A count (--limit).
const CLI::Validator k_count = at_least_one(
    [](const std::string &text) {
      return "must be a whole number of at least 1, not " + text;
    },
    "N");

// A value that may not be empty (--path '' would filter nothing, --since ''
// mean no time).
const CLI::Validator k_not_empty(
    [](std::string &text) -> std::string {
      return text.empty() ? "must not be empty" : "";
    },
    "");

// A snapshot id, refused as a usage error (exit 2) before anything is asked
// of the daemon.
const CLI::Validator k_snapshot_id = at_least_one(
    [](const std::string &text) {
      return "not a snapshot id (a whole number of at least 1): " + text;
    },
    "");

[[noreturn]] void die(int code, const std::string &message) {
  print_error(message);
  print_json_error(code, message);
  throw Exit{code};
}

// How a command reaches the store.
enum class Reach {
  daemon,     // needs the running daemon
  offline_ok, // falls back to opening the store directly
};

// A dry run's scratch store, removed by the signals that end the client
// (a reader gone from a pipe, Ctrl-C) as at a normal exit: the paths are
// made beforehand, the handler only unlinks.
struct ScratchPaths {
  std::array<std::array<char, 4096>, 5> files{}; // the directory last
  std::size_t count = 0;
};
ScratchPaths g_scratch;

extern "C" void remove_scratch_and_die(int signal_number) {
  for (std::size_t i = 0; i < g_scratch.count; ++i) {
    if (i + 1 == g_scratch.count) {
      ::rmdir(g_scratch.files[i].data());
    } else {
      ::unlink(g_scratch.files[i].data());
    }
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void remove_scratch_on_signals(const fs::path &dir) {
  const std::array<fs::path, 5> paths = {dir / "store.db", dir / "store.db-wal",
                                         dir / "store.db-shm",
                                         dir / "store.db-journal", dir};
  for (const auto &path : paths) {
    const std::string text = path.string();
    if (text.size() >= g_scratch.files[0].size()) {
      return; // too long to keep: left to the normal exit
    }
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string text = paths[i].string();
    std::copy(text.begin(), text.end(), g_scratch.files[i].begin());
    g_scratch.files[i][text.size()] = '\0';
  }
  g_scratch.count = paths.size();
  for (const int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    ::signal(signal_number, remove_scratch_and_die);
  }
}

// Whether a command can change the store: offline, it says "using the
// store directly", not "reading".
bool changes_store(std::string_view command) {
  return command == "restore" || command == "snapshot" || command == "pin" ||
         command == "unpin" || command == "prune" || command == "import";
}

// Everything one invocation uses: resolved paths, the config, and either a
// daemon connection or an offline context.
class Runtime {
public:
  Runtime(Env env, PathOverrides overrides, bool json_output)
      : m_env(std::move(env)), m_overrides(std::move(overrides)),
        m_json(json_output), m_style(Style::detect()) {}
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;
  ~Runtime() {
    if (m_scratch) {
      m_context.reset();
      m_store.reset();
      std::error_code ec;
      fs::remove_all(*m_scratch, ec);
    }
  }

  // Loads the config the daemon would use (for the socket and store paths).
  // A config with mistakes does not stop the client: the day a restore is
  // needed is no day to be locked out by a typo in mcpbk's own file (and a
  // running daemon keeps the config it had). Each mistake is reported, and
  // the keys that were valid are used.
  void load_config() {
    // A file named on the command line (or by $MCPBK_CONFIG) is meant:
    // without it, the defaults would apply in its place (an offline prune
    // by the default retention, say), unnoticed.
    const auto named =
        m_overrides.config_file
            ? std::optional<std::string>(m_overrides.config_file->string())
            : m_env.get("MCPBK_CONFIG");
    std::error_code ec;
    if (named && !named->empty() && !fs::exists(*named, ec)) {
      die(k_exit_usage,
          (m_overrides.config_file ? "--config " : "$MCPBK_CONFIG ") + *named +
              ": no such file");
    }
    m_config_file = resolve_config_file(m_overrides, m_env, current_os());
    if (m_config_file) {
      auto loaded = load_config_file(*m_config_file);
      if (!loaded) {
        const ConfigErrors &errors = loaded.error();
        for (const auto &problem : errors.problems) {
          print_error(errors.source + ": " + problem.to_string());
        }
        print_error("going on with the default for each key above; mcpbkd "
                    "will not start or reload with this config until it is "
                    "fixed (`mcpbkd --check-config` checks it)");
        m_config = errors.applied;
        // Retention that was meant otherwise (a mistake in it, or a file
        // that did not parse at all) deletes nothing here: the defaults in
        // its place deleted most of a history the user had kept longer.
        for (const auto &problem : errors.problems) {
          if (problem.field == "(syntax)" ||
              problem.field.starts_with("retention")) {
            m_retention_unsure = true;
          }
        }
        if (m_retention_unsure) {
          m_config.retention.max_count = 0;
          m_config.retention.max_age_days = 0;
        }
      } else {
        m_config = std::move(*loaded);
      }
    } else {
      m_config = default_config();
    }
    m_paths = resolve_state_paths(m_overrides, m_config, m_env, current_os());
  }

  // What connect() does where there is no store yet.
  enum class Create {
    no,     // fails
    yes,    // makes it (import before the daemon's first start)
    scratch // uses an empty one of its own, removed at exit (a dry run)
  };

  // Connects to the daemon, or opens the store for Reach::offline_ok.
  // The config moves the state directory or the socket (store.dir,
  // ipc.socket), which a running daemon applies only when it restarts:
  // nothing answers where the config says, and status advised starting a
  // second daemon on an empty store. The daemon at the default places,
  // when one holds them, is the one in use: it is reached there, and
  // the move is said.
  bool reached_as_started(std::string_view command) {
    auto found = daemon_before_move(m_overrides, m_config, m_env);
    if (!found) {
      return false;
    }
    const StatePaths &before = found->paths;
    print_error("mcpbkd (pid " + found->pid +
                ") runs with the state directory " + before.state_dir.string() +
                " and the socket " + before.socket.string() +
                "; the config moves them to " + m_paths.state_dir.string() +
                " and " + m_paths.socket.string() +
                ", which applies when it restarts (systemctl --user restart "
                "mcpbkd); `" +
                std::string(command) + "` uses the daemon running now");
    m_paths = before;
    m_connection.emplace(std::move(found->connection));
    return true;
  }

  void connect(Reach reach, std::string_view command,
               Create create = Create::no) {
    m_command = command;
    auto connection = Connection::open(m_paths.socket);
    const std::string where = m_paths.socket.string();
    if (connection) {
      m_connection.emplace(std::move(*connection));
      if (const auto other = daemons_other_state_dir()) {
        // --state-dir (or $MCPBK_STATE_DIR) names another store than the
        // daemon here serves: what was asked of is that store.
        m_connection.reset();
        const std::string said = "the daemon at " + where + " serves " +
                                 *other +
                                 ", not the state directory asked "
                                 "for, " +
                                 m_paths.state_dir.string();
        if (const auto pid = lock_holder(m_paths.lock_file)) {
          die(k_exit_unreachable,
              said + "; mcpbkd (pid " + *pid +
                  ") serves that one: reach it with its --socket");
        }
        if (reach == Reach::daemon) {
          die(k_exit_unreachable,
              said + "; `" + std::string(command) +
                  "` needs the daemon of that directory (give its --socket)");
        }
        print_error(said + ": " +
                    (changes_store(command) ? "using" : "reading") +
                    " that directory's store directly");
        open_store_directly();
      }
      return;
    }
    if (reached_as_started(command)) {
      return;
    }
    m_elsewhere = lock_holder(m_paths.lock_file);
    if (m_elsewhere) {
      // A daemon serves this state directory but listens elsewhere (its
      // XDG_RUNTIME_DIR is not this shell's: sudo, cron, ssh without a
      // login session), or is stopped with its queue of connections full:
      // it is not down. The store is read (or written) beside it, as with
      // any client that works on it directly.
      m_elsewhere_stopped = process_stopped(std::atoi(m_elsewhere->c_str()));
      const std::string said =
          m_elsewhere_stopped
              ? stopped_daemon_message(*m_elsewhere)
              : "mcpbkd (pid " + *m_elsewhere + ") serves " +
                    m_paths.state_dir.string() + " but does not answer at " +
                    where + " (" + connection.error().message + "); " +
                    reach_hint(*m_elsewhere, m_paths.socket);
      if (reach == Reach::daemon) {
        die(k_exit_unreachable,
            said + "; `" + std::string(command) + "` needs it");
      }
      print_error(said + "; " + (changes_store(command) ? "using" : "reading") +
                  " the store directly");
      open_store_directly();
      return;
    }
    if (reach == Reach::daemon) {
      print_error("cannot reach the daemon at " + where + " (" +
                  connection.error().message + "); `" + std::string(command) +
                  "` needs it");
      std::cerr << "mcpbkctl: start it with `systemctl --user start mcpbkd`, "
                   "or run `mcpbkd`\n";
      print_json_error(k_exit_unreachable,
                       "cannot reach the daemon at " + where + " (" +
                           connection.error().message + ")");
      throw Exit{k_exit_unreachable};
    }
    if (create == Create::scratch && !fs::exists(m_paths.store_file)) {
      // Nothing is made where the store will be: the dry run reads the
      // bundle against an empty store of its own.
      std::string dir_template =
          (fs::temp_directory_path() / "mcpbkctl-dry-run-XXXXXX").string();
      if (::mkdtemp(dir_template.data()) == nullptr) {
        die(k_exit_failed, "cannot make a temporary directory: " +
                               std::string(std::strerror(errno)));
      }
      m_scratch = dir_template;
      remove_scratch_on_signals(*m_scratch);
      print_error("daemon not reachable at " + where + " and no store yet at " +
                  m_paths.store_file.string() +
                  "; the dry run compares the bundle with an empty store");
      m_paths.store_file = *m_scratch / "store.db";
      open_store_directly(true);
      return;
    }
    if (create != Create::no && !fs::exists(m_paths.store_file)) {
      std::error_code ec;
      const bool had_dir = fs::exists(m_paths.state_dir, ec);
      if (auto dir = ensure_private_dir(m_paths.state_dir); !dir) {
        die(k_exit_failed, dir.error().message);
      }
      print_error("daemon not reachable at " + where + "; creating the store " +
                  m_paths.store_file.string());
      open_store_directly(true);
      m_made = had_dir ? Made::store : Made::store_and_dir;
      return;
    }
    if (!fs::exists(m_paths.store_file)) {
      die(k_exit_unreachable, "daemon not reachable at " + where +
                                  " and no store at " +
                                  m_paths.store_file.string() +
                                  "; start it with `systemctl --user start "
                                  "mcpbkd`, or run `mcpbkd`");
    }
    print_error("daemon not reachable at " + where + "; " +
                (changes_store(command) ? "using" : "reading") +
                " the store directly");
    open_store_directly();
  }

  // With --state-dir given: the state directory the connected daemon
  // serves, when it is another one.
  // With --config given, a daemon using another config file is said too:
  // its own settings (retention for prune, ...) apply to what it does.
  std::optional<std::string> daemons_other_state_dir() {
    const bool state_asked =
        m_overrides.state_dir || m_env.get("MCPBK_STATE_DIR").has_value();
    // --config, or $MCPBK_CONFIG (which said nothing).
    const std::optional<std::string> env_config = m_env.get("MCPBK_CONFIG");
    const std::optional<fs::path> asked_config =
        m_overrides.config_file ? m_overrides.config_file
        : env_config ? std::optional<fs::path>(expand_home(*env_config, m_env))
                     : std::nullopt;
    if ((!state_asked && !asked_config) || !m_connection) {
      return std::nullopt;
    }
    auto reply = m_connection->call("status", json::object());
    if (!reply || !reply->value("ok", false)) {
      return std::nullopt;
    }
    const json status = reply->value("result", json::object());
    const std::string config = status.value("config_file", std::string());
    std::error_code ec_config;
    if (asked_config && !state_asked && !config.empty() &&
        fs::weakly_canonical(config, ec_config) !=
            fs::weakly_canonical(*asked_config, ec_config)) {
      print_error("note: the daemon at " + m_paths.socket.string() +
                  " uses its own config, " + config + ", not " +
                  (m_overrides.config_file ? "--config " : "$MCPBK_CONFIG ") +
                  asked_config->string() +
                  ": its settings apply to what it does");
    }
    if (!state_asked) {
      return std::nullopt;
    }
    const std::string served = status.value("state_dir", std::string());
    std::error_code ec_served;
    std::error_code ec_asked;
    if (served.empty() ||
        fs::weakly_canonical(served, ec_served) ==
            fs::weakly_canonical(m_paths.state_dir, ec_asked)) {
      return std::nullopt;
    }
    return served;
  }

  // The store a running daemon serves, which may not be the one the config
  // names (mcpbkd --state-dir, or a store.dir change waiting for a
  // restart): asked of the daemon when it answers. A --state-dir given
  // to mcpbkctl names the store itself.
  void follow_the_daemons_store() {
    if (m_overrides.state_dir) {
      return;
    }
    auto connection = Connection::open(m_paths.socket);
    if (!connection) {
      return;
    }
    auto reply = connection->call("status", json::object());
    if (!reply || !reply->value("ok", false)) {
      return;
    }
    const json result = reply->value("result", json::object());
    const std::string path =
        result.value("store", json::object()).value("path", std::string());
    if (!path.empty()) {
      m_paths.store_file = path;
    }
  }

  // Opens the store in this process (no daemon needed), as the daemon's
  // handlers would see it; `create` makes a new one where there is none.
  void open_store_directly(bool create = false) {
    if (!create && !fs::exists(m_paths.store_file)) {
      die(k_exit_failed,
          "no store at " + m_paths.store_file.string() +
              " (has mcpbkd ever run with this state directory?)");
    }
    auto store = Store::open(m_paths.store_file, m_config.store.compression,
                             Store::Repair::no);
    if (!store && !create && ::access(m_paths.state_dir.c_str(), W_OK) != 0 &&
        errno == EROFS) {
      // A disk remounted read-only: the day its configs are most needed.
      // Read as it is, without the locks and the log SQLite would write.
      if (changes_store(m_command)) {
        die(k_exit_failed,
            "the store " + m_paths.store_file.string() +
                " is on a read-only file system, so `" + m_command +
                "` cannot record anything; `mcpbkctl cat ID > FILE` "
                "writes a snapshot's bytes where you choose");
      }
      if (auto frozen = Store::open_frozen(m_paths.store_file,
                                           m_config.store.compression)) {
        std::error_code ec;
        const bool log =
            fs::file_size(m_paths.store_file.string() + "-wal", ec) > 0 && !ec;
        print_error(
            "the store is on a read-only file system: it is read as it is, "
            "and nothing can be recorded" +
            std::string(log ? " (what mcpbkd wrote after its last checkpoint "
                              "is in store.db-wal, which is not read)"
                            : ""));
        store = std::move(frozen);
      }
    }
    if (!store) {
      die(k_exit_failed, "cannot open the store " +
                             m_paths.store_file.string() + ": " +
                             store.error().message);
    }
    m_store.emplace(std::move(*store));
    m_context = std::make_unique<ops::Context>(ops::Context{
        *m_store, m_config, m_env, current_os(), nullptr, {}, {}, {}});
    if (::isatty(STDERR_FILENO) != 0 && !m_json) {
      m_context->progress = [](std::uint64_t done, std::uint64_t total) {
        if (done == total || done % 100 == 0) {
          std::fprintf(
              stderr, "\r%llu/%llu snapshots (%llu%%)%s",
              static_cast<unsigned long long>(done),
              static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(total ? done * 100 / total : 100),
              done == total ? "\n" : "");
        }
      };
    }
  }

  // Undoes a store this run made (Create::yes) when what it was made for
  // failed: an import of a file that is not a bundle leaves no empty store
  // (nor the state directory it made for it).
  void remove_store_made() {
    if (m_made == Made::nothing) {
      return;
    }
    m_context.reset();
    m_store.reset();
    std::error_code ec;
    for (const char *suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(m_paths.store_file.string() + suffix, ec);
    }
    if (m_made == Made::store_and_dir) {
      fs::remove(m_paths.state_dir, ec); // only when empty
    }
    m_made = Made::nothing;
  }

  bool offline() const { return m_context != nullptr; }
  // The config's retention has mistakes: what it would delete is unknown.
  bool retention_unsure() const { return m_retention_unsure; }
  // Offline with a daemon holding the state directory: its pid.
  const std::optional<std::string> &daemon_elsewhere() const {
    return m_elsewhere;
  }
  bool daemon_elsewhere_stopped() const { return m_elsewhere_stopped; }
  const fs::path &socket_path() const { return m_paths.socket; }
  Connection &connection() { return *m_connection; }

  // Sends a request and returns its reply, whatever it says.
  json call_raw(const std::string &op, const json &args) {
    if (m_context) {
      return ops::dispatch(*m_context, {{"v", ops::k_protocol_version},
                                        {"id", 1},
                                        {"op", op},
                                        {"args", args}});
    }
    auto reply = m_connection->call(op, args);
    if (!reply) {
      die(k_exit_unreachable, reply.error().message);
    }
    return std::move(*reply);
  }

  // Sends a request and returns its result. An error reply is printed
  // (with its field details, and as JSON with --json) and exits 1.
  // `shown`: a warning already printed (a restore's, by its preview),
  // not printed again.
  json call(const std::string &op, const json &args,
            const std::string &shown = std::string()) {
    return result_of(call_raw(op, args), shown);
  }

  // call()'s handling of a reply call_raw() gave.
  json result_of(json reply, const std::string &shown = std::string()) {
    if (!reply.value("ok", false)) {
      fail_with(reply);
    }
    if (const auto w = reply.find("warning");
        w != reply.end() && w->is_string() &&
        (shown.empty() || w->get_ref<const std::string &>() != shown)) {
      print_error("warning: " + w->get<std::string>());
    }
    // Moved, not copied: a list of 100 000 snapshots is 100 000 objects.
    const auto result = reply.find("result");
    return result != reply.end() ? std::move(*result) : json::object();
  }

  [[noreturn]] void fail_with(const json &reply) {
    const json error = reply.value("error", json::object());
    if (m_json) {
      std::cout << dump_pretty({{"error", error}}) << '\n';
    }
    const std::string message =
        error.value("message", std::string("request failed"));
    print_error(message + " [" + error.value("code", std::string("internal")) +
                "]");
    if (const auto details = error.find("details");
        details != error.end() && details->is_array()) {
      for (const auto &d : *details) {
        const std::string field = d.value("field", std::string());
        const std::string text = d.value("message", std::string());
        // The message often is the one detail already ("no snapshot with
        // id 999"): said once.
        if (message.find(text) == std::string::npos) {
          std::cerr << "  " << printable(field) << ": "
                    << printable_message(text) << '\n';
        }
      }
    }
    throw Exit{k_exit_failed};
  }

  // Prints a result as the one JSON object of --json.
  void print_json(const json &result) const {
    std::cout << dump_pretty(result) << '\n';
  }

  // A path from the command line: "~" expanded, made absolute against the
  // working directory.
  std::string client_path(const std::string &text) const {
    fs::path path = expand_home(text, m_env);
    if (!path.is_absolute()) {
      path = fs::absolute(path);
    }
    return path.lexically_normal().string();
  }

  std::string shorten(const std::string &path) const {
    return shorten_home(path, m_env.home());
  }

  // Text naming paths (a summary, an event's message), with them from ~.
  std::string shorten_in(std::string_view text) const {
    return shorten_home_in(text, m_env.home());
  }

  bool json_output() const { return m_json; }
  const Style &style() const { return m_style; }
  const Env &env() const { return m_env; }

private:
  Env m_env;
  PathOverrides m_overrides;
  bool m_json = false;
  Style m_style;
  Config m_config;
  std::optional<fs::path> m_config_file;
  StatePaths m_paths;
  std::optional<Connection> m_connection;
  std::optional<Store> m_store;
  std::unique_ptr<ops::Context> m_context;
  std::optional<fs::path> m_scratch; // Create::scratch's directory
  std::string m_command;             // the one connect() was called for
  enum class Made { nothing, store, store_and_dir } m_made = Made::nothing;
  bool m_retention_unsure = false;        // see load_config()
  std::optional<std::string> m_elsewhere; // see daemon_elsewhere()
  bool m_elsewhere_stopped = false;       // and it is stopped
};

Micros micros_of(const json &object, const char *key) {
  return object.value(key, static_cast<Micros>(0));
}

std::string summary_with_note(const json &snapshot) {
  std::string text = snapshot.value("summary", std::string());
  if (const auto note = snapshot.find("note");
      note != snapshot.end() && note->is_string()) {
    text += " \"" + note->get<std::string>() + "\"";
  }
  if (snapshot.value("pinned", false)) {
    text += " [pinned]";
  }
  return text;
}

std::string snapshot_table(Runtime &rt, const json &snapshots) {
  Table table(
      {"ID", "WHEN", "HOST", "PATH", "SIZE", "TRIGGER", "RISK", "SUMMARY"});
  const Micros now = now_micros();
  for (const auto &s : snapshots) {
    const std::string risk = s.value("risk", std::string());
    table.add({{std::to_string(s.value("id", 0LL))},
               {local_with_age(micros_of(s, "taken_at_us"), now)},
               {s.value("host", std::string())},
               {rt.shorten(s.value("path", std::string()))},
               {human_size(s.value("size", 0ULL))},
               {s.value("trigger", std::string())},
               {risk, risk_colour(risk)},
               {rt.shorten_in(summary_with_note(s))}});
  }
  return table.render(rt.style());
}

Colour severity_colour(std::string_view severity) {
  if (severity == "critical") {
    return Colour::bold_red;
  }
  if (severity == "error") {
    return Colour::red;
  }
  if (severity == "warning") {
    return Colour::yellow;
  }
  return Colour::none;
}

// Prints the MCP part of a diff, then the unified diff, coloured on a tty.
void print_diff(Runtime &rt, const json &result) {
  const Style &style = rt.style();
  std::cout << style.paint("MCP: ", Colour::bold)
            << printable(rt.shorten_in(result.value("summary", std::string())))
            << '\n';
  for (const auto &change : result.value("servers", json::array())) {
    const std::string kind = change.value("kind", std::string());
    const std::string name =
        printable(rt.shorten_in(change.value("name", std::string())));
    if (kind == "added") {
      std::cout << style.paint("  + " + name, Colour::green) << " (added)\n";
    } else if (kind == "removed") {
      std::cout << style.paint("  - " + name, Colour::red) << " (removed)\n";
    } else {
      std::string fields;
      for (const auto &f : change.value("fields", json::array())) {
        fields += fields.empty() ? "" : ", ";
        fields += f.get<std::string>();
      }
      std::cout << style.paint("  ~ " + name, Colour::yellow) << " (changed"
                << (fields.empty() ? "" : ": " + fields) << ")\n";
    }
  }
  const std::string unified = result.value("unified", std::string());
  if (unified.empty()) {
    // A diff says `identical`, a restore's preview `changed`. Masked texts
    // are equal where only secret values differ (in more than their last
    // four characters).
    const bool identical =
        result.value("identical", !result.value("changed", true));
    std::cout << (identical ? "(no differences)\n"
                            : "(only secret values differ: --show-secrets "
                              "shows them)\n");
    return;
  }
  std::cout << '\n';
  if (result.value("unified_whole", false)) {
    // The daemon's diff ran out of its budget (DiffBudget).
    std::cout << "(too different to compare line by line: every line from "
                 "the first difference to the last is shown removed, then "
                 "added)\n";
  }
  std::size_t start = 0;
  while (start < unified.size()) {
    std::size_t end = unified.find('\n', start);
    if (end == std::string::npos) {
      end = unified.size();
    }
    const std::string line = unified.substr(start, end - start);
    Colour colour = Colour::none;
    if (line.rfind("+++", 0) == 0 || line.rfind("---", 0) == 0) {
      colour = Colour::bold;
    } else if (line.rfind("@@", 0) == 0) {
      colour = Colour::cyan;
    } else if (!line.empty() && line[0] == '+') {
      colour = Colour::green;
    } else if (!line.empty() && line[0] == '-') {
      colour = Colour::red;
    }
    std::cout << style.paint(printable_line(line), colour) << '\n';
    start = end + 1;
  }
}

void print_event_line(Runtime &rt, const json &event) {
  const std::string severity = event.value("severity", std::string());
  std::cout << format_local(micros_of(event, "at_us")) << "  "
            << rt.style().paint(severity, severity_colour(severity)) << "  "
            << event.value("kind", std::string()) << "  "
            << rt.shorten(event.value("path", std::string())) << ": "
            << one_line(rt.shorten_in(event.value("message", std::string())))
            << '\n';
}

void print_snapshot_line(Runtime &rt, const json &s) {
  const std::string risk = s.value("risk", std::string());
  std::cout << format_local(micros_of(s, "taken_at_us")) << "  snapshot #"
            << s.value("id", 0LL) << "  " << s.value("host", std::string())
            << "  " << rt.shorten(s.value("path", std::string())) << "  "
            << s.value("trigger", std::string()) << "  "
            << rt.style().paint(risk, risk_colour(risk)) << "  "
            << rt.shorten_in(summary_with_note(s)) << '\n';
}

std::string uptime_text(std::int64_t seconds) {
  const std::int64_t days = seconds / 86400;
  const std::int64_t hours = seconds % 86400 / 3600;
  const std::int64_t minutes = seconds % 3600 / 60;
  if (days > 0) {
    return std::to_string(days) + "d " + std::to_string(hours) + "h";
  }
  if (hours > 0) {
    return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  }
  if (minutes > 0) {
    return std::to_string(minutes) + "m " + std::to_string(seconds % 60) + "s";
  }
  return std::to_string(seconds) + "s";
}

// ---- commands ------------------------------------------------------------

int cmd_status(Runtime &rt) {
  // With the daemon down, what the store and the config say, and exit 3.
  rt.connect(Reach::offline_ok, "status");
  const int code = rt.offline() ? k_exit_unreachable : k_exit_ok;
  const json r = rt.call("status", json::object());
  if (rt.json_output()) {
    rt.print_json(r);
    return code;
  }
  const Style &style = rt.style();
  if (rt.offline() && rt.daemon_elsewhere_stopped()) {
    std::cout << style.paint("mcpbkd (pid " + *rt.daemon_elsewhere() +
                                 ") is stopped",
                             Colour::red)
              << ": nothing is being protected until `kill -CONT "
              << *rt.daemon_elsewhere() << "`\n";
  } else if (rt.offline() && rt.daemon_elsewhere()) {
    std::cout << style.paint("mcpbkd (pid " + *rt.daemon_elsewhere() +
                                 ") runs but does not answer here",
                             Colour::red)
              << ": " << reach_hint(*rt.daemon_elsewhere(), rt.socket_path())
              << '\n';
  } else if (rt.offline()) {
    std::cout << style.paint("mcpbkd is not running", Colour::red)
              << ": nothing is being protected\n";
  } else {
    std::cout << style.paint("mcpbkd " + r.value("version", std::string("?")),
                             Colour::bold);
  }
  if (r.contains("pid") && !r["pid"].is_null()) {
    std::cout << "  pid " << r["pid"].dump();
  }
  if (r.contains("uptime_s") && r["uptime_s"].is_number_integer()) {
    std::cout << "  up " << uptime_text(r["uptime_s"].get<std::int64_t>());
  }
  if (r.contains("instance_id") && r["instance_id"].is_string()) {
    std::cout << "  instance " << r["instance_id"].get<std::string>();
  }
  if (!rt.offline()) {
    std::cout << '\n';
  }
  if (r.contains("backend") && r["backend"].is_string()) {
    std::cout << "watch backend: " << r["backend"].get<std::string>() << '\n';
  }
  // Long requests being answered beside the daemon's loop (a verify of a
  // large store, a diff of two very different files).
  if (const json reading = r.value("reading", json::array());
      reading.is_array() && !reading.empty()) {
    std::cout << "in progress:";
    const char *separator = " ";
    for (const auto &running : reading) {
      char seconds[32];
      std::snprintf(seconds, sizeof(seconds), "%.1f",
                    running.value("seconds", 0.0));
      std::cout << separator << printable(running.value("op", std::string()))
                << " for " << seconds << " s";
      separator = ", ";
    }
    if (const auto waiting = r.value("reading_waiting", 0ULL); waiting > 0) {
      std::cout << " (" << waiting << " more waiting)";
    }
    std::cout << '\n';
  }
  const json store = r.value("store", json::object());
  std::cout << "store: " << rt.shorten(store.value("path", std::string()))
            << ", " << human_size(store.value("bytes", 0ULL)) << ", "
            << counted(store.value("snapshots", 0ULL), "snapshot") << " of "
            << counted(store.value("paths", 0ULL), "file") << ", "
            << counted(store.value("blobs", 0ULL), "blob") << ", "
            << counted(store.value("events", 0ULL), "event") << '\n';
  const json watched = r.value("watched", json::array());
  std::size_t absent = 0;
  std::vector<std::string> problems;
  Table table({"HOST", "PATH", "STATE"});
  std::size_t deleted = 0;
  for (const auto &w : watched) {
    const bool exists = w.value("exists", false);
    if (!exists && w.value("deleted", false)) {
      // Gone, with a history: what a restore would put back.
      ++deleted;
      std::string state = "deleted";
      if (w.contains("last_good_id")) {
        const std::string good = std::to_string(w.value("last_good_id", 0LL));
        state += "; mcpbkctl restore " + good +
                 " puts back its last good "
                 "snapshot (" +
                 counted(w.value("last_good_servers", 0ULL), "server") + ")";
      } else {
        state += " (newest snapshot #" +
                 std::to_string(w.value("latest_id", 0LL)) + ")";
      }
      table.add({{w.value("host", std::string())},
                 {rt.shorten(w.value("path", std::string()))},
                 {state, Colour::yellow}});
      continue;
    }
    if (!exists) {
      // Files of hosts that are not installed: only counted.
      ++absent;
      continue;
    }
    std::string state = w.value("state", std::string());
    if (state.empty()) {
      state = exists ? "exists" : "missing";
    }
    Colour colour = exists ? Colour::none : Colour::dim;
    const std::string shown = rt.shorten(w.value("path", std::string()));
    if (const std::string problem = w.value("problem", std::string());
        !problem.empty()) {
      const std::string latest =
          "#" + std::to_string(w.value("latest_id", 0LL));
      state += problem == "unparseable" ? ", does not parse (" + latest + ")"
                                        : ", no MCP servers (" + latest + ")";
      colour = Colour::red;
      std::string line = printable(shown) + ": its newest snapshot " + latest +
                         (problem == "unparseable" ? " does not parse"
                                                   : " has no MCP servers");
      if (w.contains("last_good_id")) {
        const std::string good = std::to_string(w.value("last_good_id", 0LL));
        line += "; the last good one is #" + good + " (" +
                counted(w.value("last_good_servers", 0ULL), "server") +
                "): mcpbkctl diff " + good + " shows what changed since, " +
                "mcpbkctl restore " + good + " puts it back";
      } else {
        line += ", and no snapshot before it had MCP servers";
      }
      problems.push_back(std::move(line));
    }
    table.add({{w.value("host", std::string())}, {shown}, {state, colour}});
  }
  std::cout << "watched files: " << watched.size() - absent - deleted
            << " present, ";
  if (deleted > 0) {
    std::cout << deleted << " deleted, ";
  }
  std::cout << absent << " not present yet (--json lists them)\n";
  if (!table.empty()) {
    std::cout << table.render(style);
  }
  for (const auto &problem : problems) {
    std::cout << style.paint("problem: ", Colour::red) << problem << '\n';
  }
  const json warnings = r.value("warnings", json::array());
  for (const auto &w : warnings) {
    std::cout << style.paint("warning: ", Colour::yellow)
              << (w.is_string() ? w.get<std::string>() : w.dump()) << '\n';
  }
  return code;
}

int cmd_hosts(Runtime &rt) {
  rt.connect(Reach::offline_ok, "hosts");
  const json r = rt.call("hosts", json::object());
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  const Style &style = rt.style();
  for (const auto &h : r.value("hosts", json::array())) {
    const bool enabled = h.value("enabled", true);
    std::cout << style.paint(h.value("name", std::string()), Colour::bold)
              << " (" << h.value("display_name", std::string()) << ")"
              << (enabled ? "" : "  disabled") << "  trigger "
              << h.value("trigger", std::string()) << '\n';
    const json files = h.value("files", json::array());
    if (files.empty()) {
      std::cout << style.paint("  no files on this system", Colour::dim)
                << '\n';
      continue;
    }
    Table table({"  PATH", "EXISTS", "WATCHED", "SNAPSHOTS"});
    for (const auto &f : files) {
      const bool exists = f.value("exists", false);
      table.add({{"  " + rt.shorten(f.value("path", std::string())) +
                  (f.value("symlink", false) ? " (symlink)" : "")},
                 {exists ? "yes" : "no", exists ? Colour::none : Colour::dim},
                 {f.value("rescan_only", false) ? "rescan only"
                  : f.value("watched", false)   ? "yes"
                                                : "no"},
                 {std::to_string(f.value("snapshots", 0ULL))}});
    }
    std::cout << table.render(style);
  }
  return k_exit_ok;
}

struct ListOptions {
  std::string host;
  std::string path;
  std::string since;
  std::string newer_than;
  std::int64_t limit = 0;
};

// A --host value must name a host of the catalog: a typo is a usage error.
void check_host_name(const std::string &host) {
  if (host.empty() || find_host(host) != nullptr) {
    return;
  }
  std::string names;
  for (const auto &def : host_catalog()) {
    names += (names.empty() ? "" : ", ") + std::string(def.name);
  }
  die(k_exit_usage,
      "--host: unknown host \"" + host + "\" (known: " + names + ")");
}

// The snapshot filter arguments shared by list and export.
json filter_args(Runtime &rt, const std::string &host, const std::string &path,
                 const std::string &since, const std::string &newer_than) {
  json args = json::object();
  check_host_name(host);
  if (!host.empty()) {
    args["host"] = host;
  }
  if (!path.empty()) {
    args["path"] = rt.client_path(path);
  }
  if (!since.empty()) {
    const auto t = parse_iso8601(since);
    if (!t) {
      die(k_exit_usage, "--since: not an ISO 8601 time: " + since);
    }
    args["since"] = *t;
  }
  if (!newer_than.empty()) {
    const auto d = parse_duration(newer_than);
    if (!d) {
      die(k_exit_usage,
          "--newer-than: not a duration (30m, 2h, 7d): " + newer_than);
    }
    args["since"] = now_micros() - *d;
  }
  return args;
}

int cmd_list(Runtime &rt, const ListOptions &o) {
  json args = filter_args(rt, o.host, o.path, o.since, o.newer_than);
  if (o.limit > 0) {
    args["limit"] = o.limit;
  }
  rt.connect(Reach::offline_ok, "list");
  const json r = rt.call("list", args);
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  static const json k_none = json::array();
  const auto found = r.find("snapshots");
  const json &snapshots =
      found != r.end() && found->is_array() ? *found : k_none;
  if (snapshots.empty()) {
    std::cout << "no snapshots";
    if (args.contains("path")) {
      // A relative --path is the current directory's: say which file it
      // named, and where the watched ones are listed.
      std::cout << " of "
                << printable(rt.shorten(args["path"].get<std::string>()))
                << " (`mcpbkctl hosts` lists the files watched)";
    }
    std::cout << (args.contains("host") || args.contains("since")
                      ? " matching the filters given\n"
                      : "\n");
    return k_exit_ok;
  }
  std::cout << snapshot_table(rt, snapshots);
  return k_exit_ok;
}

int cmd_show(Runtime &rt, std::int64_t id, bool show_secrets) {
  rt.connect(Reach::offline_ok, "show");
  json args = {{"id", id}};
  if (show_secrets) {
    args["show_secrets"] = true;
  }
  const json r = rt.call("show", args);
  if (rt.json_output()) {
    rt.print_json(r);
    return r.contains("content_error") ? k_exit_failed : k_exit_ok;
  }
  const Style &style = rt.style();
  const json s = r.value("snapshot", json::object());
  const std::string risk = s.value("risk", std::string());
  const auto row = [&](const std::string &key, const std::string &value) {
    std::cout << style.paint(key, Colour::bold)
              << std::string(10 - std::min<std::size_t>(key.size(), 9), ' ')
              << value << '\n';
  };
  row("snapshot", "#" + std::to_string(s.value("id", 0LL)));
  row("host", s.value("host", std::string()));
  row("path", printable(rt.shorten(s.value("path", std::string()))));
  row("taken", local_with_age(micros_of(s, "taken_at_us"), now_micros()) +
                   "  " + s.value("taken_at", std::string()));
  row("size", human_size(s.value("size", 0ULL)) + "  mode " +
                  mode_text(s.value("mode", 0U)) + "  " +
                  r.value("format", std::string()));
  row("sha256", s.value("sha256", std::string()));
  row("trigger", s.value("trigger", std::string()));
  row("risk", style.paint(risk, risk_colour(risk)));
  row("summary", printable(rt.shorten_in(s.value("summary", std::string()))));
  if (s.contains("note") && s["note"].is_string()) {
    row("note", printable(s["note"].get<std::string>()));
  }
  row("pinned", s.value("pinned", false) ? "yes" : "no");
  if (s.value("redacted", false)) {
    row("redacted",
        style.paint("yes: its secret values are placeholders", Colour::yellow));
  }
  if (r.contains("parse_error")) {
    row("parse", style.paint("unparseable: " +
                                 printable(r["parse_error"].get<std::string>()),
                             Colour::red));
  }
  if (r.contains("content_error")) {
    row("content",
        style.paint("unreadable: " +
                        printable(r.value("content_error", std::string())),
                    Colour::red));
    std::string names;
    for (const auto &name : s.value("servers", json::array())) {
      names += (names.empty() ? "" : ", ") + name.get<std::string>();
    }
    row("servers",
        names.empty() ? "none recorded" : printable(rt.shorten_in(names)));
    print_error("the content of snapshot #" + std::to_string(id) +
                " cannot be read; mcpbkctl verify checks the store");
    return k_exit_failed;
  }
  const json servers = r.value("servers", json::object());
  std::cout << style.paint("servers", Colour::bold) << "   " << servers.size()
            << '\n';
  for (const auto &[name, entry] : servers.items()) {
    // A project's server is NAME@/its/dir: the directory from ~.
    std::cout << "  "
              << style.paint(printable(rt.shorten_in(name)), Colour::cyan)
              << ": ";
    std::string text = dump_pretty(entry);
    std::string indented;
    for (const char c : text) {
      indented += c;
      if (c == '\n') {
        indented += "  ";
      }
    }
    std::cout << indented << '\n';
  }
  return k_exit_ok;
}

int cmd_cat(Runtime &rt, std::int64_t id) {
  rt.connect(Reach::offline_ok, "cat");
  const json r = rt.call("content", {{"id", id}});
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  auto bytes = base64_decode(r.value("content_base64", std::string()));
  if (!bytes) {
    die(k_exit_failed, "the reply's content is not valid base64");
  }
  if (std::fwrite(bytes->data(), 1, bytes->size(), stdout) != bytes->size() ||
      std::fflush(stdout) != 0) {
    // `mcpbkctl cat 42 > copy.json` on a full disk must not look done.
    g_output_failure_said = true;
    die(k_exit_failed,
        std::string("cannot write the snapshot's bytes to standard output: ") +
            std::strerror(errno));
  }
  return k_exit_ok;
}

int cmd_diff(Runtime &rt, std::int64_t id, std::int64_t id2,
             bool show_secrets) {
  rt.connect(Reach::offline_ok, "diff");
  json args = {{"id", id}};
  if (id2 > 0) {
    args["id2"] = id2;
  }
  if (show_secrets) {
    args["show_secrets"] = true;
  }
  const json r = rt.call("diff", args);
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  print_diff(rt, r);
  return k_exit_ok;
}

struct RestoreOptions {
  std::int64_t id = 0;
  std::string to;
  bool dry_run = false;
  bool only_mcp = false;
  bool yes = false;
  bool last_good = false;
  std::string host;
  std::string path;
  bool show_secrets = false;
};

// The line for a restore (or its preview) whose file already holds what it
// would write.
std::string nothing_to_restore(Runtime &rt, const json &reply, bool only_mcp) {
  const json from = reply.value("restored_from", json::object());
  return "nothing to restore: " +
         rt.shorten(reply.value("restored_to", std::string())) +
         " already holds the " + (only_mcp ? "MCP servers" : "content") +
         " of snapshot #" + std::to_string(from.value("id", 0LL));
}

int cmd_restore(Runtime &rt, const RestoreOptions &o) {
  json args = json::object();
  if (o.last_good) {
    if (o.id > 0) {
      die(k_exit_usage, "restore: give an ID or --last-good, not both");
    }
    if (o.host.empty() && o.path.empty()) {
      die(k_exit_usage, "restore --last-good needs --host H or --path P");
    }
    args["last_good"] = true;
    check_host_name(o.host);
    if (!o.host.empty()) {
      args["host"] = o.host;
    }
    if (!o.path.empty()) {
      args["path"] = rt.client_path(o.path);
    }
  } else {
    if (o.id <= 0) {
      die(k_exit_usage, "restore: give a snapshot ID (or --last-good)");
    }
    if (!o.host.empty() || !o.path.empty()) {
      die(k_exit_usage, "restore: --host and --path go with --last-good");
    }
    args["id"] = o.id;
  }
  if (!o.to.empty()) {
    args["to"] = rt.client_path(o.to);
  }
  if (o.only_mcp) {
    args["only_mcp"] = true;
  }
  if (o.show_secrets) {
    args["show_secrets"] = true;
  }
  rt.connect(Reach::offline_ok, "restore");

  // Without --yes a restore always asks, at a terminal or not: the answer
  // may come from a pipe, and none (a script's empty stdin) cancels.
  const bool ask = !o.dry_run && !o.yes;
  std::string shown_warning; // the preview's, printed before the question
  if (o.dry_run || ask) {
    json preview_args = args;
    preview_args["dry_run"] = true;
    if (rt.json_output() && !o.dry_run) {
      // Only the header goes to stderr before the question.
      preview_args["diff"] = false;
    }
    const json preview = rt.call("restore", preview_args);
    if (o.dry_run) {
      if (rt.json_output()) {
        rt.print_json(preview);
        return k_exit_ok;
      }
    }
    if (!rt.json_output() || ask) {
      const json from = preview.value("restored_from", json::object());
      std::ostream &out = rt.json_output() ? std::cerr : std::cout;
      out << "restore #" << from.value("id", 0LL) << " ("
          << format_local(micros_of(from, "taken_at_us")) << ") to "
          << printable(rt.shorten(preview.value("restored_to", std::string())))
          << '\n';
      if (!rt.json_output()) {
        print_diff(rt, preview);
      }
      if (preview.value("beyond_mcp", false)) {
        // The file holds more than the servers, and that differs too.
        const std::string to = preview.value("restored_to", std::string());
        const bool same_file = from.value("path", std::string()) == to;
        out << "note: this also "
            << (same_file ? "puts back everything else "
                          : "replaces everything else ")
            << rt.shorten(to)
            << (same_file ? " holds as it was in #"
                          : " holds with what is in #")
            << from.value("id", 0LL)
            << "; --only-mcp restores just the MCP servers and keeps the "
               "rest\n";
      }
    }
    if (o.dry_run) {
      std::cout << "dry run: nothing was changed\n";
      return k_exit_ok;
    }
    if (!preview.value("changed", true)) {
      // Nothing to ask about: the file already holds what would be written.
      // The reply is the daemon's to the preview: not a dry run asked for.
      if (rt.json_output()) {
        json result = preview;
        result["dry_run"] = false;
        rt.print_json(result);
      } else {
        std::cout << nothing_to_restore(rt, preview, o.only_mcp) << '\n';
      }
      return k_exit_ok;
    }
    std::cerr << "Restore? [y/N] " << std::flush;
    std::string answer;
    const bool terminal = ::isatty(STDIN_FILENO) != 0;
    if (!std::getline(std::cin, answer) && !terminal) {
      std::cerr << '\n';
      die(k_exit_failed, "restore cancelled: no answer on standard input "
                         "(--yes restores without asking)");
    }
    if (!terminal) {
      // A piped answer is not echoed: end the question's line.
      std::cerr << '\n';
    }
    shown_warning = preview.value("warning", std::string());
    // "y" or "yes" in any case, spaces (and a terminal's \r) around it.
    const auto first = answer.find_first_not_of(" \t\r");
    answer = first == std::string::npos
                 ? std::string()
                 : answer.substr(first,
                                 answer.find_last_not_of(" \t\r") - first + 1);
    std::transform(answer.begin(), answer.end(), answer.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (answer != "y" && answer != "yes") {
      die(k_exit_failed, "restore cancelled (y or yes restores)");
    }
    // Restore over what the preview compared, or not at all (the file may
    // have been saved while the question waited). A daemon from before
    // these arguments says neither.
    if (const auto it = preview.find("current_exists");
        it != preview.end() && it->is_boolean()) {
      if (it->get<bool>()) {
        args["expect_current_sha256"] =
            preview.value("current_sha256", std::string());
      } else {
        args["expect_missing"] = true;
      }
    }
    if (const auto it = preview.find("restored_from");
        it != preview.end() && o.last_good) {
      // Restore exactly what was shown, even if a newer good one appeared.
      args.erase("last_good");
      args.erase("host");
      args.erase("path");
      args["id"] = it->value("id", 0LL);
    }
  }
  if (!rt.json_output()) {
    // Nothing below prints the diff (the preview did, if any): spare the
    // daemon a masked text diff of both whole files.
    args["diff"] = false;
  }
  const json r = rt.call("restore", args, shown_warning);
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  if (!r.value("changed", true)) {
    std::cout << nothing_to_restore(rt, r, o.only_mcp) << '\n';
    return k_exit_ok;
  }
  const json from = r.value("restored_from", json::object());
  std::cout << "restored #" << from.value("id", 0LL) << " to "
            << rt.shorten(r.value("restored_to", std::string())) << " ("
            << human_size(r.value("bytes", 0ULL)) << ")\n";
  if (r.contains("pre_restore_id")) {
    std::cout << "the previous content was saved as snapshot #"
              << r["pre_restore_id"].dump() << '\n';
  }
  if (r.contains("previous_id")) {
    std::cout << "the previous content is snapshot #" << r["previous_id"].dump()
              << '\n';
  }
  if (r.contains("snapshot")) {
    std::cout << "recorded as snapshot #" << r["snapshot"].value("id", 0LL)
              << '\n';
  }
  return k_exit_ok;
}

int cmd_snapshot(Runtime &rt, const std::vector<std::string> &paths,
                 const std::string &host, const std::string &note) {
  json args = json::object();
  if (!paths.empty()) {
    json list = json::array();
    for (const auto &p : paths) {
      list.push_back(rt.client_path(p));
    }
    args["paths"] = std::move(list);
  }
  check_host_name(host);
  if (!host.empty()) {
    args["host"] = host;
  }
  if (!note.empty()) {
    args["note"] = note;
  }
  rt.connect(Reach::offline_ok, "snapshot");
  const json r = rt.call("snapshot", args);
  const json snapshots = r.value("snapshots", json::array());
  const json skipped = r.value("skipped", json::array());
  // A file named on the command line that was not recorded, or nothing
  // recorded at all, is a failure (a host's files that do not exist are
  // not, while another of its files was recorded).
  const bool failed = snapshots.empty() || (!paths.empty() && !skipped.empty());
  if (rt.json_output()) {
    rt.print_json(r);
    return failed ? k_exit_failed : k_exit_ok;
  }
  if (!snapshots.empty()) {
    std::cout << snapshot_table(rt, snapshots);
  }
  for (const auto &s : skipped) {
    std::cout << "skipped " << rt.shorten(s.value("path", std::string()))
              << ": " << s.value("reason", std::string()) << '\n';
  }
  if (snapshots.empty()) {
    print_error("no snapshot taken");
  }
  return failed ? k_exit_failed : k_exit_ok;
}

int cmd_pin(Runtime &rt, std::int64_t id, bool pin) {
  const char *op = pin ? "pin" : "unpin";
  rt.connect(Reach::offline_ok, op);
  const json r = rt.call(op, {{"id", id}});
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  std::cout << (pin ? "pinned" : "unpinned") << " snapshot #" << id << '\n';
  return k_exit_ok;
}

int cmd_prune(Runtime &rt, bool dry_run) {
  rt.connect(Reach::offline_ok, "prune");
  if (rt.offline() && rt.retention_unsure()) {
    // The daemon prunes by the config it had; without it, the rules are
    // what the file says, and it does not say.
    die(k_exit_failed, "the config's retention rules have mistakes (above): "
                       "prune does not guess what to delete; fix them "
                       "first (`mcpbkd --check-config` checks them)");
  }
  const json r = rt.call("prune", {{"dry_run", dry_run}});
  if (rt.json_output()) {
    rt.print_json(r);
    return k_exit_ok;
  }
  const json deleted = r.value("deleted", json::array());
  if (!deleted.empty()) {
    Table table({"ID", "WHEN", "HOST", "PATH", "SIZE", "RULE"});
    const Micros now = now_micros();
    for (const auto &d : deleted) {
      const json s = d.value("snapshot", json::object());
      table.add({{std::to_string(s.value("id", 0LL))},
                 {local_with_age(micros_of(s, "taken_at_us"), now)},
                 {s.value("host", std::string())},
                 {rt.shorten(s.value("path", std::string()))},
                 {human_size(s.value("size", 0ULL))},
                 {d.value("rule", std::string())}});
    }
    std::cout << table.render(rt.style());
  }
  const auto count = r.value("count", 0ULL);
  if (dry_run) {
    std::cout << "dry run: would delete " << counted(count, "snapshot") << '\n';
  } else {
    std::cout << "deleted " << counted(count, "snapshot") << ", freed "
              << human_size(r.value("bytes_freed", 0ULL));
    if (const auto events = r.value("events_deleted", 0ULL); events > 0) {
      std::cout << "; the event log dropped its "
                << counted(events, "oldest event");
    }
    std::cout << '\n';
  }
  return k_exit_ok;
}

int cmd_verify(Runtime &rt) {
  rt.connect(Reach::offline_ok, "verify");
  const json r = rt.call("verify", json::object());
  const bool ok = r.value("ok", false);
  if (rt.json_output()) {
    rt.print_json(r);
  } else {
    for (const auto &p : r.value("problems", json::array())) {
      std::cout << rt.style().paint("problem: ", Colour::red)
                << (p.is_string() ? p.get<std::string>() : p.dump()) << '\n';
    }
    std::cout << (ok ? "ok" : "FAILED") << ": "
              << counted(r.value("blobs_checked", 0ULL), "blob") << " and "
              << counted(r.value("snapshots_checked", 0ULL), "snapshot")
              << " checked\n";
  }
  if (!ok) {
    print_error("verify found problems");
  }
  return ok ? k_exit_ok : k_exit_failed;
}

int cmd_events(Runtime &rt, bool follow, std::int64_t limit) {
  // Following needs the daemon (it sends what happens); the log is in the
  // store.
  rt.connect(follow ? Reach::daemon : Reach::offline_ok, "events");
  json args = json::object();
  args["limit"] = limit > 0 ? limit : 50;
  if (!follow) {
    const json r = rt.call("events", args);
    if (rt.json_output()) {
      rt.print_json(r);
      return k_exit_ok;
    }
    const json events = r.value("events", json::array());
    if (events.empty()) {
      std::cout << "no events\n";
      return k_exit_ok;
    }
    Table table({"ID", "WHEN", "SEVERITY", "KIND", "PATH", "MESSAGE"});
    const Micros now = now_micros();
    for (const auto &e : events) {
      const std::string severity = e.value("severity", std::string());
      table.add({{std::to_string(e.value("id", 0LL))},
                 {local_with_age(micros_of(e, "at_us"), now)},
                 {severity, severity_colour(severity)},
                 {e.value("kind", std::string())},
                 {rt.shorten(e.value("path", std::string()))},
                 {one_line(rt.shorten_in(e.value("message", std::string())))}});
    }
    std::cout << table.render(rt.style());
    return k_exit_ok;
  }

  // Subscribe first so nothing falls between the history and the stream.
  rt.call("subscribe", json::object());
  const json history = rt.call("events", args);
  const json events = history.value("events", json::array());
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (rt.json_output()) {
      std::cout << json({{"v", 1}, {"event", "event"}, {"data", *it}})
                       .dump(-1, ' ', false, json::error_handler_t::replace)
                << '\n';
    } else {
      print_event_line(rt, *it);
    }
  }
  if (const int code = output_written(k_exit_ok); code != k_exit_ok) {
    return code;
  }
  Connection &connection = rt.connection();
  connection.set_timeout(std::nullopt);
  g_json_lines = true;
  for (;;) {
    auto message = connection.read_message();
    if (!message) {
      die(k_exit_unreachable, message.error().message);
    }
    if (!*message) {
      die(k_exit_unreachable, "the daemon closed the connection");
    }
    const json &m = **message;
    if (!m.contains("event")) {
      continue;
    }
    if (rt.json_output()) {
      std::cout << m.dump(-1, ' ', false, json::error_handler_t::replace)
                << '\n';
    } else if (m["event"] == "snapshot") {
      print_snapshot_line(rt, m.value("data", json::object()));
    } else {
      print_event_line(rt, m.value("data", json::object()));
    }
    // Its output gone (closed, a full disk), following is over.
    if (const int code = output_written(k_exit_ok); code != k_exit_ok) {
      return code;
    }
  }
}

struct ExportOptions {
  std::string host;
  std::string path;
  std::string since;
  std::string output;
  bool redact = false;
};

// Export reads the store in this process (a reader never blocks the daemon)
// so it can show progress and stream any store size.
int cmd_export(Runtime &rt, const ExportOptions &o) {
  if (o.output == "-") {
    // The daemon writes the bundle (atomically, beside its final name).
    die(k_exit_usage, "export: -o takes a file name; a bundle is not "
                      "written to standard output");
  }
  json args = filter_args(rt, o.host, o.path, o.since, "");
  args["output"] = rt.client_path(o.output);
  if (o.redact) {
    args["redact"] = true;
  }
  rt.follow_the_daemons_store();
  rt.open_store_directly();
  const json r = rt.call("export", args);
  if (rt.json_output()) {
    rt.print_json(r);
  } else {
    std::cout << "exported " << counted(r.value("snapshots", 0ULL), "snapshot")
              << " (" << r.value("bytes", 0) << " bytes"
              << (o.redact ? ", secrets redacted" : "") << ") to "
              << rt.shorten(r.value("file", o.output)) << '\n';
  }
  const json left_out = r.value("left_out", json::array());
  if (!left_out.empty()) {
    print_error("warning: " + counted(left_out.size(), "snapshot") +
                " could not be exported and " +
                (left_out.size() == 1 ? "was" : "were") +
                " left out (mcpbkctl verify checks the store):");
    for (const auto &l : left_out) {
      std::cerr << "  #" << l.value("id", 0LL) << ' '
                << printable(rt.shorten(l.value("path", std::string()))) << ": "
                << printable_message(l.value("why", std::string())) << '\n';
    }
  }
  return k_exit_ok;
}

struct ImportOptions {
  std::string file;
  std::string on_conflict = "skip";
  bool dry_run = false;
  bool map_home = false;
};

// Import goes through the daemon when it runs (its loop then owns every
// write to the store), else straight into the store.
int cmd_import(Runtime &rt, const ImportOptions &o) {
  if (o.file == "-") {
    die(k_exit_usage, "import: give the bundle's file name; a bundle is not "
                      "read from standard input");
  }
  // A bundle that cannot be read makes no store (a mistyped name on a new
  // machine left an empty one behind).
  struct stat info {};
  if (::stat(o.file.c_str(), &info) != 0) {
    die(k_exit_failed,
        "cannot open " + printable(o.file) + ": " + std::strerror(errno));
  }
  if (S_ISDIR(info.st_mode)) {
    die(k_exit_failed, printable(o.file) + " is a directory; give the "
                                           "bundle's file");
  }
  std::string file = rt.client_path(o.file);
  std::string label; // the name the user gave, for a pipe read here
  bool ours = false; // a name of one of this process's descriptors
  if (file.starts_with("/dev/") || file.starts_with("/proc/")) {
    // /dev/stdin, /dev/fd/N, /proc/self/fd/N: the daemon would open its
    // own. The file they lead to is given instead, when it has a name.
    std::error_code ec;
    const fs::path real = fs::canonical(file, ec);
    struct stat real_info {};
    ours = real.string().starts_with("/proc/") ||
           real.string().starts_with("/dev/fd/");
    if (!ec && S_ISREG(info.st_mode) && ::stat(real.c_str(), &real_info) == 0 &&
        real_info.st_ino == info.st_ino && real_info.st_dev == info.st_dev) {
      file = real.string();
      ours = false;
    } else if (S_ISREG(info.st_mode)) {
      ours = true; // deleted, or not reachable by name: read here
    }
  }
  if (!S_ISREG(info.st_mode) || ours) {
    // A pipe (`... | mcpbkctl import /dev/stdin`, `<(...)`) or a FIFO can
    // be read once, and only by this process (/dev/stdin in the daemon is
    // its own): it is read here into memory, which the reader opens
    // through /proc. The daemon's blocking open of a FIFO stopped it.
#ifdef __linux__
    const int in = ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
    const int copy = ::memfd_create("mcpbk-import", MFD_CLOEXEC);
    if (in < 0 || copy < 0) {
      die(k_exit_failed,
          "cannot read " + printable(o.file) + ": " + std::strerror(errno));
    }
    std::array<char, 1 << 16> buffer{};
    std::uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(in, buffer.data(), buffer.size());
      // Not kept past what cannot be a bundle: zstd's frame magic first
      // (`import /dev/zero` filled memory), and a bound on the whole.
      constexpr std::array<unsigned char, 4> k_zstd = {0x28, 0xB5, 0x2F, 0xFD};
      if (total == 0 && n > 0 &&
          (n < 4 || std::memcmp(buffer.data(), k_zstd.data(), 4) != 0)) {
        die(k_exit_failed, printable(o.file) +
                               " is not a bundle (it does not start as "
                               "one: mcpbkctl export writes zstd)");
      }
      if (n > 0 && (total += static_cast<std::uint64_t>(n)) > (1ULL << 32)) {
        die(k_exit_failed, printable(o.file) + " goes on past 4 GiB; save "
                                               "the bundle to a file and "
                                               "import that");
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        die(k_exit_failed,
            "cannot read " + printable(o.file) + ": " + std::strerror(errno));
      }
      if (n == 0) {
        break;
      }
      std::size_t put = 0;
      while (put < static_cast<std::size_t>(n)) {
        const ssize_t w = ::write(copy, buffer.data() + put,
                                  static_cast<std::size_t>(n) - put);
        if (w < 0 && errno == EINTR) {
          continue;
        }
        if (w <= 0) {
          break;
        }
        put += static_cast<std::size_t>(w);
      }
      if (put != static_cast<std::size_t>(n)) {
        die(k_exit_failed, "cannot keep the bundle read from " +
                               printable(o.file) + ": " + std::strerror(errno));
      }
    }
    ::close(in);
    file = "/proc/" + std::to_string(::getpid()) + "/fd/" +
           std::to_string(copy); // closed at exit
    label = o.file;
#else
    die(k_exit_failed, printable(o.file) +
                           " is not a regular file; save the bundle to a "
                           "file and import that");
#endif
  }
  json args = {{"file", file}, {"on_conflict", o.on_conflict}};
  if (!label.empty()) {
    args["name"] = label;
  }
  if (o.dry_run) {
    args["dry_run"] = true;
  }
  if (o.map_home) {
    args["map_home"] = true;
  }
  rt.connect(Reach::offline_ok, "import",
             o.dry_run ? Runtime::Create::scratch : Runtime::Create::yes);
  json reply = rt.call_raw("import", args);
  if (!reply.value("ok", false)) {
    rt.remove_store_made();
  }
  const json r = rt.result_of(std::move(reply));
  if (rt.json_output()) {
    rt.print_json(r);
  } else {
    std::cout << (o.dry_run ? "would import: " : "imported: ")
              << r.value("created", 0) << " created, " << r.value("skipped", 0)
              << " skipped, " << r.value("renamed", 0) << " renamed (from "
              << printable(r.value("source_machine", std::string("?"))) << ", "
              << printable(r.value("created_at", std::string("?"))) << ")\n";
    if (r.value("redacted", false)) {
      std::cout << "note: this bundle was redacted; its secret values are "
                   "placeholders\n";
    }
    if (const auto conflicts = r.value("conflicts", 0ULL); conflicts > 0) {
      // Not "already here": what they hold was not imported.
      std::cout << "note: " << counted(conflicts, "skipped snapshot")
                << (conflicts == 1 ? " differs" : " differ")
                << " from the one already at its path and time, and "
                << (o.dry_run        ? "would be"
                    : conflicts == 1 ? "was"
                                     : "were")
                << " left out; --on-conflict rename keeps "
                << (conflicts == 1 ? "it" : "them") << " beside it\n";
    }
    if (const auto outside = r.value("outside_home", 0ULL); outside > 0) {
      // Their paths name the other machine's home: not this machine's
      // files, and a restore would write there.
      std::cout << "note: " << counted(outside, "snapshot")
                << (outside == 1 ? " keeps its path" : " keep their paths")
                << " under the bundle's home, "
                << printable(r.value("source_home", std::string("?")))
                << ", not yours; --map-home imports them as the history of "
                   "your own files"
                << (o.dry_run ? "" : " (import again with it)") << '\n';
    }
  }
  return k_exit_ok;
}

constexpr const char *k_examples = R"(Examples:
  mcpbkctl status                      is the daemon running, what it watches
  mcpbkctl list --host claude-code --newer-than 2h
  mcpbkctl show 42                     servers of snapshot 42 (secrets masked)
  mcpbkctl diff 42                     snapshot 42 against the current file
  mcpbkctl diff 41 42                  two snapshots
  mcpbkctl cat 42 > copy.json          the exact bytes
  mcpbkctl restore 42 --dry-run        what a restore would change
  mcpbkctl restore --last-good --host claude-desktop --yes
  mcpbkctl snapshot ~/.claude.json --note "before upgrading"
  mcpbkctl events --follow

Exit codes: 0 ok, 1 failed, 2 usage, 3 daemon unreachable.)";

// Every subcommand, in the order the help lists them.
constexpr std::array<std::string_view, 16> k_subcommands{
    "status",  "hosts",    "list",   "show",  "cat",   "diff",
    "restore", "snapshot", "pin",    "unpin", "prune", "verify",
    "events",  "doctor",   "export", "import"};

} // namespace

int run(int argc, char **argv) {
  CLI::App app{"mcpbkctl: inspect and restore the MCP configuration backups "
               "kept by mcpbkd"};
  app.footer(k_examples);
  app.require_subcommand(1);
  app.fallthrough();

  std::string socket;
  std::string config_file;
  std::string state_dir;
  bool json_output = false;
  app.add_option("--socket", socket, "daemon socket (default: resolved)")
      ->check(k_not_empty);
  app.add_option("--config", config_file, "config file")->check(k_not_empty);
  app.add_option("--state-dir", state_dir, "state directory")
      ->check(k_not_empty);
  app.add_flag("--json", json_output, "print one JSON object");
  app.set_version_flag("--version", "mcpbkctl " MCPBK_VERSION);

  std::function<int(Runtime &)> action;

  // Only the subcommands named among the arguments are defined (CLI11 takes
  // a subcommand by its whole name only), or all of them for help and when
  // none is named (CLI11 then lists them): defining them all was a third of
  // the instructions of a command (bench/RESULTS.md item 33).
  const std::set<std::string_view> named(argv + 1, argv + argc);
  const bool all = named.count("--help") != 0 || named.count("-h") != 0 ||
                   std::none_of(k_subcommands.begin(), k_subcommands.end(),
                                [&](std::string_view name) {
                                  return named.count(name) != 0;
                                });
  const auto wanted = [&](std::string_view name) {
    return all || named.count(name) != 0;
  };

  if (wanted("status")) {
    app.add_subcommand("status", "daemon, store and watch status")
        ->callback([&] { action = cmd_status; });
  }
  if (wanted("hosts")) {
    app.add_subcommand("hosts", "known hosts, their files and snapshot counts")
        ->callback([&] { action = cmd_hosts; });
  }

  ListOptions list_options;
  if (wanted("list")) {
    auto *list = app.add_subcommand("list", "snapshots, newest first");
    list->add_option("--host", list_options.host, "only this host")
        ->check(k_not_empty);
    list->add_option("--path", list_options.path, "only this file")
        ->check(k_not_empty);
    auto *since = list->add_option("--since", list_options.since,
                                   "taken at or after this ISO 8601 time")
                      ->check(k_not_empty);
    list->add_option("--newer-than", list_options.newer_than,
                     "taken within this duration (30m, 2h, 7d)")
        ->excludes(since)
        ->check(k_not_empty);
    list->add_option("--limit", list_options.limit, "at most N snapshots")
        ->check(k_count);
    list->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_list(rt, list_options);
      };
    });
  }

  std::int64_t id = 0;
  std::int64_t id2 = 0;
  bool show_secrets = false;
  if (wanted("show")) {
    auto *show =
        app.add_subcommand("show", "a snapshot's metadata and servers");
    show->add_option("ID", id, "snapshot id")->required()->check(k_snapshot_id);
    show->add_flag("--show-secrets", show_secrets, "do not mask secret values");
    show->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_show(rt, id, show_secrets);
      };
    });
  }

  if (wanted("cat")) {
    auto *cat = app.add_subcommand("cat", "a snapshot's exact bytes on stdout");
    cat->add_option("ID", id, "snapshot id")->required()->check(k_snapshot_id);
    cat->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_cat(rt, id);
      };
    });
  }

  if (wanted("diff")) {
    auto *diff = app.add_subcommand(
        "diff", "a snapshot against the current file, or two snapshots");
    diff->add_option("ID", id, "snapshot id")->required()->check(k_snapshot_id);
    diff->add_option("ID2", id2, "second snapshot id")->check(k_snapshot_id);
    diff->add_flag("--show-secrets", show_secrets, "do not mask secret values");
    diff->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_diff(rt, id, id2, show_secrets);
      };
    });
  }

  RestoreOptions restore_options;
  if (wanted("restore")) {
    auto *restore = app.add_subcommand("restore", "write a snapshot back");
    restore->add_option("ID", restore_options.id, "snapshot id")
        ->check(k_snapshot_id);
    restore
        ->add_option("--to", restore_options.to, "write to this path instead")
        ->check(k_not_empty);
    restore->add_flag("--dry-run", restore_options.dry_run,
                      "show the diff, change nothing");
    restore->add_flag("--only-mcp", restore_options.only_mcp,
                      "replace only the MCP server maps in the current file");
    restore->add_flag("--yes,-y", restore_options.yes, "do not ask");
    restore->add_flag("--last-good", restore_options.last_good,
                      "the newest good snapshot of --host or --path");
    restore->add_option("--host", restore_options.host, "with --last-good")
        ->check(k_not_empty);
    restore->add_option("--path", restore_options.path, "with --last-good")
        ->check(k_not_empty);
    restore->add_flag("--show-secrets", restore_options.show_secrets,
                      "do not mask secret values in the diff");
    restore->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_restore(rt, restore_options);
      };
    });
  }

  std::vector<std::string> snapshot_paths;
  std::string snapshot_host;
  std::string note;
  if (wanted("snapshot")) {
    auto *snapshot =
        app.add_subcommand("snapshot", "take a manual snapshot now");
    snapshot->add_option("PATH", snapshot_paths, "files to snapshot")
        ->check(k_not_empty);
    snapshot
        ->add_option("--host", snapshot_host,
                     "every file of this host (or the host of PATHs)")
        ->check(k_not_empty);
    snapshot->add_option("--note", note, "a note; noted snapshots are pinned");
    snapshot->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_snapshot(rt, snapshot_paths, snapshot_host, note);
      };
    });
  }

  if (wanted("pin")) {
    auto *pin = app.add_subcommand("pin", "exempt a snapshot from retention");
    pin->add_option("ID", id, "snapshot id")->required()->check(k_snapshot_id);
    pin->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_pin(rt, id, true);
      };
    });
  }
  if (wanted("unpin")) {
    auto *unpin = app.add_subcommand("unpin", "return a snapshot to retention");
    unpin->add_option("ID", id, "snapshot id")
        ->required()
        ->check(k_snapshot_id);
    unpin->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_pin(rt, id, false);
      };
    });
  }

  bool prune_dry_run = false;
  if (wanted("prune")) {
    auto *prune = app.add_subcommand("prune", "apply retention now");
    prune->add_flag("--dry-run", prune_dry_run,
                    "list what would be deleted and why");
    prune->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_prune(rt, prune_dry_run);
      };
    });
  }

  if (wanted("verify")) {
    app.add_subcommand("verify", "check every blob hash and the database")
        ->callback([&] { action = cmd_verify; });
  }

  bool follow = false;
  std::int64_t events_limit = 0;
  if (wanted("events")) {
    auto *events = app.add_subcommand("events", "the event log");
    events->add_flag("--follow,-f", follow, "stream new events and snapshots");
    events->add_option("--limit", events_limit, "at most N events (50)")
        ->check(k_count);
    events->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_events(rt, follow, events_limit);
      };
    });
  }

  bool doctor = false;
  if (wanted("doctor")) {
    app.add_subcommand("doctor",
                       "check the setup and say how to fix each problem")
        ->callback([&] { doctor = true; });
  }

  ExportOptions export_options;
  if (wanted("export")) {
    auto *export_cmd = app.add_subcommand("export", "write a portable bundle");
    export_cmd->add_option("--host", export_options.host, "only this host")
        ->check(k_not_empty);
    export_cmd->add_option("--path", export_options.path, "only this file")
        ->check(k_not_empty);
    export_cmd
        ->add_option("--since", export_options.since,
                     "only snapshots taken since (ISO 8601)")
        ->check(k_not_empty);
    export_cmd->add_option("-o,--output", export_options.output, "bundle file")
        ->required()
        ->check(k_not_empty);
    export_cmd->add_flag("--redact", export_options.redact,
                         "replace secret values with placeholders");
    export_cmd->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_export(rt, export_options);
      };
    });
  }

  ImportOptions import_options;
  if (wanted("import")) {
    auto *import_cmd = app.add_subcommand("import", "read a portable bundle");
    import_cmd->add_option("FILE", import_options.file, "bundle file")
        ->required()
        ->check(k_not_empty);
    import_cmd
        ->add_option("--on-conflict", import_options.on_conflict,
                     "skip, rename or fail (default skip)")
        ->check(CLI::IsMember({"skip", "rename", "fail"}));
    import_cmd->add_flag("--dry-run", import_options.dry_run,
                         "check and count, import nothing");
    import_cmd->add_flag("--map-home", import_options.map_home,
                         "rewrite the source machine's home to this one's");
    import_cmd->callback([&] {
      action = [&](Runtime &rt) {
        return cmd_import(rt, import_options);
      };
    });
  }

  // With no command named (CLI11 would say "A subcommand is required"):
  // the first word that is not an option, if any, names none.
  std::string unknown_command;
  for (int i = 1; i < argc && all; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--socket" || arg == "--config" || arg == "--state-dir") {
      ++i; // its value
    } else if (!arg.starts_with('-')) {
      unknown_command = arg;
      break;
    }
  }
  // Usage errors are ours too: "mcpbkctl: ..." on stderr (SPEC §9).
  const std::function<std::string(const CLI::App *, const CLI::Error &)>
      usage_message = [all, &unknown_command](const CLI::App *,
                                              const CLI::Error &e) {
        if (all && dynamic_cast<const CLI::RequiredError *>(&e) != nullptr) {
          std::string names;
          for (const auto name : k_subcommands) {
            names += (names.empty() ? "" : ", ") + std::string(name);
          }
          const std::string what =
              unknown_command.empty()
                  ? std::string("give a command")
                  : "unknown command \"" + unknown_command + "\"";
          return "mcpbkctl: " + what + "; the commands are " + names + "\n";
        }
        return std::string("mcpbkctl: ") + e.what() +
               "\nRun with --help for more information.\n";
      };
  app.failure_message(usage_message);
  try {
    // "--socket=" with nothing after the '=': CLI11 would take the next
    // word as its value (a command's name as a socket path).
    for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) {
      const std::string_view arg = argv[i];
      if (arg.starts_with("--") && arg.size() > 3 &&
          arg.find('=') == arg.size() - 1) {
        throw CLI::ValidationError(std::string(arg.substr(0, arg.size() - 1)),
                                   "must not be empty");
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    const int code = app.exit(e);
    if (code != 0) {
      g_json_errors = std::any_of(argv + 1, argv + argc, [](const char *arg) {
        return std::string_view(arg) == "--json";
      });
      // The message printed on stderr, without its prefix and its last
      // line (the --help hint).
      std::string message = usage_message(&app, e);
      message.erase(0, std::string_view("mcpbkctl: ").size());
      if (const auto nl = message.find('\n'); nl != std::string::npos) {
        message.erase(nl);
      }
      print_json_error(k_exit_usage, message);
    }
    return code == 0 ? k_exit_ok : k_exit_usage;
  }
  g_json_errors = json_output;

  PathOverrides overrides;
  if (!socket.empty()) {
    overrides.socket = socket;
  }
  if (!config_file.empty()) {
    overrides.config_file = config_file;
  }
  if (!state_dir.empty()) {
    overrides.state_dir = state_dir;
  }
  if (doctor) {
    return output_written(
        run_doctor(Env::from_process(), overrides, json_output));
  }
  try {
    Runtime rt(Env::from_process(), overrides, json_output);
    rt.load_config();
    return output_written(action(rt));
  } catch (const Exit &e) {
    return output_written(e.code);
  } catch (const std::exception &e) {
    print_error(e.what());
    print_json_error(k_exit_failed, e.what());
    return output_written(k_exit_failed);
  }
}

} // namespace mcpbk::client
