// diff: a snapshot against the current file, or against another snapshot
// (SPEC §9).
//
// Args: id, id2?, show_secrets? (default false).
// Result: {"from":{label, kind:"snapshot", snapshot}, "to":{label,
// kind:"snapshot"|"file", snapshot? | path, exists}, "identical":bool,
// "servers":[{name, kind:added|removed|changed, fields:[...]}],
// "summary":"...", "unified":"...", "unified_whole":bool}. Secret values
// are masked in the unified diff unless show_secrets. unified_whole: the
// texts differed too much for a shortest diff within its budget, and every
// line between the first and the last difference is shown removed, then
// added (DiffBudget).

#include <common/fs.hpp>
#include <common/ops/support.hpp>

namespace mcpbk::ops {

json op_diff(Context &context, const json &raw_args) {
  Args args(raw_args);
  const std::int64_t id = args.id();
  const auto id2 = args.integer("id2", 1);
  const bool show_secrets = args.flag("show_secrets");
  args.finish();

  const std::vector<WatchTarget> &targets = known_targets(context);
  const SnapshotRecord from = require_snapshot(context, id);
  const std::string from_bytes = value_or_throw(context.store.content(from));
  const WatchTarget from_target = target_for(from.host, from.path, targets);
  const std::string from_label = snapshot_label(context, from);

  std::string to_bytes;
  std::string to_label;
  json to;
  bool exists = true; // the file compared with, when it is the current one
  WatchTarget to_target = from_target;
  if (id2) {
    const SnapshotRecord other = require_snapshot(context, *id2, "id2");
    to_bytes = value_or_throw(context.store.content(other));
    to_target = target_for(other.host, other.path, targets);
    to_label = snapshot_label(context, other);
    to = {{"label", to_label},
          {"kind", "snapshot"},
          {"snapshot", to_json(other)}};
  } else {
    auto current = read_file(from.path, context.config.store.max_file_bytes);
    if (!current) {
      if (current.error().code != ErrorCode::not_found) {
        throw OpError(current.error().code, current.error().message);
      }
      exists = false;
    } else {
      to_bytes = std::move(*current);
    }
    to_label = shorten_home(from.path, context.env.home()) +
               (exists ? " (current)" : " (missing)");
    to = {{"label", to_label},
          {"kind", "file"},
          {"path", from.path},
          {"exists", exists}};
  }

  const McpView before = view_of(from_bytes, from_target);
  const McpView after = view_of(to_bytes, to_target);
  const SecretWords words = secret_words({&before, &after});
  DiffBudget budget;
  const std::string unified = unified_diff(
      from_bytes, to_bytes, from_label, to_label,
      show_secrets ? DiffSecrets::shown : DiffSecrets::masked, &words, &budget);
  return {{"from",
           {{"label", from_label},
            {"kind", "snapshot"},
            {"snapshot", to_json(from)}}},
          {"to", std::move(to)},
          {"identical", from_bytes == to_bytes},
          {"servers", server_changes_json(semantic_diff(before, after))},
          {"summary", exists ? summarize_change(&before, after)
                             : std::string("missing: the file does not exist "
                                           "now")},
          {"unified", unified},
          {"unified_whole", budget.whole}};
}

} // namespace mcpbk::ops
