#include <common/config.hpp>

// GCC 12 at -O2/-O3 reports the std::string members of a Config moved
// through tl::expected as maybe-uninitialized (a known false positive of its
// inlined SSO string moves); every member is initialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <common/hosts.hpp>
#include <common/yaml_load.hpp>

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <functional>
#include <set>

namespace mcpbk {

namespace {

// The catalog's host names, for an unknown one's message.
std::string host_names() {
  std::string names;
  for (const auto &def : host_catalog()) {
    names += (names.empty() ? "" : ", ") + std::string(def.name);
  }
  return names;
}

// The largest durations a config may give: ten years (a timer's nanoseconds
// overflow near 292 years), and an age of a million days.
constexpr std::uint64_t k_most_s = 10ULL * 366 * 86400;
constexpr std::uint64_t k_most_ms = k_most_s * 1000;
constexpr std::uint64_t k_most_days = 1'000'000;

// Collects problems while applying one YAML document to a Config.
class Loader {
public:
  explicit Loader(std::vector<ConfigProblem> &problems)
      : m_problems(problems) {}

  void apply(const YAML::Node &root, Config &cfg) {
    if (!root || root.IsNull()) {
      return; // an empty file sets nothing
    }
    if (!root.IsMap()) {
      problem("(top level)",
              "expected a mapping of sections, got " + describe(root));
      return;
    }
    for (const auto &kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node &v = kv.second;
      if (key == "store") {
        section(v, "store",
                {{"dir",
                  [&](auto &n, auto &f) {
                    path_string(n, f, cfg.store.dir);
                  }},
                 {"compression",
                  [&](auto &n, auto &f) {
                    if (auto s = enumeration(n, f, {"zstd", "none"})) {
                      cfg.store.compression = *compression_from_string(*s);
                    }
                  }},
                 {"max_file_bytes", [&](auto &n, auto &f) {
                    positive(n, f, cfg.store.max_file_bytes);
                  }}});
      } else if (key == "watch") {
        section(
            v, "watch",
            {{"backend",
              [&](auto &n, auto &f) {
                if (auto s = enumeration(n, f, {"auto", "inotify", "poll"})) {
                  cfg.watch.backend = *s == "auto" ? WatchBackend::automatic
                                      : *s == "inotify" ? WatchBackend::inotify
                                                        : WatchBackend::poll;
                }
              }},
             {"debounce_ms",
              [&](auto &n, auto &f) {
                integer(n, f, cfg.watch.debounce_ms, k_most_ms);
              }},
             {"max_delay_ms",
              [&](auto &n, auto &f) {
                positive(n, f, cfg.watch.max_delay_ms, k_most_ms);
              }},
             {"rescan_interval_s",
              [&](auto &n, auto &f) {
                integer(n, f, cfg.watch.rescan_interval_s, k_most_s);
              }},
             {"poll_interval_ms",
              [&](auto &n, auto &f) {
                positive(n, f, cfg.watch.poll_interval_ms, k_most_ms);
              }},
             {"paths",
              [&](auto &n, auto &f) {
                watch_paths(n, f, cfg);
              }},
             {"project_roots", [&](auto &n, auto &f) {
                string_list(n, f, cfg.watch.project_roots);
                for (std::size_t i = 0; i < cfg.watch.project_roots.size();
                     ++i) {
                  place(f + "[" + std::to_string(i) + "]",
                        cfg.watch.project_roots[i], true);
                }
              }}});
      } else if (key == "hosts") {
        hosts(v, cfg);
      } else if (key == "retention") {
        auto &r = cfg.retention;
        section(v, "retention",
                {{"max_count",
                  [&](auto &n, auto &f) {
                    integer(n, f, r.max_count);
                  }},
                 {"max_age_days",
                  [&](auto &n, auto &f) {
                    integer(n, f, r.max_age_days, k_most_days);
                  }},
                 {"min_keep",
                  [&](auto &n, auto &f) {
                    integer(n, f, r.min_keep);
                  }},
                 {"keep_daily",
                  [&](auto &n, auto &f) {
                    integer(n, f, r.keep_daily);
                  }},
                 {"keep_weekly",
                  [&](auto &n, auto &f) {
                    integer(n, f, r.keep_weekly);
                  }},
                 {"keep_monthly",
                  [&](auto &n, auto &f) {
                    integer(n, f, r.keep_monthly);
                  }},
                 {"prune_interval_s", [&](auto &n, auto &f) {
                    positive(n, f, cfg.prune_interval_s, k_most_s);
                  }}});
      } else if (key == "ipc") {
        section(v, "ipc", {{"socket", [&](auto &n, auto &f) {
                              path_string(n, f, cfg.ipc.socket);
                            }}});
      } else if (key == "log") {
        section(v, "log",
                {{"level",
                  [&](auto &n, auto &f) {
                    if (auto s = enumeration(n, f,
                                             {"trace", "debug", "info", "warn",
                                              "error", "critical", "off"})) {
                      cfg.log.level = *s;
                    }
                  }},
                 {"format", [&](auto &n, auto &f) {
                    if (auto s = enumeration(n, f, {"text", "json"})) {
                      cfg.log.format =
                          *s == "json" ? LogFormat::json : LogFormat::text;
                    }
                  }}});
      } else if (key == "notify") {
        section(v, "notify", {{"command", [&](auto &n, auto &f) {
                                 string_list(n, f, cfg.notify.command);
                                 if (!cfg.notify.command.empty() &&
                                     cfg.notify.command.front().empty()) {
                                   problem(f + "[0]",
                                           "the program to run is empty");
                                 }
                               }}});
      } else {
        problem(key, "unknown key");
      }
    }
  }

private:
  using Handler =
      std::function<void(const YAML::Node &, const std::string &field)>;

  void problem(std::string field, std::string message) {
    m_problems.push_back({std::move(field), std::move(message)});
  }

  // A path the config names: absolute, from the home directory (~/), or,
  // where `variables`, from an environment variable (${VAR}). A relative
  // one would depend on the daemon's working directory (/ under systemd),
  // and watch.paths dropped it unseen. In a glob, "**" matches within one
  // directory like *, not down the tree as in some shells.
  bool place(const std::string &field, const std::string &text,
             bool variables) {
    if (text.empty()) {
      // A list's empty entry names nothing (watch.paths' own check says
      // "missing").
      if (variables && field.find("project_roots") != std::string::npos) {
        problem(field, "must not be empty");
        return false;
      }
      return true;
    }
    if (variables && text.starts_with("${")) {
      // ${VAR} or ${VAR:-default}, the default itself a place: one left
      // open ("${HOME/work") or with a relative default expanded to a
      // relative path, which the daemon then dropped unseen.
      std::size_t depth = 0;
      std::size_t end = std::string::npos;
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 2, "${") == 0) {
          ++depth;
          ++i;
        } else if (text[i] == '}' && depth > 0 && --depth == 0 &&
                   end == std::string::npos) {
          end = i;
        }
      }
      const std::size_t name_end = text.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", 2);
      if (depth != 0 || end == std::string::npos || name_end == 2 ||
          (name_end != end && text.compare(name_end, 2, ":-") != 0)) {
        problem(field, "\"" + text +
                           "\": expected ${NAME} or ${NAME:-default} (a "
                           "name of letters, digits and _, closed by })");
        return false;
      }
      if (name_end != end &&
          !place(field, text.substr(name_end + 2, end - name_end - 2), true)) {
        return false; // its default was said wrong
      }
    }
    const bool home =
        text == "~" || text.starts_with("~/") || text.starts_with("~\\");
    const bool drive = text.size() >= 3 &&
                       std::isalpha(static_cast<unsigned char>(text[0])) &&
                       text[1] == ':' && (text[2] == '/' || text[2] == '\\');
    const bool absolute =
        text.starts_with('/') || text.starts_with('\\') || drive;
    bool ok = true;
    if (!home && !absolute && !(variables && text.starts_with("${"))) {
      problem(field, std::string("must be absolute or start with ~/") +
                         (variables ? " or ${VAR}" : "") + ", got \"" + text +
                         "\"");
      ok = false;
    }
    if (variables && text.find("**") != std::string::npos) {
      problem(field, field.find("project_roots") != std::string::npos
                         ? "\"**\" is not supported: * matches within one "
                           "directory (give each depth: ~/code/*, ~/code/*/*)"
                         : "\"**\" is not supported: * matches within one "
                           "directory (give each depth: ~/code/*/.mcp.json, "
                           "~/code/*/*/.mcp.json)");
      ok = false;
    }
    return ok;
  }

  // A path of the daemon's own (store.dir, ipc.socket): one that cannot
  // work leaves `out` as it was.
  void path_string(const YAML::Node &n, const std::string &field,
                   std::string &out) {
    std::string text = out;
    string(n, field, text);
    if (place(field, text, false)) {
      out = std::move(text);
    }
  }

  static std::string describe(const YAML::Node &n) {
    if (!n || n.IsNull()) {
      return "nothing";
    }
    if (n.IsSequence()) {
      return "a list";
    }
    if (n.IsMap()) {
      return "a mapping";
    }
    return "\"" + n.Scalar() + "\"";
  }

  void section(const YAML::Node &node, const std::string &name,
               std::initializer_list<std::pair<const char *, Handler>> keys) {
    if (node.IsNull()) {
      return;
    }
    if (!node.IsMap()) {
      problem(name, "expected a mapping, got " + describe(node));
      return;
    }
    for (const auto &kv : node) {
      const std::string key = kv.first.as<std::string>();
      const std::string field = name + "." + key;
      bool known = false;
      for (const auto &[k, handler] : keys) {
        if (key == k) {
          handler(kv.second, field);
          known = true;
          break;
        }
      }
      if (!known) {
        problem(field, "unknown key");
      }
    }
  }

  // A non-negative integer up to `most` (durations are bounded so that
  // they stay whole in a clock's nanoseconds, and an age in days in its
  // microseconds: a larger one wrapped round and deleted every snapshot).
  void integer(const YAML::Node &n, const std::string &field,
               std::uint64_t &out,
               std::uint64_t most = 999'999'999'999'999'999ULL) {
    if (!n.IsScalar() || n.Scalar().empty() ||
        n.Scalar().find_first_not_of("0123456789") != std::string::npos) {
      problem(field, "expected a non-negative integer, got " + describe(n));
      return;
    }
    if (n.Scalar().size() > 18 || std::stoull(n.Scalar()) > most) {
      problem(field, "expected at most " + std::to_string(most) + ", got " +
                         describe(n));
      return;
    }
    out = std::stoull(n.Scalar());
  }

  void positive(const YAML::Node &n, const std::string &field,
                std::uint64_t &out,
                std::uint64_t most = 999'999'999'999'999'999ULL) {
    std::uint64_t v = 1;
    const auto before = m_problems.size();
    integer(n, field, v, most);
    if (m_problems.size() != before) {
      return;
    }
    if (v == 0) {
      problem(field, "expected a positive integer, got \"0\"");
      return;
    }
    out = v;
  }

  void string(const YAML::Node &n, const std::string &field, std::string &out) {
    if (n.IsNull()) {
      out.clear();
      return;
    }
    if (!n.IsScalar()) {
      problem(field, "expected a string, got " + describe(n));
      return;
    }
    out = n.Scalar();
  }

  std::optional<std::string>
  enumeration(const YAML::Node &n, const std::string &field,
              std::initializer_list<const char *> allowed) {
    std::string choices;
    for (const char *a : allowed) {
      if (n.IsScalar() && n.Scalar() == a) {
        return n.Scalar();
      }
      choices += choices.empty() ? "" : ", ";
      choices += a;
    }
    problem(field, "expected one of " + choices + ", got " + describe(n));
    return std::nullopt;
  }

  void string_list(const YAML::Node &n, const std::string &field,
                   std::vector<std::string> &out) {
    if (n.IsNull()) {
      out.clear();
      return;
    }
    if (!n.IsSequence()) {
      problem(field, "expected a list of strings, got " + describe(n));
      return;
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        problem(field + "[" + std::to_string(i) + "]",
                "expected a string, got " + describe(n[i]));
        return;
      }
      values.push_back(n[i].Scalar());
    }
    out = std::move(values);
  }

  void watch_paths(const YAML::Node &n, const std::string &field, Config &cfg) {
    if (n.IsNull()) {
      cfg.watch.paths.clear();
      return;
    }
    if (!n.IsSequence()) {
      problem(field, "expected a list of {path, host}, got " + describe(n));
      return;
    }
    std::vector<WatchPathEntry> entries;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string item = field + "[" + std::to_string(i) + "]";
      const YAML::Node &e = n[i];
      if (!e.IsMap()) {
        problem(item, "expected a mapping {path, host}, got " + describe(e));
        continue;
      }
      WatchPathEntry entry;
      bool have_path = false;
      bool have_host = false;
      for (const auto &kv : e) {
        const std::string key = kv.first.as<std::string>();
        if (key == "path") {
          string(kv.second, item + ".path", entry.path);
          have_path = !entry.path.empty();
          place(item + ".path", entry.path, true);
        } else if (key == "host") {
          string(kv.second, item + ".host", entry.host);
          if (!entry.host.empty() && !find_host(entry.host)) {
            problem(item + ".host", "unknown host \"" + entry.host +
                                        "\" (known: " + host_names() + ")");
          }
          have_host = !entry.host.empty();
        } else {
          problem(item + "." + key, "unknown key");
        }
      }
      if (!have_path) {
        problem(item + ".path", "missing (a file path or glob is required)");
      }
      if (!have_host) {
        problem(item + ".host", "missing (the host the file belongs to)");
      }
      entries.push_back(std::move(entry));
    }
    cfg.watch.paths = std::move(entries);
  }

  void hosts(const YAML::Node &n, Config &cfg) {
    if (n.IsNull()) {
      return;
    }
    if (!n.IsMap()) {
      problem("hosts", "expected a mapping of host names, got " + describe(n));
      return;
    }
    for (const auto &kv : n) {
      const std::string name = kv.first.as<std::string>();
      const std::string field = "hosts." + name;
      if (!find_host(name)) {
        problem(field, "unknown host (known: " + host_names() + ")");
        continue;
      }
      HostSettings &settings = cfg.hosts[name];
      section(kv.second, field,
              {{"enabled",
                [&](auto &v, auto &f) {
                  if (auto s = enumeration(v, f, {"true", "false"})) {
                    settings.enabled = *s == "true";
                  }
                }},
               {"trigger", [&](auto &v, auto &f) {
                  if (auto s = enumeration(v, f, {"mcp", "any"})) {
                    settings.trigger = trigger_from_string(*s);
                  }
                }}});
    }
  }

  std::vector<ConfigProblem> &m_problems;
};

// Checks that need the whole config.
void cross_checks(const Config &cfg, std::vector<ConfigProblem> &problems) {
  // One file, two hosts: the first entry won and the other went unseen.
  for (std::size_t i = 0; i < cfg.watch.paths.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (cfg.watch.paths[i].path == cfg.watch.paths[j].path &&
          cfg.watch.paths[i].host != cfg.watch.paths[j].host) {
        problems.push_back({"watch.paths[" + std::to_string(i) + "]",
                            "\"" + cfg.watch.paths[i].path +
                                "\" is watch.paths[" + std::to_string(j) +
                                "] too, with host " + cfg.watch.paths[j].host +
                                "; a file belongs to one host"});
        break;
      }
    }
  }
  if (cfg.watch.max_delay_ms < cfg.watch.debounce_ms) {
    // Either may be the one written: both values are said (the other may
    // be its default).
    problems.push_back(
        {"watch.max_delay_ms",
         "is " + std::to_string(cfg.watch.max_delay_ms) +
             " but must be at least watch.debounce_ms (" +
             std::to_string(cfg.watch.debounce_ms) +
             "): a change waits no longer than max_delay_ms; raise it, or "
             "lower debounce_ms"});
  }
}

// A key given twice in one mapping (a second `retention:` block at the
// end of the file): YAML readers keep the last, which silently undoes the
// first, so it is an error naming the key.
//
// `budget` counts the nodes visited: an alias of a map inside itself
// (`&a {x: *a, y: *a}`) makes a graph whose walk doubles at each level.
void repeated_keys(const YAML::Node &node, const std::string &field,
                   std::vector<ConfigProblem> &problems, std::size_t &budget,
                   int depth = 0) {
  if (depth > 64 || budget == 0) {
    return;
  }
  --budget;
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto &kv : node) {
      const std::string key =
          kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      const std::string path = field.empty() ? key : field + "." + key;
      if (!seen.insert(key).second) {
        problems.push_back(
            {path, "given twice in one mapping (only one can apply)"});
      }
      repeated_keys(kv.second, path, problems, budget, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      repeated_keys(node[i], field + "[" + std::to_string(i) + "]", problems,
                    budget, depth + 1);
    }
  }
}

} // namespace

tl::expected<Config, ConfigErrors>
parse_config_over(Config cfg, std::string_view text,
                  const std::string &source) {
  ConfigErrors errors;
  errors.source = source;
  YAML::Node root;
  try {
    root = load_yaml(text, Documents::one);
  } catch (const YAML::Exception &e) {
    // YAML does not take tabs for indentation, and libyaml's words for it
    // do not say "tab".
    std::string hint;
    std::size_t start = 0;
    for (int line = 0; line < e.mark.line && start != std::string_view::npos;
         ++line) {
      start = text.find('\n', start);
      start = start == std::string_view::npos ? start : start + 1;
    }
    if (start != std::string_view::npos && e.mark.column >= 0 &&
        start + static_cast<std::size_t>(e.mark.column) < text.size() &&
        text[start + static_cast<std::size_t>(e.mark.column)] == '\t') {
      hint = " (a tab: YAML is indented with spaces)";
    }
    errors.problems.push_back(
        {"(syntax)", "line " + std::to_string(e.mark.line + 1) + ", column " +
                         std::to_string(e.mark.column + 1) + ": " + e.msg +
                         hint});
    errors.applied = std::move(cfg);
    return tl::unexpected<ConfigErrors>(std::move(errors));
  }
  try {
    // A config has hundreds of nodes; the walk stops far past that.
    std::size_t budget = 100'000;
    repeated_keys(root, "", errors.problems, budget);
    Loader(errors.problems).apply(root, cfg);
  } catch (const YAML::Exception &e) {
    errors.problems.push_back({"(structure)", e.what()});
  }
  cross_checks(cfg, errors.problems);
  if (!errors.problems.empty()) {
    errors.applied = std::move(cfg);
    return tl::unexpected<ConfigErrors>(std::move(errors));
  }
  return cfg;
}

HostSettings Config::host(std::string_view name) const {
  auto it = hosts.find(std::string(name));
  return it == hosts.end() ? HostSettings{} : it->second;
}

std::string ConfigErrors::to_string() const {
  std::string out;
  for (const auto &p : problems) {
    out += source + ": " + p.to_string() + "\n";
  }
  return out;
}

} // namespace mcpbk
