// snapshot: manual snapshots, always recorded, pinned when noted (SPEC §9).
//
// Args: paths? ([absolute or ~ paths]), host?, note?. With paths, each must
// be a known watch target unless host names the host to record it under.
// With only host, every file of that host; with neither, every target.
// Result: {"snapshots":[snapshot...], "skipped":[{path, reason}]}. A named
// path that does not exist is not_found; files missing among a host's or
// all targets are passed over, files that cannot be read are in skipped.

#include <common/fs.hpp>
#include <common/ops/support.hpp>

#include <algorithm>

namespace mcpbk::ops {

json op_snapshot(Context &context, const json &raw_args) {
  Args args(raw_args);
  const auto paths = args.strings("paths");
  const auto host = args.string("host");
  check_host(args, "host", host);
  const auto note = args.string("note");
  const std::vector<WatchTarget> &known = known_targets(context);

  struct Wanted {
    WatchTarget target;
    bool named = false;
  };
  std::vector<Wanted> wanted;
  if (paths) {
    if (paths->empty()) {
      args.error("paths", "must not be empty");
    }
    for (std::size_t i = 0; i < paths->size(); ++i) {
      const std::string field = "paths[" + std::to_string(i) + "]";
      const auto path = watched_path(context, args, field, (*paths)[i]);
      if (!path) {
        continue;
      }
      const auto it =
          std::find_if(known.begin(), known.end(),
                       [&](const WatchTarget &t) { return t.path == *path; });
      if (it != known.end()) {
        wanted.push_back({*it, true});
      } else if (host) {
        wanted.push_back({target_for(*host, path->string(), known), true});
      } else {
        args.error(field, path->string() +
                              " is not a watched file; to snapshot it, "
                              "give its host (`mcpbkctl snapshot PATH "
                              "--host HOST`)");
      }
    }
  } else {
    for (const auto &target : known) {
      if (!host || target.host == *host) {
        wanted.push_back({target, false});
      }
    }
  }
  args.finish();
  // A named file that does not exist fails the request before anything is
  // recorded.
  for (const auto &item : wanted) {
    if (item.named && !value_or_throw(stat_path(item.target.path))) {
      throw OpError(ErrorCode::not_found,
                    item.target.path.string() + ": no such file");
    }
  }

  CaptureRequest request;
  request.trigger = SnapshotTrigger::manual;
  request.always = true;
  request.note = note;
  request.pinned = note.has_value();
  json snapshots = json::array();
  json skipped = json::array();
  for (const auto &[target, named] : wanted) {
    const CaptureOutcome outcome = value_or_throw(
        capture_file(context.store, target, request, context.config));
    publish_events(context, outcome.events);
    if (outcome.snapshot) {
      publish_snapshot(context, *outcome.snapshot);
      snapshots.push_back(to_json(*outcome.snapshot));
      continue;
    }
    if (named && outcome.kind == CaptureOutcome::Kind::missing) {
      throw OpError(ErrorCode::not_found,
                    target.path.string() + ": no such file");
    }
    if (outcome.kind == CaptureOutcome::Kind::missing) {
      // A host's file that does not exist here is not worth a mention.
      continue;
    }
    const std::string reason = outcome.skip_message.empty()
                                   ? to_string(outcome.kind)
                                   : outcome.skip_message;
    skipped.push_back({{"path", target.path.string()}, {"reason", reason}});
  }
  if (snapshots.empty() && skipped.empty() && !paths) {
    throw OpError(ErrorCode::not_found,
                  host ? "none of host " + *host +
                             "'s files exists here (mcpbkctl hosts lists "
                             "where they would be)"
                       : "none of the watched files exists here");
  }
  return {{"snapshots", std::move(snapshots)}, {"skipped", std::move(skipped)}};
}

} // namespace mcpbk::ops
