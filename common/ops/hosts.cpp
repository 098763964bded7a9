// hosts: every catalog host with its resolved files (SPEC §9).
//
// Result: {"hosts":[{name, display_name, enabled, trigger, files:[{path,
// format, scope, exists, symlink, watched, rescan_only, snapshots}]}]}
// (rescan_only: watched by the periodic rescan alone). Paths with
// snapshots but no longer resolved (a project that went away) are listed
// too, with watched false.

#include <common/fs.hpp>
#include <common/ops/support.hpp>

#include <algorithm>
#include <unordered_set>

namespace mcpbk::ops {

json op_hosts(Context &context, const json &raw_args) {
  Args args(raw_args);
  args.finish();

  const std::vector<WatchTarget> &targets = known_targets(context);
  // Looked up by path: a ~/.claude.json of 5 000 projects has 15 000
  // files, and a scan of them per file held the daemon up for seconds.
  std::unordered_set<std::string> watched;
  // Those only the periodic rescan looks at (the inotify watch limit), or
  // nothing at all when the rescan is off.
  std::unordered_set<std::string> rescan_only;
  if (context.daemon != nullptr) {
    for (const auto &t : context.daemon->watched_targets()) {
      watched.insert(t.path.string());
    }
    for (const auto &p : context.daemon->unreported()) {
      if (context.config.watch.rescan_interval_s == 0) {
        watched.erase(p.string());
      } else {
        rescan_only.insert(p.string());
      }
    }
  }
  const auto is_watched = [&](const std::string &path) {
    return watched.count(path) != 0;
  };
  // Recorded paths by host, to list history of files no longer resolved.
  std::vector<SnapshotRecord> latest_per_path;
  for (const auto &path : value_or_throw(context.store.paths())) {
    if (auto latest = value_or_throw(context.store.latest_for_path(path))) {
      latest_per_path.push_back(std::move(*latest));
    }
  }

  json hosts = json::array();
  for (const auto &def : host_catalog()) {
    const HostSettings settings = context.config.host(def.name);
    json files = json::array();
    std::unordered_set<std::string> listed;
    const auto add = [&](const std::string &path, const char *format,
                         const char *scope) {
      auto info = stat_path(path);
      const bool exists = info && info->has_value();
      files.push_back(
          {{"path", path},
           {"format", format},
           {"scope", scope},
           {"exists", exists},
           {"symlink", exists && (*info)->is_symlink},
           {"watched", is_watched(path)},
           {"rescan_only", rescan_only.count(path) != 0},
           {"snapshots", value_or_throw(context.store.count_for_path(path))}});
      listed.insert(path);
    };
    for (const auto &target : targets) {
      if (target.host == def.name) {
        add(target.path.string(), to_string(target.format),
            to_string(target.scope));
      }
    }
    for (const auto &record : latest_per_path) {
      if (record.host == def.name && listed.count(record.path) == 0) {
        const WatchTarget t = target_for(record.host, record.path, targets);
        add(record.path, to_string(t.format), to_string(t.scope));
      }
    }
    hosts.push_back(
        {{"name", def.name},
         {"display_name", def.display_name},
         {"enabled", settings.enabled},
         {"trigger", to_string(settings.trigger.value_or(def.default_trigger))},
         {"files", std::move(files)}});
  }
  return {{"hosts", std::move(hosts)}};
}

} // namespace mcpbk::ops
