// export / import: portable bundles (docs/BUNDLE.md).
//
// export args: output (absolute path), host?, path?, since?, redact?.
// Result: {"file", "snapshots", "bytes", "redacted"}.
// import args: file (absolute path), on_conflict? (skip|rename|fail),
// dry_run?, map_home?, name? (what to call the file in the reply and the
// event log). Result: {"file", "created", "skipped", "renamed",
// "outside_home" (of those imported, how many keep a path under the source
// machine's home, when that is not this one's and map_home was not given),
// "dry_run", "redacted", "source_machine", "source_home", "created_at"}.

#include <common/ops/support.hpp>

#include <common/bundle.hpp>
#include <common/fs.hpp>

namespace mcpbk::ops {

json op_export(Context &context, const json &raw_args) {
  Args args(raw_args);
  const auto output_text = args.string("output");
  if (!output_text && !args.has("output")) {
    args.error("output", "required: the bundle file to write");
  }
  const auto output = output_text
                          ? client_path(context, args, "output", *output_text)
                          : std::nullopt;
  if (output) {
    if (const auto why = in_state_dir(context, *output)) {
      args.error("output", *why);
    }
    // /proc/self/fd/1 is the daemon's own log; a device is no file either.
    if (output->string().starts_with("/proc/") ||
        output->string().starts_with("/dev/")) {
      args.error("output", output->string() +
                               " is not a place for a file; a bundle is "
                               "written to a file");
    }
    // A bundle written over a watched file replaces that host's config.
    std::error_code ec;
    const auto real = std::filesystem::weakly_canonical(*output, ec);
    for (const auto &t : known_targets(context)) {
      std::error_code ec_known;
      if (t.path == *output ||
          (!ec && std::filesystem::weakly_canonical(t.path, ec_known) == real &&
           !ec_known)) {
        args.error("output", output->string() + " is a watched " + t.host +
                                 " config; the bundle would replace it");
        break;
      }
    }
  }
  ExportOptions options;
  options.filter.host = args.string("host");
  check_host(args, "host", options.filter.host);
  if (const auto p = args.string("path")) {
    if (const auto path = watched_path(context, args, "path", *p)) {
      options.filter.path = path->string();
    }
  }
  options.filter.since = args.time("since");
  const bool redact = args.flag("redact");
  options.redact =
      redact ? ExportOptions::Redact::yes : ExportOptions::Redact::no;
  options.progress = context.progress;
  args.finish();

  {
    // A filter that matches nothing (a mistyped --path) wrote an empty
    // bundle over the file named, which may have been the only backup.
    ListFilter any = options.filter;
    any.limit = 1;
    if (value_or_throw(context.store.list(any)).empty()) {
      throw OpError(ErrorCode::not_found,
                    "no snapshots match; nothing was written to " +
                        output->string());
    }
  }
  const auto result = value_or_throw(
      export_bundle(context.store, *output, options, context.env));
  json left_out = json::array();
  for (const auto &l : result.left_out) {
    left_out.push_back({{"id", l.id}, {"path", l.path}, {"why", l.why}});
  }
  return {{"file", output->string()},
          {"snapshots", result.snapshots},
          {"bytes", result.bytes},
          {"redacted", redact},
          {"left_out", std::move(left_out)}};
}

namespace {

json import_result_json(const ImportResult &result, const std::string &file,
                        bool dry_run) {
  return {{"file", file},
          {"created", result.created},
          {"skipped", result.skipped},
          {"conflicts", result.conflicts},
          {"renamed", result.renamed},
          {"outside_home", result.outside_home},
          {"dry_run", dry_run},
          {"redacted", result.header.redacted},
          {"source_machine", result.header.source_machine},
          {"source_home", result.header.source_home},
          {"source_version", result.header.mcpbk_version},
          {"created_at", format_iso8601(result.header.created_at)}};
}

} // namespace

json op_import(Context &context, const json &raw_args) {
  Args args(raw_args);
  const auto file_text = args.string("file");
  if (!file_text && !args.has("file")) {
    args.error("file", "required: the bundle file to read");
  }
  const auto file =
      file_text ? client_path(context, args, "file", *file_text) : std::nullopt;
  // What the bundle is called in replies and the event log when the client
  // hands over a pipe it read (/proc/PID/fd/N means nothing later).
  const std::string name =
      args.string("name").value_or(file ? file->string() : std::string());
  ImportOptions options;
  if (const auto strategy = args.string("on_conflict")) {
    if (const auto parsed = on_conflict_from_string(*strategy)) {
      options.on_conflict = *parsed;
    } else {
      args.error("on_conflict", "expected skip, rename or fail");
    }
  }
  const bool dry_run = args.flag("dry_run");
  options.dry_run =
      dry_run ? ImportOptions::DryRun::yes : ImportOptions::DryRun::no;
  options.map_home = args.flag("map_home") ? ImportOptions::MapHome::yes
                                           : ImportOptions::MapHome::no;
  options.max_content_bytes = context.config.store.max_file_bytes;
  options.progress = context.progress;
  args.finish();

  auto imported = import_bundle(context.store, *file, options, context.env);
  if (!imported && name != file->string()) {
    std::string message = imported.error().message;
    for (std::size_t at = 0;
         (at = message.find(file->string(), at)) != std::string::npos;
         at += name.size()) {
      message.replace(at, file->string().size(), name);
    }
    throw OpError(imported.error().code, message);
  }
  const auto result = value_or_throw(std::move(imported));
  json reply = import_result_json(result, name, dry_run);
  if (!dry_run && result.created + result.renamed > 0) {
    // In the event log, where a history that grew from elsewhere shows.
    auto event = context.store.add_event(
        {Severity::info, "imported", name,
         "imported " + std::to_string(result.created + result.renamed) +
             " snapshot" + (result.created + result.renamed == 1 ? "" : "s") +
             " from " + shorten_home(name, context.env.home()) + " (made on " +
             (result.header.source_machine.empty()
                  ? std::string("an unnamed machine")
                  : result.header.source_machine) +
             ", " + std::to_string(result.skipped - result.conflicts) +
             " already here" +
             (result.conflicts > 0
                  ? ", " + std::to_string(result.conflicts) +
                        " left out: another snapshot is at their path and "
                        "time"
                  : "") +
             ")",
         reply.dump(), 0});
    if (event) {
      publish_events(context, {*event});
    }
  }
  return reply;
}

} // namespace mcpbk::ops
