// restore: write a snapshot back atomically (SPEC §9).
//
// Args: id | last_good:true with host? and/or path?; to? (another path);
// dry_run?; only_mcp?; show_secrets? (for the diff); expect_current_sha256?
// (a preview's current_sha256) or expect_missing? (the preview found no
// file): refused with conflict when the file no longer is so; diff?
// (default true: false leaves out `unified`, the masked text diff of both
// whole files, for clients that do not show it).
// Steps: verify the blob's hash; compute the new bytes (only_mcp: the current
// file with its server maps replaced, refused when the current file does not
// parse); with dry_run return the diff and change nothing; else snapshot the
// current content (trigger pre-restore) when the store does not have it,
// write atomically (through a symlink, keeping the mode, else the recorded
// mode), record the result (trigger restore) and tell the daemon.
// Result: {restored_to, restored_from:{snapshot}, current_exists,
// current_sha256? (of the file read before the restore), snapshot:{the restore
// snapshot}, pre_restore_id? (the pre-restore snapshot, when one was
// taken), previous_id? (the snapshot already holding the replaced content),
// bytes, changed, summary, servers, unified?, unified_whole? (as in diff),
// warning?}. When the file already holds the new bytes (changed:false)
// nothing is written or recorded and the reply has neither snapshot nor
// pre_restore_id; with dry_run:
// {dry_run:true, restored_to, restored_from, current_exists,
// current_sha256?, changed, bytes, summary, servers, unified?,
// unified_whole?, warning?, beyond_mcp?}. unified and unified_whole are
// there unless diff:false. beyond_mcp (a whole restore over an existing
// file whose server locations are known, when both parse): whether it
// changes anything outside the server maps, which --only-mcp would keep.

#include <common/atomic_file.hpp>
#include <common/beside.hpp>
#include <common/fs.hpp>
#include <common/hash.hpp>
#include <common/ops/support.hpp>

#include <algorithm>
#include <set>
#include <sstream>

#include <unistd.h>

namespace mcpbk::ops {

namespace {

// From this size the current file is hashed beside the restore's other work.
constexpr std::size_t k_parallel_hash_bytes = 256 * 1024;

SnapshotRecord pick_snapshot(Context &context, Args &args) {
  const bool last_good = args.flag("last_good");
  if (!last_good) {
    const std::int64_t id = args.id();
    args.finish();
    return require_snapshot(context, id);
  }
  if (args.has("id")) {
    args.error("id", "give either id or last_good, not both");
  }
  args.integer("id");
  auto host = args.string("host");
  check_host(args, "host", host);
  std::optional<std::string> path;
  if (auto text = args.string("path")) {
    if (auto normal = watched_path(context, args, "path", *text)) {
      path = normal->string();
    }
  }
  if (!host && !path && !args.has("host") && !args.has("path")) {
    args.error("last_good", "needs host or path");
  }
  args.finish();
  if (host && !path) {
    // A host with several files (Claude Code's ~/.claude.json and each
    // project's .mcp.json): the newest good snapshot of any of them may be
    // of another file than the one that broke. Files watched here come
    // first: imported histories of another machine's files do not count
    // while one of this machine's has a good snapshot.
    auto paths = value_or_throw(context.store.good_paths(*host));
    const std::vector<WatchTarget> &known = known_targets(context);
    std::vector<std::string> watched;
    for (const auto &p : paths) {
      if (std::any_of(known.begin(), known.end(),
                      [&](const WatchTarget &t) { return t.path == p; })) {
        watched.push_back(p);
      }
    }
    if (!watched.empty()) {
      paths = std::move(watched);
    }
    if (paths.size() == 1) {
      path = paths.front();
    } else if (paths.size() > 1) {
      constexpr std::size_t k_named = 8;
      std::string names;
      for (std::size_t i = 0; i < paths.size() && i < k_named; ++i) {
        names +=
            (i == 0 ? "" : ", ") + shorten_home(paths[i], context.env.home());
      }
      if (paths.size() > k_named) {
        names += " and " + std::to_string(paths.size() - k_named) + " more";
      }
      const std::string message = "host " + *host + " has good snapshots of " +
                                  std::to_string(paths.size()) + " files (" +
                                  names +
                                  "): give the path of the one to restore";
      throw OpError(ErrorCode::bad_request, message,
                    {{field_name("path"), message}});
    }
  }
  auto found = value_or_throw(context.store.latest_good(host, path));
  if (!found) {
    throw OpError(ErrorCode::not_found,
                  "no good snapshot (parseable, with MCP servers) for " +
                      (path ? *path : "host " + *host));
  }
  return std::move(*found);
}

} // namespace

json op_restore(Context &context, const json &raw_args) {
  Args args(raw_args);
  std::optional<std::filesystem::path> to;
  if (auto text = args.string("to")) {
    to = client_path(context, args, "to", *text);
  }
  const bool dry_run = args.flag("dry_run");
  const bool only_mcp = args.flag("only_mcp");
  const bool show_secrets = args.flag("show_secrets");
  // Absent means true (the reply had the diff before the argument existed).
  const bool has_diff = args.has("diff");
  const bool diff_flag = args.flag("diff");
  const bool with_diff = !has_diff || diff_flag;
  // From the preview the user answered: the file must still hold what the
  // preview compared (its current_sha256), or still be missing.
  const std::optional<std::string> expect_current =
      args.string("expect_current_sha256");
  const bool expect_missing = args.flag("expect_missing");
  const SnapshotRecord source = pick_snapshot(context, args);

  // Only looked up here, before anything that could change the daemon's
  // targets.
  const std::vector<WatchTarget> &known = known_targets(context);
  const WatchTarget source_target = target_for(source.host, source.path, known);
  const std::filesystem::path dest =
      to ? *to : std::filesystem::path(source.path);
  WatchTarget target = target_for(source.host, dest.string(), known);
  if (const auto why = in_state_dir(context, dest)) {
    throw OpError(ErrorCode::bad_request, *why,
                  {{field_name(to ? "to" : "id"), *why}});
  }
  if (!to && source.trigger == SnapshotTrigger::imported) {
    // A snapshot imported from another machine's home without --map-home
    // keeps that home's path: restoring it there would make a home that
    // is not this machine's.
    const std::filesystem::path home = context.env.home();
    const auto inside = dest.lexically_relative(home);
    std::error_code ec;
    if ((inside.empty() || *inside.begin() == "..") &&
        !std::filesystem::exists(dest.parent_path(), ec)) {
      const std::string message =
          "snapshot #" + std::to_string(source.id) +
          " was imported with its path on another machine, " + source.path +
          ", whose directory does not exist here: restore it with --to "
          "PATH (or import the bundle again with --map-home)";
      throw OpError(ErrorCode::bad_request, message,
                    {{field_name("to"), message}});
    }
  }
  // With --to, the host file the new place is, directly or through a
  // symbolic link (a dotfile linked elsewhere, a link made for the restore).
  std::optional<WatchTarget> known_dest;
  if (to && target.scope != Scope::custom) {
    known_dest = target;
  } else if (to) {
    std::error_code ec;
    const auto real = std::filesystem::weakly_canonical(dest, ec);
    for (const auto &t : known) {
      std::error_code ec_known;
      if (!ec && t.scope != Scope::custom &&
          std::filesystem::weakly_canonical(t.path, ec_known) == real &&
          !ec_known) {
        known_dest = t;
        break;
      }
    }
  }
  const auto refuse_format = [&](const std::string &what) {
    // Another host's file in another format: the snapshot written there,
    // or its servers merged in, would not be read by that host.
    const std::string message =
        "snapshot #" + std::to_string(source.id) + " is " + what + " (" +
        source.host + "), and " + shorten_home(dest, context.env.home()) +
        " is " + to_string(known_dest->format) + " (" + known_dest->host +
        "): restored there it would not parse; give --to a path of its own";
    throw OpError(ErrorCode::bad_request, message,
                  {{field_name("to"), message}});
  };
  const auto family = [](Format format) {
    return format == Format::jsonc ? Format::json : format;
  };
  if (known_dest &&
      family(known_dest->format) != family(source_target.format)) {
    refuse_format(to_string(source_target.format));
  }
  if (to && target.scope == Scope::custom) {
    // A new place: read it the way the snapshot's own file is read.
    target.format = source_target.format;
    target.mcp_locations = source_target.mcp_locations;
  }
  // --only-mcp replaces the server maps the snapshot's host keeps, in a
  // file whose host keeps them in the same places: a Cursor snapshot into
  // ~/.claude.json replaces its top-level map and leaves the projects' be.
  // Into a host that keeps them elsewhere (Zed's context_servers, VS Code's
  // servers), the snapshot has none of them: every server there would go.
  std::string only_mcp_locations = restore_locations_of(target);
  if (only_mcp) {
    const auto words = [](const std::string &text) {
      std::set<std::string> out;
      std::istringstream in(text);
      for (std::string word; in >> word;) {
        out.insert(word);
      }
      return out;
    };
    const std::string from = restore_locations_of(source_target);
    const std::set<std::string> from_set = words(from);
    const std::set<std::string> to_set = words(only_mcp_locations);
    if (from_set != to_set) {
      if (!std::includes(to_set.begin(), to_set.end(), from_set.begin(),
                         from_set.end())) {
        const std::string message =
            "--only-mcp cannot move the servers of snapshot #" +
            std::to_string(source.id) + " (" + source.host + ": " +
            locations_of(source_target) + ") into " +
            shorten_home(dest, context.env.home()) + " (" + target.host + ": " +
            locations_of(target) + "): " +
            (source.host == target.host ? std::string("the two files")
                                        : std::string("the two hosts")) +
            " keep their servers in different places; "
            "restore the whole snapshot to a path of its own with --to and "
            "copy them over by hand";
        throw OpError(ErrorCode::bad_request, message,
                      {{field_name("only_mcp"), message}});
      }
      only_mcp_locations = from;
    }
  }

  // The file is replaced only while it is unchanged since before it was
  // read (AtomicFileWriter::commit_if_unchanged): a save by its host
  // meanwhile would be lost without a record. --only-mcp keeps the rest of
  // what is read here; a whole restore records what it replaces below, and
  // looks again there.
  std::optional<FileInfo> seen = stat_or_missing(dest);
  if (seen && !seen->is_regular) {
    // A directory, a socket, a FIFO or a device: no config file to replace
    // ("cannot read ...: No such device or address" said nothing of it).
    const std::string message =
        shorten_home(dest, context.env.home()) + " is " +
        (seen->is_directory ? "a directory" : "not a regular file") +
        "; a snapshot is restored to a file";
    throw OpError(ErrorCode::bad_request, message,
                  {{field_name(to ? "to" : "id"), message}});
  }
  std::optional<std::string> current;
  if (auto read = read_file(dest, context.config.store.max_file_bytes)) {
    current = std::move(*read);
  } else if (read.error().code == ErrorCode::too_large) {
    // Its content could not be kept: replacing it would lose it.
    throw OpError(
        ErrorCode::too_large,
        "cannot keep the file to restore over: " + read.error().message +
            " (store.max_file_bytes); move it aside (or raise "
            "store.max_file_bytes), then restore again");
  } else if (read.error().code != ErrorCode::not_found) {
    throw OpError(read.error().code, "cannot read the file to restore over: " +
                                         read.error().message);
  }

  const auto changed_since_preview = [&] {
    return OpError(ErrorCode::conflict,
                   shorten_home(dest, context.env.home()) +
                       " changed since the preview: nothing was restored; "
                       "restore again to see what it would replace now");
  };
  if ((expect_missing && current) || (expect_current && !current)) {
    throw changed_since_preview();
  }
  // On the helper thread (common/beside.hpp), while this one reads the
  // snapshot, writes the temp file and checks the snapshot's hash: the hash
  // of a large current file (2 MB take 1.4 ms here; a small one is hashed
  // below, where handing it over would cost more), then whether the host
  // is running, read from /proc (for each process, the link to its
  // executable, and the name of those that have one: 0.3-0.5 ms here, more
  // on a desktop with hundreds of processes). bench/RESULTS.md item 75.
  std::optional<Beside<std::string>> current_sha_job;
  if (current && current->size() >= k_parallel_hash_bytes) {
    current_sha_job.emplace([&current] { return sha256_hex(*current); });
  }
  Beside<std::optional<std::string>> running_job(
      [host = target.host] { return running_host_warning(host); });

  // Read without the hash check, which runs while the disk writes the temp
  // file below (a 2 MB hash is 1.5 ms): nothing is replaced or recorded
  // before it. --only-mcp merges the snapshot into the file: checked first.
  std::string snapshot_bytes =
      only_mcp ? value_or_throw(context.store.content(source))
               : value_or_throw(
                     context.store.read_blob(source.sha256, Store::Verify::no));
  // JSONC that uses what JSON lacks (comments, trailing commas), into a
  // JSON file: for --only-mcp, only where the servers moved do (below).
  const bool jsonc_into_json = known_dest &&
                               known_dest->format == Format::json &&
                               source_target.format == Format::jsonc;
  const auto strict = [](std::string_view bytes) {
    return extract_mcp(bytes, Format::json, "").parsed;
  };
  // An emptied file (what a crash or a failed write leaves) has nothing
  // to keep: as for a missing one, the snapshot is written whole (merged
  // in, its servers lost their comments and layout).
  const bool blank =
      current && current->find_first_not_of(" \t\r\n") == std::string::npos;
  std::string new_bytes;
  bool rewritten_whole = false; // --only-mcp could not keep the file's text
  const bool new_bytes_are_snapshot = !only_mcp || !current || blank;
  if (jsonc_into_json && new_bytes_are_snapshot && !strict(snapshot_bytes)) {
    refuse_format("jsonc with comments or trailing commas");
  }
  if (new_bytes_are_snapshot) {
    new_bytes = std::move(snapshot_bytes);
  } else {
    // Read as JSONC when the snapshot is (a superset of the JSON file).
    auto replaced = replace_mcp(*current, snapshot_bytes,
                                jsonc_into_json ? Format::jsonc : target.format,
                                only_mcp_locations, &rewritten_whole);
    if (!replaced) {
      throw OpError(replaced.error().code,
                    "cannot restore only the MCP servers: " +
                        replaced.error().message);
    }
    new_bytes = std::move(*replaced);
    if (jsonc_into_json && !strict(new_bytes)) {
      refuse_format("jsonc with comments or trailing commas in its servers");
    }
  }

  const std::string_view old_bytes =
      current ? std::string_view(*current) : std::string_view();
  const bool changed = !current || *current != new_bytes;
  // The new content goes to a temp file first (invisible until the rename
  // below), and the disk starts writing it: the hash checks, the summary,
  // the diff and the running-host check below run while it does.
  std::optional<AtomicFileWriter> writer;
  if (!dry_run && changed) {
    // A file that is gone gets its last known mode (its newest snapshot's,
    // which a chmod after it updates: Store::set_mode), else the restored
    // snapshot's. An existing file keeps its own.
    std::uint32_t new_mode = source.mode;
    if (!current) {
      if (const auto newest = value_or_throw(
              context.store.latest_brief_for_path(dest.string()));
          newest && newest->mode != 0) {
        new_mode = newest->mode;
      }
    }
    // A new machine may not have the host's directory yet, and a dotfiles
    // directory may be gone from behind its link: made first.
    writer.emplace(value_or_throw(AtomicFileWriter::open(
        dest,
        new_mode != 0 ? std::optional<std::uint32_t>(new_mode) : std::nullopt,
        AtomicFileWriter::MakeDirs::yes)));
    value_or_throw(writer->write(new_bytes));
    writer->start_flush();
  }
  if (!only_mcp) {
    value_or_throw(Store::check_blob(source.sha256, new_bytes));
  }
  const std::string home_dest = shorten_home(dest, context.env.home());
  const std::string before_label =
      home_dest + (current ? " (current)" : " (missing)");
  const std::string after_label =
      home_dest + " (restored from #" + std::to_string(source.id) + ")";
  // The daemon has usually just recorded (and parsed) the current content,
  // and the snapshot's view may be cached too: parsing a 2 MB file is most
  // of a restore.
  // Each content is hashed once: the snapshot's hash is known, and the
  // captures below reuse these (a 2 MB hash is 1.5 ms).
  const std::string old_sha =
      current_sha_job ? current_sha_job->get() : sha256_hex(old_bytes);
  if (expect_current && *expect_current != old_sha) {
    // The temp file is removed with its writer.
    throw changed_since_preview();
  }
  const std::string new_sha =
      new_bytes_are_snapshot ? source.sha256 : sha256_hex(new_bytes);
  const McpView before = view_for(old_bytes, old_sha, target);
  const McpView after = view_for(new_bytes, new_sha, target);

  json result = {
      {"restored_to", dest.string()},
      {"restored_from", to_json(source)},
      {"changed", changed},
      {"bytes", new_bytes.size()},
      {"summary", summarize_change(&before, after)},
      {"servers", server_changes_json(semantic_diff(before, after))}};
  result["current_exists"] = current.has_value();
  if (current) {
    result["current_sha256"] = old_sha;
  }
  if (with_diff) {
    const SecretWords words = secret_words({&before, &after});
    DiffBudget budget;
    result["unified"] =
        unified_diff(old_bytes, new_bytes, before_label, after_label,
                     show_secrets ? DiffSecrets::shown : DiffSecrets::masked,
                     &words, &budget);
    result["unified_whole"] = budget.whole;
  }
  std::string warning;
  if (source.redacted) {
    warning = "snapshot #" + std::to_string(source.id) +
              " came from a redacted bundle: its secret values are "
              "placeholders (" +
              std::string(k_redacted) + "); put the real values back";
  }
  if (only_mcp && (!current || blank)) {
    warning += std::string(warning.empty() ? "" : "; ") + home_dest +
               (blank ? " is empty" : " does not exist") +
               ": the whole snapshot is written, not only its servers";
  }
  if (rewritten_whole) {
    warning += std::string(warning.empty() ? "" : "; ") +
               "the servers could not be put in place within the file's own "
               "text, so the whole file is written out again: its values "
               "are kept, its comments and layout are not (the replaced file "
               "stays in the history)";
  }
  if (auto running = running_job.get()) {
    warning += (warning.empty() ? "" : "; ") + *running;
  }
  if (!warning.empty()) {
    result["warning"] = warning;
  }
  if (dry_run) {
    result["dry_run"] = true;
    // A whole restore of a file that holds more than the servers (Claude
    // Code's ~/.claude.json, an editor's settings) also puts back the rest
    // as it was: the preview says when that differs, so that the user can
    // choose --only-mcp instead.
    const std::string locations = restore_locations_of(target);
    if (!only_mcp && current && changed && !locations.empty()) {
      if (const auto beyond = differs_outside_mcp(old_bytes, new_bytes,
                                                  target.format, locations)) {
        result["beyond_mcp"] = *beyond;
      }
    }
    return result;
  }
  result["dry_run"] = false;
  if (!changed) {
    // The file already holds these bytes: nothing is written or recorded
    // (a record would say a restore happened; the history already has
    // this content as the snapshot restored from).
    return result;
  }

  if (current) {
    // Looked at once more: whatever a writer saved meanwhile is what gets
    // replaced, read again. Usually the file is unchanged since before it
    // was read above (the test the rename's condition makes), and those
    // bytes, their hash and view are recorded without reading 2 MB again.
    const std::optional<FileInfo> now = stat_or_missing(dest);
    const bool same = now && unchanged(seen, now);
    if (!only_mcp) {
      seen = now;
    }
    CaptureRequest pre;
    pre.trigger = SnapshotTrigger::pre_restore;
    pre.known_bytes = *current;
    pre.known_sha256 = old_sha;
    pre.view = &before;
    pre.sha256 = old_sha; // capture_bytes(): of *current
    const CaptureOutcome outcome = value_or_throw(
        same ? capture_bytes(context.store, target, *current, now->mode, pre,
                             context.config)
             : capture_file(context.store, target, pre, context.config));
    publish_events(context, outcome.events);
    if (outcome.snapshot) {
      publish_snapshot(context, *outcome.snapshot);
      result["pre_restore_id"] = outcome.snapshot->id;
    } else if (auto latest = value_or_throw(
                   context.store.latest_for_path(target.path.string()))) {
      // The store already has the current content.
      result["previous_id"] = latest->id;
    }
  }
  // The restore's record is made before the file is replaced, in a
  // transaction committed once the replace is durable: its work (risk,
  // compression, retention) runs while the disk writes the temp file, and a
  // replace that fails leaves no record of a restore that did not happen.
  // The restored bytes came from snapshots the store holds durably and are
  // fsynced by then: the record's commit need not wait for the disk.
  const std::uint32_t mode = writer->mode();
  auto record_tx =
      value_or_throw(context.store.transaction(sql::Durability::deferred));
  CaptureRequest record;
  record.trigger = SnapshotTrigger::restore;
  record.always = true;
  record.note = "restored from #" + std::to_string(source.id);
  record.redacted = source.redacted;
  record.view = &after;
  record.sha256 = new_sha;
  if (current) {
    record.known_bytes = *current;
    record.known_sha256 = old_sha;
  }
  CaptureOutcome outcome = value_or_throw(capture_bytes(
      context.store, target, new_bytes, mode, record, context.config));
  if (outcome.snapshot) {
    // In the event log beside the changes the watcher saw, in the record's
    // transaction: kept if the restore is.
    json details = {{"snapshot_id", outcome.snapshot->id},
                    {"restored_from", source.id},
                    {"only_mcp", only_mcp},
                    {"risk", to_string(outcome.snapshot->risk)},
                    {"summary", outcome.snapshot->summary}};
    if (result.contains("pre_restore_id")) {
      details["pre_restore_id"] = result["pre_restore_id"];
    } else if (result.contains("previous_id")) {
      details["previous_id"] = result["previous_id"];
    }
    outcome.events.push_back(value_or_throw(context.store.add_event(
        {Severity::info, "restored", dest.string(),
         std::string(only_mcp && current
                         ? "restored the MCP servers of snapshot #"
                         : "restored snapshot #") +
             std::to_string(source.id) + " to " + home_dest +
             (current ? "" : " (the file was missing)") + ": " +
             outcome.snapshot->summary,
         details.dump(), 0})));
  }
  // Once the rename has replaced the file, the restore has happened: a
  // failure after it (the directory's fsync, the record's commit) is
  // reported as a warning beside the result, not as a failed restore.
  const auto warn = [&](const std::string &text) {
    warning += (warning.empty() ? "" : "; ") + text;
    result["warning"] = warning;
  };
  if (auto committed = writer->commit_if_unchanged(seen); !committed) {
    if (!writer->replaced()) {
      throw OpError(committed.error().code,
                    committed.error().message +
                        (committed.error().code == ErrorCode::conflict
                             ? "; restore again"
                             : ""));
    }
    warn("the file was replaced, but " + committed.error().message +
         ": a crash of the system now could bring the old file back; "
         "restore again to be sure");
  }
  if (const int replaced = writer->release_replaced(); replaced >= 0) {
    context.after_reply.emplace_back([replaced] { ::close(replaced); });
  }
  if (auto recorded = record_tx.commit(); !recorded) {
    warn("the restore could not be recorded in the store (" +
         recorded.error().message + "); the file holds " +
         (new_bytes_are_snapshot ? "the bytes" : "the servers") +
         " of snapshot #" + std::to_string(source.id) +
         ", and the daemon records its content at its next scan");
  } else {
    publish_events(context, outcome.events);
    if (outcome.snapshot) {
      publish_snapshot(context, *outcome.snapshot);
      result["snapshot"] = to_json(*outcome.snapshot);
    }
  }
  if (context.daemon != nullptr) {
    context.daemon->restored(target);
  }
  return result;
}

} // namespace mcpbk::ops
