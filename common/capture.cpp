#include <common/capture.hpp>

#include <common/fs.hpp>
#include <common/hash.hpp>
#include <common/mcp.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <sys/stat.h>

namespace mcpbk {

namespace fs = std::filesystem;
using nlohmann::json;

const char *to_string(CaptureOutcome::Kind kind) {
  switch (kind) {
  case CaptureOutcome::Kind::recorded:
    return "recorded";
  case CaptureOutcome::Kind::unchanged:
    return "unchanged";
  case CaptureOutcome::Kind::mcp_unchanged:
    return "mcp_unchanged";
  case CaptureOutcome::Kind::missing:
    return "missing";
  case CaptureOutcome::Kind::skipped:
    return "skipped";
  }
  return "?";
}

std::string companions_of(std::string_view bytes, const WatchTarget &target) {
  const std::string own = locations_of(target);
  const std::string all = restore_locations_of(target);
  if (all.size() <= own.size() + 1) {
    return {};
  }
  const McpView extra =
      extract_mcp(bytes, target.format, all.substr(own.size() + 1));
  std::string text;
  for (const auto &[name, entry] : extra.servers) {
    text += name + '=' + entry + '\n';
  }
  return text;
}

std::string mcp_digest_of(const McpView &view, std::string_view bytes,
                          const WatchTarget &target) {
  std::string digest = mcp_digest_of(view);
  if (view.parsed) {
    // Unchanged for a file without them: digests are stored.
    if (const std::string companions = companions_of(bytes, target);
        !companions.empty()) {
      digest = sha256_hex(digest + "\ncompanions\n" + companions);
    }
  }
  return digest;
}

std::string mcp_digest_of(const McpView &view) {
  if (!view.parsed) {
    return "unparsed";
  }
  std::string canonical;
  for (const auto &[name, entry] : view.servers) {
    // The name as a JSON string, as json(name).dump() writes it (digests
    // are stored: the bytes must not change); names that need no escaping
    // skip building a json value for it.
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
      return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
      canonical += '"';
      canonical += name;
      canonical += '"';
    } else {
      canonical += json(name).dump();
    }
    canonical += '=';
    canonical += entry;
    canonical += '\n';
  }
  return sha256_hex(canonical);
}

namespace {

// The server maps of recently recorded contents, so that rating the next
// change of a file does not parse its previous snapshot again (for a 2 MB
// ~/.claude.json that parse is most of a capture). A view depends only on
// the bytes (by hash), the format and the locations. Least recently used
// first out; a miss only costs the parse. Per thread, like the Store.
class ViewCache {
public:
  const McpView *find(const std::string &key) {
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
      if (it->first == key) {
        m_entries.splice(m_entries.begin(), m_entries, it);
        return &m_entries.front().second;
      }
    }
    return nullptr;
  }
  void put(std::string key, McpView view) {
    if (find(key)) {
      return;
    }
    m_entries.emplace_front(std::move(key), std::move(view));
    if (m_entries.size() > k_capacity) {
      m_entries.pop_back();
    }
  }

private:
  static constexpr std::size_t k_capacity = 32;
  std::list<std::pair<std::string, McpView>> m_entries;
};

thread_local ViewCache t_views;

std::string view_key(std::string_view sha256, Format format,
                     std::string_view locations) {
  std::string key(sha256);
  key += '\0';
  key += std::to_string(static_cast<int>(format));
  key += '\0';
  key += locations;
  return key;
}

Severity severity_of(Risk risk) {
  switch (risk) {
  case Risk::critical:
    return Severity::critical;
  case Risk::high:
    return Severity::error;
  case Risk::medium:
    return Severity::warning;
  case Risk::low:
    break;
  }
  return Severity::info;
}

// The risk of a version that parses after one that did not, against the
// path's newest version that parsed and had servers (a first version's
// rating when there is none, or it cannot be read); and what its servers
// are against that version's ("; against #12: −fs", or "; the servers of
// #12"): the summary against the fragment could not say what the repair
// lost.
struct Mended {
  Risk risk = Risk::low;
  std::string against_good;
};

Mended mended_risk(Store &store, const WatchTarget &target,
                   const std::string &locations, const std::string &path,
                   std::string_view bytes, const McpView &view) {
  auto good = store.latest_good(std::nullopt, path);
  if (!good || !*good) {
    return {assess_risk({}, nullptr, bytes, view), {}};
  }
  auto read = store.read_blob((*good)->sha256, Store::Verify::no);
  if (!read) {
    return {assess_risk({}, nullptr, bytes, view), {}};
  }
  const McpView *known =
      t_views.find(view_key((*good)->sha256, target.format, locations));
  const McpView parsed =
      known ? McpView() : extract_mcp(*read, target.format, locations);
  const McpView &good_view = known ? *known : parsed;
  const std::string id = "#" + std::to_string((*good)->id);
  return {assess_risk(*read, &good_view, bytes, view),
          semantic_diff(good_view, view).empty()
              ? "; the servers of " + id
              : "; against " + id + ": " + summarize_change(&good_view, view)};
}

} // namespace

McpView view_for(std::string_view bytes, std::string_view sha256,
                 const WatchTarget &target) {
#ifndef NDEBUG
  MCPBK_ASSERT(sha256 == sha256_hex(bytes));
#endif
  const std::string locations = locations_of(target);
  std::string key = view_key(sha256, target.format, locations);
  if (const McpView *hit = t_views.find(key)) {
    return *hit;
  }
  McpView view = extract_mcp(bytes, target.format, locations);
  t_views.put(std::move(key), view);
  return view;
}

Result<CaptureOutcome> capture_bytes(Store &store, const WatchTarget &target,
                                     std::string_view bytes, std::uint32_t mode,
                                     const CaptureRequest &request,
                                     const Config &config) {
  CaptureOutcome outcome;
  const std::string path = target.path.string();
  TRY_ASSIGN(auto latest, store.latest_brief_for_path(path));
  // The hash names the content in the store and tells identical bytes from
  // a change. Bytes of another size than the latest snapshot's are a change
  // without it, so it waits until they are recorded: a change outside the
  // server maps (most writes of a 2 MB ~/.claude.json) never needs it.
  std::string sha(request.sha256);
  auto hash = [&] {
    if (sha.empty()) {
      sha = sha256_hex(bytes);
    }
#ifndef NDEBUG
    MCPBK_ASSERT(sha == sha256_hex(bytes));
#endif
  };
  if (latest && latest->size == bytes.size() && !request.always) {
    hash();
    if (latest->sha256 == sha) {
      // The same bytes with another mode (chmod 600 of a file that holds
      // tokens) are no new snapshot, but the newest one takes the mode: a
      // restore into a missing file gives it the path's last known mode.
      if (latest->mode != mode && mode != 0) {
        TRY(store.set_mode(latest->id, mode));
      }
      outcome.kind = CaptureOutcome::Kind::unchanged;
      return outcome;
    }
  }
  const std::string locations = locations_of(target);
  McpView view;
  if (request.view != nullptr) {
    view = *request.view;
  } else if (request.claude_projects && target.format == Format::json) {
    view = extract_mcp_and_projects(
        bytes, locations, outcome.claude_projects.emplace(), request.padded);
  } else {
    view = extract_mcp(bytes, target.format, locations, request.padded);
  }
  const std::string digest = mcp_digest_of(view, bytes, target);
  const bool automatic = request.trigger == SnapshotTrigger::change ||
                         request.trigger == SnapshotTrigger::initial;
  // A file that does not parse has no server maps to compare: each of its
  // versions is kept (the next broken one may be the nearly good one).
  if (latest && automatic && !request.always &&
      target.trigger == Trigger::mcp && view.parsed &&
      latest->mcp_digest == digest) {
    outcome.kind = CaptureOutcome::Kind::mcp_unchanged;
    return outcome;
  }
  hash();

  Risk risk = Risk::low;
  std::string summary;
  std::string mended_summary; // a repair: its servers against the last good
  std::optional<NewEvent> damaged;
  if (latest) {
    // The previous version only feeds the risk's line statistics and the
    // summary. It is read without re-hashing it (verify and restore check
    // hashes), and a damaged one does not keep this version from the store.
    const bool known =
        !request.known_sha256.empty() && latest->sha256 == request.known_sha256;
    Result<std::string> read =
        known ? Result<std::string>(std::string())
              : store.read_blob(latest->sha256, Store::Verify::no);
    const std::string_view previous =
        known ? request.known_bytes
              : (read ? std::string_view(*read) : std::string_view());
    McpView parsed;
    const McpView *before =
        t_views.find(view_key(latest->sha256, target.format, locations));
    if (read && !before) {
      parsed = extract_mcp(previous, target.format, locations);
      before = &parsed;
    }
    const bool previous_broken =
        read && before &&
        (!before->parsed ||
         previous.find_first_not_of(" \t\r\n") == std::string_view::npos);
    if (previous_broken && view.parsed &&
        bytes.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      // Mended: the fragment (or the emptied file) it replaces says nothing
      // of the risk (all of its lines "changed"); the last version that
      // parsed and had servers does. Without one, it is rated as a first
      // version.
      const Mended mended =
          mended_risk(store, target, locations, path, bytes, view);
      risk = mended.risk;
      mended_summary = mended.against_good;
    } else if (read) {
      risk = assess_risk(previous, before, bytes, view);
    } else {
      risk = assess_risk({}, nullptr, bytes, view);
      damaged =
          NewEvent{Severity::error,
                   "previous_unreadable",
                   path,
                   "the previous snapshot #" + std::to_string(latest->id) +
                       " cannot be read (" + read.error().message +
                       "); this change's risk is rated without it",
                   json{{"snapshot_id", latest->id}}.dump(),
                   0};
    }
    summary = summarize_change(before, view) + mended_summary;
    if (read && summary == "no MCP change" &&
        companions_of(previous, target) != companions_of(bytes, target)) {
      // VS Code's inputs, which its servers' ${input:id} values come from.
      summary = "inputs changed";
    }
  } else {
    risk = assess_risk({}, nullptr, bytes, view);
    summary = summarize_change(nullptr, view);
  }

  NewSnapshot snap;
  snap.host = target.host;
  snap.path = path;
  snap.taken_at = now_micros();
  snap.mode = mode;
  snap.trigger = request.trigger;
  snap.risk = risk;
  snap.parsed = view.parsed;
  snap.servers = view.server_names();
  snap.mcp_digest = digest;
  snap.summary = summary;
  snap.note = request.note;
  snap.pinned = request.pinned;
  snap.redacted = request.redacted;
  // One transaction (one WAL fsync) for the snapshot, its risk event and
  // the retention it triggers: a crash keeps all of them or none. Inside a
  // caller's transaction (a restore's record) it is a savepoint, and the
  // caller's transaction sets the durability.
  TRY_ASSIGN(auto tx, store.transaction());
  // The previous version is what this content most resembles: the store
  // may keep it as a small delta.
  TRY_ASSIGN(auto record,
             store.add_snapshot(snap, bytes, sha,
                                latest ? std::string_view(latest->sha256)
                                       : std::string_view()));
  outcome.kind = CaptureOutcome::Kind::recorded;
  t_views.put(view_key(record.sha256, target.format, locations), view);
  if (damaged) {
    TRY_ASSIGN(auto event, store.add_event(*damaged));
    outcome.events.push_back(std::move(event));
  }

  // A restore's record is the user's own doing, not a change to warn of:
  // the restore says so with an event of its own (op_restore).
  if (risk >= Risk::medium && request.trigger != SnapshotTrigger::restore) {
    json details = {{"snapshot_id", record.id},
                    {"risk", to_string(risk)},
                    {"summary", summary}};
    if (latest) {
      details["previous_id"] = latest->id;
    }
    std::string message = std::string(to_string(risk)) + " risk change to " +
                          path + ": " + summary;
    TRY_ASSIGN(auto event,
               store.add_event({severity_of(risk), "risky_change", path,
                                std::move(message), details.dump(), 0}));
    outcome.events.push_back(std::move(event));
  }
  // Retention in a savepoint of its own: when it fails, only its deletions
  // are rolled back, the snapshot is still committed and the failure is
  // recorded as an event.
  auto pruned = [&]() -> Result<DeleteResult> {
    TRY_ASSIGN(auto savepoint, store.transaction());
    TRY_ASSIGN(auto result, apply_retention(store, config.retention, path));
    TRY(savepoint.commit());
    return result;
  }();
  if (pruned) {
    outcome.pruned = *pruned;
  } else {
    auto event = store.add_event({Severity::warning, "retention_failed", path,
                                  "retention after snapshot #" +
                                      std::to_string(record.id) +
                                      " failed: " + pruned.error().message,
                                  json{{"snapshot_id", record.id}}.dump(), 0});
    if (event) {
      outcome.events.push_back(std::move(*event));
    }
  }
  TRY(tx.commit());
  outcome.snapshot = std::move(record);
  return outcome;
}

Result<CaptureOutcome> capture_file(Store &store, const WatchTarget &target,
                                    const CaptureRequest &request,
                                    const Config &config) {
  CaptureOutcome outcome;
  const std::string path = target.path.string();
  TRY_ASSIGN(auto info, stat_path(target.path));
  auto skip = [&](std::string kind,
                  std::string message) -> Result<CaptureOutcome> {
    outcome.kind = CaptureOutcome::Kind::skipped;
    outcome.skip_kind = std::move(kind);
    outcome.skip_message = std::move(message);
    if (outcome.skip_kind != request.skip_reported) {
      TRY_ASSIGN(auto event,
                 store.add_event({Severity::warning, outcome.skip_kind, path,
                                  outcome.skip_message, "{}", 0}));
      outcome.events.push_back(std::move(event));
    }
    return outcome;
  };
  if (!info) {
    // A link that loops (mcp.json -> mcp.json) is there, but leads
    // nowhere: not a deletion.
    struct stat st {};
    if (::stat(target.path.c_str(), &st) != 0 && errno == ELOOP) {
      return skip("unreadable",
                  path + ": " + std::strerror(ELOOP) + "; not snapshotted");
    }
    outcome.kind = CaptureOutcome::Kind::missing;
    return outcome;
  }
  if (!info->is_regular) {
    return skip("not_a_file",
                path + " is not a regular file; it is not snapshotted");
  }
  auto bytes = read_file_padded(target.path, config.store.max_file_bytes);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::not_found) {
      outcome.kind = CaptureOutcome::Kind::missing;
      return outcome;
    }
    if (bytes.error().code == ErrorCode::too_large) {
      return skip("too_large", bytes.error().message +
                                   " (store.max_file_bytes); not snapshotted");
    }
    if (const int err = bytes.error().sys_errno;
        err == EMFILE || err == ENFILE || err == ENOMEM || err == EINTR ||
        err == EAGAIN) {
      // The daemon's own want (out of file descriptors, memory), not the
      // file's: a failure its caller retries, so the content is read once
      // it passes, not left until the file's next save.
      return tl::unexpected(bytes.error());
    }
    return skip("unreadable", bytes.error().message + "; not snapshotted");
  }
  CaptureRequest read_request = request;
  read_request.padded = Padded::yes;
  if (!request.known_sha256.empty() && bytes->view() == request.known_bytes) {
    read_request.sha256 = request.known_sha256;
  } else {
    read_request.sha256 = {};
    read_request.view = nullptr;
  }
  return capture_bytes(store, target, bytes->view(), info->mode, read_request,
                       config);
}

Result<DeleteResult> apply_retention(Store &store,
                                     const RetentionPolicy &policy,
                                     const std::optional<std::string> &path) {
  TRY_ASSIGN(const auto plan, store.plan_prune_ids(policy, path));
  std::vector<std::int64_t> ids;
  ids.reserve(plan.size());
  for (const auto &decision : plan) {
    ids.push_back(decision.id);
  }
  return store.delete_snapshots(ids);
}

WatchTarget target_for(const std::string &host, const std::string &path,
                       const std::vector<WatchTarget> &known) {
  for (const auto &t : known) {
    if (t.path == path) {
      return t;
    }
  }
  return custom_target(host, path);
}

} // namespace mcpbk
