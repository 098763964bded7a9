#include <common/ops/support.hpp>

#include <common/fs.hpp>
#include <common/mcp.hpp>
#include <common/process.hpp>

#include <algorithm>
#include <sys/stat.h>

namespace mcpbk::ops {

namespace fs = std::filesystem;

std::string field_name(std::string_view name) {
  return "args." + std::string(name);
}

Args::Args(const json &args) : m_args(args) {}

const json *Args::find(std::string_view name) {
  m_known.emplace(name);
  if (!m_args.is_object()) {
    return nullptr;
  }
  const auto it = m_args.find(name);
  if (it == m_args.end()) {
    return nullptr;
  }
  if (it->is_null()) {
    // Not taken as absent: {"dry_run": null} did a real restore.
    error(name, "must not be null (leave it out for its default)");
    return nullptr;
  }
  return &*it;
}

bool Args::has(std::string_view name) const {
  return m_args.is_object() && m_args.contains(name);
}

void Args::error(std::string_view name, std::string message) {
  m_errors.push_back({field_name(name), std::move(message)});
}

std::optional<std::int64_t> Args::integer(std::string_view name,
                                          std::int64_t min) {
  const json *value = find(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_unsigned()) {
    const auto u = value->get<std::uint64_t>();
    if (u >
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      error(name, "out of range");
      return std::nullopt;
    }
  } else if (!value->is_number_integer()) {
    error(name, std::string("expected an integer, got ") + value->type_name());
    return std::nullopt;
  }
  const auto v = value->get<std::int64_t>();
  if (v < min) {
    error(name, "must be at least " + std::to_string(min));
    return std::nullopt;
  }
  return v;
}

std::int64_t Args::id(std::string_view name) {
  if (!has(name)) {
    find(name);
    error(name, "required");
    return 0;
  }
  return integer(name, 1).value_or(0);
}

std::optional<std::string> Args::string(std::string_view name) {
  const json *value = find(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    error(name, std::string("expected a string, got ") + value->type_name());
    return std::nullopt;
  }
  auto text = value->get<std::string>();
  if (text.empty()) {
    error(name, "must not be empty");
    return std::nullopt;
  }
  return text;
}

bool Args::flag(std::string_view name) {
  const json *value = find(name);
  if (value == nullptr) {
    return false;
  }
  if (!value->is_boolean()) {
    error(name, std::string("expected a boolean, got ") + value->type_name());
    return false;
  }
  return value->get<bool>();
}

std::optional<std::vector<std::string>> Args::strings(std::string_view name) {
  const json *value = find(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_array()) {
    error(name, std::string("expected an array of strings, got ") +
                    value->type_name());
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json &item = (*value)[i];
    const std::string item_name =
        std::string(name) + "[" + std::to_string(i) + "]";
    if (!item.is_string()) {
      error(item_name,
            std::string("expected a string, got ") + item.type_name());
      continue;
    }
    if (item.get_ref<const std::string &>().empty()) {
      error(item_name, "must not be empty");
      continue;
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<Micros> Args::time(std::string_view name) {
  const json *value = find(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_unsigned() &&
      value->get<std::uint64_t>() >
          static_cast<std::uint64_t>(
              std::numeric_limits<std::int64_t>::max())) {
    error(name, "out of range"); // it wrapped to a time long past
    return std::nullopt;
  }
  if (value->is_number_integer()) {
    return value->get<std::int64_t>();
  }
  if (!value->is_string()) {
    error(name, std::string("expected an ISO 8601 time or integer "
                            "microseconds, got ") +
                    value->type_name());
    return std::nullopt;
  }
  auto t = parse_iso8601(value->get_ref<const std::string &>());
  if (!t) {
    error(name, "not an ISO 8601 time: \"" + value->get<std::string>() + "\"");
  }
  return t;
}

void Args::finish() {
  if (!m_args.is_null() && !m_args.is_object()) {
    throw OpError(ErrorCode::bad_request, "args must be an object",
                  {{"args", std::string("expected an object, got ") +
                                m_args.type_name()}});
  }
  if (m_args.is_object()) {
    for (const auto &[key, value] : m_args.items()) {
      if (m_known.count(key) == 0) {
        m_errors.push_back({field_name(key), "unknown argument"});
      }
    }
  }
  if (m_errors.empty()) {
    return;
  }
  std::string message = "invalid arguments: ";
  for (std::size_t i = 0; i < m_errors.size(); ++i) {
    message +=
        (i == 0 ? "" : "; ") + m_errors[i].field + ": " + m_errors[i].message;
  }
  throw OpError(ErrorCode::bad_request, std::move(message),
                std::move(m_errors));
}

const std::vector<WatchTarget> &known_targets(Context &context) {
  if (context.targets) {
    return *context.targets;
  }
  if (context.daemon != nullptr) {
    return context.daemon->watched_targets();
  }
  ResolveInput input;
  input.config = &context.config;
  input.env = context.env;
  input.os = context.os;
  input.claude_projects =
      claude_projects_of(context.env, context.config.store.max_file_bytes);
  context.targets =
      std::make_shared<const std::vector<WatchTarget>>(resolve_targets(input));
  return *context.targets;
}

std::optional<fs::path> client_path(Context &context, Args &args,
                                    std::string_view field,
                                    const std::string &text) {
  if (text.find('\0') != std::string::npos) {
    // The system would take the path as ending there: another file than
    // the one named (and a snapshot filed under a path no export keeps).
    args.error(field, "must not contain a NUL byte");
    return std::nullopt;
  }
  const fs::path expanded = expand_home(text, context.env);
  if (!expanded.is_absolute()) {
    args.error(field,
               "expected an absolute path (or ~/...), got \"" + text + "\"");
    return std::nullopt;
  }
  return normalize_path(expanded);
}

std::optional<std::string> in_state_dir(Context &context,
                                        const fs::path &path) {
  const fs::path dir = context.store.file().parent_path();
  struct stat state {};
  if (::stat(dir.c_str(), &state) != 0) {
    return std::nullopt;
  }
  // The directory the name is in, and the one a link there leads to, also
  // a link to a file not made yet (weakly_canonical() stops at such a
  // link).
  const fs::path target = link_chain(path).back();
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(target, ec);
  for (const fs::path &parent :
       {path.parent_path(), target.parent_path(),
        ec ? target.parent_path() : real.parent_path()}) {
    struct stat info {};
    if (::stat(parent.c_str(), &info) == 0 && info.st_dev == state.st_dev &&
        info.st_ino == state.st_ino) {
      return path.string() + " is in mcpbk's state directory (" + dir.string() +
             "), beside its store: writing there could replace the history "
             "or the daemon's lock; choose another place";
    }
  }
  return std::nullopt;
}

std::optional<fs::path> watched_path(Context &context, Args &args,
                                     std::string_view field,
                                     const std::string &text) {
  auto path = client_path(context, args, field, text);
  if (!path) {
    return path;
  }
  const std::vector<WatchTarget> &known = known_targets(context);
  // A path that is not UTF-8 reaches the daemon with each bad byte made
  // U+FFFD (JSON cannot carry it): the watched path that reads the same
  // once sent that way is the one meant. When several read the same
  // (names that differ only in their bad bytes, or one written with a
  // real U+FFFD), none is chosen: a restore would write the wrong file.
  constexpr std::string_view k_replacement = "\xEF\xBF\xBD";
  if (path->string().find(k_replacement) != std::string::npos) {
    std::vector<fs::path> alike;
    for (const auto &target : known) {
      const json sent = json::parse(
          json(target.path.string())
              .dump(-1, ' ', false, json::error_handler_t::replace));
      if (sent.get_ref<const std::string &>() == path->string()) {
        alike.push_back(target.path);
      }
    }
    if (alike.size() == 1) {
      return alike.front();
    }
    if (alike.size() > 1) {
      args.error(field, std::to_string(alike.size()) +
                            " watched files have names that read \"" + text +
                            "\" once their bytes that are not UTF-8 are "
                            "replaced; the protocol cannot tell which is "
                            "meant (stop mcpbkd: mcpbkctl then uses the "
                            "exact name)");
      return std::nullopt;
    }
  }
  const auto is_path = [&](const WatchTarget &t) {
    return t.path == *path;
  };
  if (std::any_of(known.begin(), known.end(), is_path)) {
    return path;
  }
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(*path, ec);
  if (ec) {
    return path;
  }
  for (const auto &target : known) {
    // Only a watched path with a link on its way can lead elsewhere.
    const fs::path target_real = fs::weakly_canonical(target.path, ec);
    if (!ec && target_real == real && target_real != target.path) {
      return target.path;
    }
  }
  return path;
}

SnapshotRecord require_snapshot(Context &context, std::int64_t id,
                                std::string_view field) {
  auto found = value_or_throw(context.store.get(id));
  if (!found) {
    // Never one, or removed by retention since (pinning keeps one).
    const std::string message =
        "no snapshot with id " + std::to_string(id) +
        " (mcpbkctl list shows the ids there are; retention removes old ones "
        "unless pinned)";
    throw OpError(ErrorCode::not_found, message,
                  {{field_name(field), message}});
  }
  return std::move(*found);
}

void check_host(Args &args, std::string_view field,
                const std::optional<std::string> &host) {
  if (host && find_host(*host) == nullptr) {
    std::string names;
    for (const auto &def : host_catalog()) {
      names += names.empty() ? "" : ", ";
      names += def.name;
    }
    args.error(field, "unknown host \"" + *host + "\" (known: " + names + ")");
  }
}

McpView view_of(std::string_view bytes, const WatchTarget &target) {
  return extract_mcp(bytes, target.format, locations_of(target));
}

json servers_json(const McpView &view, bool show_secrets) {
  json servers = json::object();
  // A secret value is masked where it is repeated too (`--api-key=` + the
  // value of API_KEY in args, a URL's query), as a masked diff masks it.
  const SecretWords words =
      show_secrets ? SecretWords{} : secret_words({&view});
  for (const auto &[name, entry] : view.servers) {
    const std::string text =
        show_secrets ? entry
                     : mask_secret_words(mask_secrets_in_json(entry),
                                         MaskStyle::hint, words);
    json parsed = json::parse(text, nullptr, false);
    servers[name] = parsed.is_discarded() ? json(text) : std::move(parsed);
  }
  return servers;
}

json server_changes_json(const std::vector<ServerChange> &changes) {
  json out = json::array();
  for (const auto &change : changes) {
    const char *kind = change.kind == ServerChange::Kind::added     ? "added"
                       : change.kind == ServerChange::Kind::removed ? "removed"
                                                                    : "changed";
    out.push_back(
        {{"name", change.name}, {"kind", kind}, {"fields", change.fields}});
  }
  return out;
}

void publish_snapshot(Context &context, const SnapshotRecord &snapshot) {
  if (context.daemon != nullptr) {
    context.daemon->publish({{"v", k_protocol_version},
                             {"event", "snapshot"},
                             {"data", to_json(snapshot)}});
  }
}

void publish_events(Context &context, const std::vector<EventRecord> &events) {
  if (context.daemon == nullptr) {
    return;
  }
  for (const auto &event : events) {
    context.daemon->publish({{"v", k_protocol_version},
                             {"event", "event"},
                             {"data", to_json(event)}});
  }
}

void require_daemon(const Context &context, std::string_view op) {
  if (context.daemon == nullptr) {
    throw OpError(ErrorCode::bad_request, "the daemon is not running (" +
                                              std::string(op) + " needs it)");
  }
}

std::string snapshot_label(const Context &context,
                           const SnapshotRecord &snapshot) {
  return "#" + std::to_string(snapshot.id) + " " +
         shorten_home(snapshot.path, context.env.home()) + " @ " +
         format_iso8601(snapshot.taken_at);
}

std::optional<std::string> running_host_warning(std::string_view host) {
  const HostDef *def = find_host(host);
  if (def == nullptr || def->process_names.empty()) {
    return std::nullopt;
  }
  const auto running = running_processes(def->process_names);
  if (running.empty()) {
    return std::nullopt;
  }
  std::string names;
  for (const auto &name : running) {
    names += names.empty() ? "" : ", ";
    names += name;
  }
  return std::string(def->display_name) + " appears to be running (" + names +
         "); it may overwrite the restored file; quit it and restore again "
         "if the change does not stick";
}

} // namespace mcpbk::ops
