#include <common/ops/ops.hpp>

#include <common/ops/support.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mcpbk::ops {

namespace {

// Every op of SPEC §8. The table drives dispatch, `status` ops and help.
constexpr OpDef k_ops[] = {
    {"status", op_status, true,
     "daemon version, uptime, store and watch state"},
    {"hosts", op_hosts, true, "each known host, its files and their state"},
    {"list", op_list, true, "snapshots, newest first, with filters",
     Reads::quick},
    {"show", op_show, true, "one snapshot's metadata and MCP servers",
     Reads::quick},
    {"content", op_content, true, "one snapshot's exact bytes (base64)",
     Reads::quick},
    {"diff", op_diff, true,
     "a snapshot against the current file or another snapshot", Reads::slow},
    {"restore", op_restore, true, "write a snapshot back atomically", Reads::no,
     Reads::slow},
    {"snapshot", op_snapshot, true, "take manual snapshots now"},
    {"prune", op_prune, true, "apply the retention rules now"},
    {"verify", op_verify, true, "check every blob hash and the database",
     Reads::slow},
    {"events", op_events, true, "the event log, newest first", Reads::quick},
    {"subscribe", op_subscribe, false,
     "stream new snapshots and events on this connection"},
    {"pin", op_pin, true, "exempt a snapshot from retention"},
    {"unpin", op_unpin, true, "return a snapshot to retention"},
    {"export", op_export, true, "write a portable bundle"},
    {"import", op_import, true, "read a portable bundle"},
    {"reload", op_reload, false, "re-read the daemon's config file"},
};

const OpDef *find_op(std::string_view name) {
  for (const auto &def : k_ops) {
    if (def.name == name) {
      return &def;
    }
  }
  return nullptr;
}

std::string dump(const json &value) {
  // Replies must be valid UTF-8 even when a file name or an echoed parse
  // error is not: invalid bytes become U+FFFD.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

std::span<const OpDef> op_table() {
  return k_ops;
}

json error_reply(const json &id, ErrorCode code, const std::string &message,
                 const std::vector<FieldError> &details) {
  json error = {{"code", to_string(code)}, {"message", message}};
  if (!details.empty()) {
    json list = json::array();
    for (const auto &d : details) {
      list.push_back({{"field", d.field}, {"message", d.message}});
    }
    error["details"] = std::move(list);
  }
  return {{"v", k_protocol_version},
          {"id", id},
          {"ok", false},
          {"error", std::move(error)}};
}

void finish_after_reply(Context &context) {
  // Taken first: the work may not add more to a list being run.
  auto work = std::exchange(context.after_reply, {});
  for (auto &item : work) {
    item();
  }
}

json dispatch(Context &context, const json &request) {
  // Left by a previous request whose caller did not run it.
  finish_after_reply(context);
  json id = nullptr;
  try {
    if (!request.is_object()) {
      return error_reply(nullptr, ErrorCode::bad_request,
                         std::string("a request must be a JSON object, got ") +
                             request.type_name());
    }
    if (const auto it = request.find("id"); it != request.end()) {
      if (!it->is_primitive()) {
        return error_reply(
            nullptr, ErrorCode::bad_request, "id must be a JSON scalar",
            {{"id", std::string("expected a scalar, got ") + it->type_name()}});
      }
      if (it->is_number_float() &&
          std::abs(it->get<double>()) >= 9007199254740992.0) {
        // An integer past 64 bits arrives as the nearest double, and would
        // be echoed as another number than the client's.
        return error_reply(nullptr, ErrorCode::bad_request,
                           "id is too large to be echoed exactly",
                           {{"id", "expected an integer within 64 bits, a "
                                   "smaller number or a string"}});
      }
      id = *it;
    }
    const auto v = request.find("v");
    if (v == request.end()) {
      return error_reply(id, ErrorCode::bad_request,
                         "missing protocol version \"v\"",
                         {{"v", "required (1)"}});
    }
    if (!v->is_number_integer()) {
      return error_reply(
          id, ErrorCode::bad_request,
          "the protocol version \"v\" must be an integer",
          {{"v", std::string("expected an integer, got ") + v->type_name()}});
    }
    if (*v != k_protocol_version) {
      return error_reply(id, ErrorCode::unsupported_version,
                         "unsupported protocol version " + v->dump() +
                             "; this daemon speaks version " +
                             std::to_string(k_protocol_version),
                         {{"v", "expected 1"}});
    }
    const auto op = request.find("op");
    if (op == request.end() || !op->is_string()) {
      return error_reply(
          id, ErrorCode::bad_request, "missing or mistyped \"op\"",
          {{"op", op == request.end() ? std::string("required")
                                      : std::string("expected a string, got ") +
                                            op->type_name()}});
    }
    const std::string &name = op->get_ref<const std::string &>();
    const OpDef *def = find_op(name);
    if (def == nullptr) {
      return error_reply(id, ErrorCode::unknown_op,
                         "unknown op \"" + name + "\"",
                         {{"op", "not one of the ops listed by status"}});
    }
    json args = json::object();
    if (const auto it = request.find("args");
        it != request.end() && !it->is_null()) {
      if (!it->is_object()) {
        return error_reply(id, ErrorCode::bad_request, "args must be an object",
                           {{"args", std::string("expected an object, got ") +
                                         it->type_name()}});
      }
      args = *it; // depth is bounded by handle_line's parse
    }
    json result = def->handler(context, args);
    json reply = {{"v", k_protocol_version},
                  {"id", id},
                  {"ok", true},
                  {"result", result}};
    if (result.is_object()) {
      if (const auto w = result.find("warning");
          w != result.end() && w->is_string()) {
        reply["warning"] = *w;
      }
    }
    return reply;
  } catch (const OpError &e) {
    return error_reply(id, e.code, e.message, e.details);
  } catch (const std::exception &e) {
    return error_reply(id, ErrorCode::internal,
                       std::string("internal error: ") + e.what());
  } catch (...) {
    return error_reply(id, ErrorCode::internal, "internal error");
  }
}

namespace {

constexpr std::string_view k_internal_error_line =
    R"({"v":1,"id":null,"ok":false,"error":{"code":"internal","message":"internal error"}})";

} // namespace

std::variant<json, std::string> parse_request_line(std::string_view line) {
  try {
    if (!line.empty() && line.back() == '\n') {
      line.remove_suffix(1);
    }
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.size() > k_max_request_bytes) {
      return dump(error_reply(nullptr, ErrorCode::too_large,
                              "request of " + std::to_string(line.size()) +
                                  " bytes is over the limit of " +
                                  std::to_string(k_max_request_bytes)));
    }
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      return dump(
          error_reply(nullptr, ErrorCode::bad_request, "empty request line"));
    }
    if (const auto nul = line.find('\0'); nul != std::string_view::npos) {
      // The JSON reader stops there and would answer the part before it.
      return dump(error_reply(nullptr, ErrorCode::bad_request,
                              "malformed JSON: a NUL byte at offset " +
                                  std::to_string(nul)));
    }
    try {
      // Copying and walking a value is recursive: refuse deep nesting while
      // parsing, before anything recurses.
      // A key given twice in one object is refused too: which one would
      // apply ({"op":"status","op":"prune"}) should not be a guess.
      std::vector<std::set<std::string>> keys;
      return json::parse(line, [&keys](int depth, json::parse_event_t event,
                                       json &parsed) {
        if (depth > k_max_request_depth) {
          throw OpError(ErrorCode::bad_request,
                        "request nested deeper than " +
                            std::to_string(k_max_request_depth) + " levels");
        }
        if (event == json::parse_event_t::object_start) {
          keys.emplace_back();
        } else if (event == json::parse_event_t::object_end && !keys.empty()) {
          keys.pop_back();
        } else if (event == json::parse_event_t::key && !keys.empty()) {
          const auto &key = parsed.get_ref<const std::string &>();
          if (!keys.back().insert(key).second) {
            throw OpError(ErrorCode::bad_request,
                          "key \"" + key + "\" given twice in one object");
          }
        }
        return true;
      });
    } catch (const OpError &e) {
      return dump(error_reply(nullptr, e.code, e.message));
    } catch (const json::exception &e) {
      // parse_error, and out_of_range for numbers too large to hold.
      return dump(error_reply(nullptr, ErrorCode::bad_request,
                              std::string("malformed JSON: ") + e.what()));
    }
  } catch (const std::exception &e) {
    try {
      return dump(error_reply(nullptr, ErrorCode::internal,
                              std::string("internal error: ") + e.what()));
    } catch (...) {
    }
  } catch (...) {
  }
  return std::string(k_internal_error_line);
}

std::string reply_line(Context &context, const json &request) {
  try {
    return dump(dispatch(context, request));
  } catch (...) {
    // dispatch() does not throw; dumping its reply could (out of memory).
  }
  return std::string(k_internal_error_line);
}

std::string handle_line(Context &context, std::string_view line) {
  auto parsed = parse_request_line(line);
  if (auto *error = std::get_if<std::string>(&parsed)) {
    return std::move(*error);
  }
  return reply_line(context, std::get<json>(parsed));
}

Reads reads_of(const json &request) {
  if (!request.is_object()) {
    return Reads::no;
  }
  const auto op = request.find("op");
  if (op == request.end() || !op->is_string()) {
    return Reads::no;
  }
  const OpDef *def = find_op(op->get_ref<const std::string &>());
  if (def == nullptr) {
    return Reads::no;
  }
  // A dry run only when it says so: any other form (a flag that is not
  // true, arguments that are not an object) is its handler's to judge.
  const auto args = request.find("args");
  if (args != request.end() && args->is_object()) {
    const auto dry_run = args->find("dry_run");
    if (dry_run != args->end() && dry_run->is_boolean() &&
        dry_run->get<bool>()) {
      return std::max(def->reads, def->dry_run_reads);
    }
  }
  return def->reads;
}

json to_json(const SnapshotRecord &snapshot) {
  return {{"id", snapshot.id},
          {"host", snapshot.host},
          {"path", snapshot.path},
          {"taken_at", format_iso8601(snapshot.taken_at)},
          {"taken_at_us", snapshot.taken_at},
          {"sha256", snapshot.sha256},
          {"size", snapshot.size},
          {"mode", snapshot.mode},
          {"trigger", to_string(snapshot.trigger)},
          {"risk", to_string(snapshot.risk)},
          {"parsed", snapshot.parsed},
          {"good", snapshot.good()},
          {"servers", snapshot.servers},
          {"mcp_digest", snapshot.mcp_digest},
          {"summary", snapshot.summary},
          {"note", snapshot.note ? json(*snapshot.note) : json(nullptr)},
          {"pinned", snapshot.pinned},
          {"redacted", snapshot.redacted}};
}

json to_json(const EventRecord &event) {
  json details = json::parse(event.details, nullptr, false);
  if (details.is_discarded()) {
    details = event.details;
  }
  return {{"id", event.id},           {"at", format_iso8601(event.at)},
          {"at_us", event.at},        {"severity", to_string(event.severity)},
          {"kind", event.kind},       {"path", event.path},
          {"message", event.message}, {"details", std::move(details)}};
}

} // namespace mcpbk::ops
