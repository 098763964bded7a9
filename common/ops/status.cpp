// status: daemon and store state (SPEC §9).
//
// Result: {version, pid, instance_id, uptime_s, offline, store:{path, bytes,
// raw_bytes, stored_bytes, snapshots, paths, blobs, events}, watched:[...],
// warnings:[...], ops:[names]}. A watched file whose newest snapshot does not
// parse, or has no servers where an earlier one had, has problem
// ("unparseable", "no_servers"), latest_id and, when there is one,
// last_good_id and last_good_servers. The daemon supplies pid, instance_id,
// uptime_s, watched and warnings; offline they are null or listed from the
// resolved targets.

#include <common/fs.hpp>
#include <common/ops/support.hpp>

namespace mcpbk::ops {

json watched_file_problem(Store &store, const std::string &path) {
  const auto latest = value_or_throw(store.latest_for_path(path));
  if (!latest || latest->good()) {
    return nullptr;
  }
  const auto good = value_or_throw(store.latest_good({}, path));
  if (latest->parsed && !good) {
    return nullptr; // it has never had servers: nothing lost
  }
  json problem = {{"problem", latest->parsed ? "no_servers" : "unparseable"},
                  {"latest_id", latest->id}};
  if (good) {
    problem["last_good_id"] = good->id;
    problem["last_good_servers"] = good->servers.size();
  }
  return problem;
}

json deleted_file_info(Store &store, const std::string &path) {
  if (stat_or_missing(path)) {
    return nullptr; // back already (a restore), before the daemon read it
  }
  const auto latest = value_or_throw(store.latest_for_path(path));
  if (!latest || latest->trigger == SnapshotTrigger::imported) {
    // Another machine's history of a file that is not here: nothing was
    // deleted (the daemon records no deletion of it either).
    return nullptr;
  }
  json info = {{"deleted", true}, {"latest_id", latest->id}};
  if (const auto good = value_or_throw(store.latest_good({}, path))) {
    info["last_good_id"] = good->id;
    info["last_good_servers"] = good->servers.size();
  }
  return info;
}

json op_status(Context &context, const json &raw_args) {
  Args args(raw_args);
  args.finish();

  json result = {{"version", MCPBK_VERSION}, {"pid", nullptr},
                 {"instance_id", nullptr},   {"uptime_s", nullptr},
                 {"watched", json::array()}, {"warnings", json::array()}};
  if (context.daemon != nullptr) {
    const json info = context.daemon->status_info();
    if (info.is_object()) {
      for (const auto &[key, value] : info.items()) {
        result[key] = value;
      }
    }
  } else {
    for (const auto &target : known_targets(context)) {
      auto info = stat_path(target.path);
      result["watched"].push_back({{"path", target.path.string()},
                                   {"host", target.host},
                                   {"exists", info && info->has_value()},
                                   {"state", "offline"}});
    }
  }
  // A watched file whose newest snapshot does not parse, or lost the
  // servers an earlier one had, says so (a broken hand edit, an installer's
  // reset): status is where a user looks first.
  // One that is gone says what its history holds (it was deleted while
  // mcpbkd ran, or before it started).
  for (auto &w : result["watched"]) {
    if (!w.value("exists", false)) {
      const json deleted =
          deleted_file_info(context.store, w.value("path", std::string()));
      if (deleted.is_object()) {
        w.update(deleted);
      }
      continue;
    }
    const json problem =
        watched_file_problem(context.store, w.value("path", std::string()));
    if (problem.is_object()) {
      w.update(problem);
    }
  }
  const StoreStats stats = value_or_throw(context.store.stats());
  result["store"] = {{"path", context.store.file().string()},
                     {"bytes", stats.file_bytes},
                     {"raw_bytes", stats.raw_bytes},
                     {"stored_bytes", stats.stored_bytes},
                     {"snapshots", stats.snapshots},
                     {"paths", stats.paths},
                     {"blobs", stats.blobs},
                     {"events", stats.events}};
  json ops = json::array();
  for (const auto &def : op_table()) {
    ops.push_back(def.name);
  }
  result["ops"] = std::move(ops);
  result["offline"] = context.daemon == nullptr;
  return result;
}

} // namespace mcpbk::ops
