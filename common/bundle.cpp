#include <common/bundle.hpp>

#include <common/atomic_file.hpp>
#include <common/base64.hpp>
#include <common/capture.hpp>
#include <common/hash.hpp>
#include <common/mcp.hpp>

#include <nlohmann/json.hpp>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace mcpbk {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The longest line a reader accepts: one snapshot of the largest file a
// store may hold, base64-encoded, plus its metadata.
constexpr std::size_t k_max_line = 96u << 20;

std::string machine_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
    return "unknown";
  }
  return buf;
}

// Compresses lines into an atomically written file and hashes them.
class BundleWriter {
public:
  static Result<BundleWriter> open(const fs::path &file) {
    TRY_ASSIGN(auto out, AtomicFileWriter::open(file, 0600));
    return BundleWriter(std::move(out));
  }

  // Adds one line; `hashed` lines count towards the trailer's checksum.
  Result<void> line(const json &value, bool hashed) {
    const std::string text = value.dump() + "\n";
    if (hashed) {
      m_hash.update(text);
    }
    return feed(text, ZSTD_e_continue);
  }

  std::string digest() { return m_hash.hex_digest(); }

  Result<std::uint64_t> finish() {
    TRY(feed({}, ZSTD_e_end));
    TRY(m_out.commit());
    return m_written;
  }

private:
  explicit BundleWriter(AtomicFileWriter out)
      : m_out(std::move(out)), m_cctx(ZSTD_createCCtx(), ZSTD_freeCCtx) {
    MCPBK_ASSERT(m_cctx != nullptr);
    ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_checksumFlag, 1);
  }

  Result<void> feed(std::string_view text, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{text.data(), text.size(), 0};
    std::string chunk(ZSTD_CStreamOutSize(), '\0');
    for (;;) {
      ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
      const std::size_t left =
          ZSTD_compressStream2(m_cctx.get(), &out, &in, mode);
      if (ZSTD_isError(left)) {
        return fail(ErrorCode::internal, std::string("compression failed: ") +
                                             ZSTD_getErrorName(left));
      }
      TRY(m_out.write(std::string_view(chunk.data(), out.pos)));
      m_written += out.pos;
      const bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) {
        return {};
      }
    }
  }

  AtomicFileWriter m_out;
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> m_cctx;
  Sha256 m_hash;
  std::uint64_t m_written = 0;
};

// Decompresses a bundle and yields its lines one at a time.
class BundleReader {
public:
  static Result<BundleReader> open(const fs::path &file) {
    // Without blocking: opening a FIFO waits for a writer, and the daemon
    // answers imports on its one thread (everything stopped).
    const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      return fail_errno("cannot open " + file.string(), errno);
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      return fail(ErrorCode::bad_request,
                  file.string() + " is not a regular file (" +
                      (S_ISDIR(info.st_mode)    ? "a directory"
                       : S_ISFIFO(info.st_mode) ? "a FIFO"
                       : S_ISSOCK(info.st_mode) ? "a socket"
                                                : "a device") +
                      "); a bundle is read from a file mcpbkctl export wrote");
    }
    const int flags = ::fcntl(fd, F_GETFL);
    std::FILE *f = flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0
                       ? nullptr
                       : ::fdopen(fd, "rb");
    if (!f) {
      const int err = errno;
      ::close(fd);
      return fail_errno("cannot open " + file.string(), err);
    }
    return BundleReader(f, file);
  }

  // The next line without its newline; std::nullopt at the end of the data.
  Result<std::optional<std::string>> next() {
    for (;;) {
      const auto nl = m_pending.find('\n', m_scan_from);
      if (nl != std::string::npos) {
        std::string line = m_pending.substr(0, nl);
        m_pending.erase(0, nl + 1);
        m_scan_from = 0;
        return std::optional<std::string>(std::move(line));
      }
      m_scan_from = m_pending.size();
      if (m_pending.size() > k_max_line) {
        return fail(ErrorCode::bad_request,
                    m_file.string() + ": a line of the bundle is too long");
      }
      TRY_ASSIGN(const bool more, fill());
      if (!more) {
        if (!m_pending.empty()) {
          return fail(ErrorCode::bad_request,
                      m_file.string() +
                          " is truncated (its last line is incomplete)");
        }
        return std::optional<std::string>();
      }
    }
  }

private:
  BundleReader(std::FILE *f, fs::path file)
      : m_file_handle(f, std::fclose), m_file(std::move(file)),
        m_dctx(ZSTD_createDCtx(), ZSTD_freeDCtx) {
    MCPBK_ASSERT(m_dctx != nullptr);
  }

  // Decompresses more data into m_pending; false at the end of the file.
  Result<bool> fill() {
    std::string out(ZSTD_DStreamOutSize(), '\0');
    for (;;) {
      if (m_in_pos == m_in.size()) {
        if (m_eof) {
          if (m_frame_open) {
            return fail(ErrorCode::bad_request,
                        m_file.string() +
                            " is truncated (the compressed data ends early)");
          }
          return false;
        }
        m_in.resize(ZSTD_DStreamInSize());
        const std::size_t n =
            std::fread(m_in.data(), 1, m_in.size(), m_file_handle.get());
        if (n == 0 && std::ferror(m_file_handle.get())) {
          return fail_errno("cannot read " + m_file.string(), errno);
        }
        m_in.resize(n);
        m_in_pos = 0;
        m_eof = n == 0;
        if (m_eof) {
          continue;
        }
      }
      ZSTD_inBuffer in{m_in.data(), m_in.size(), m_in_pos};
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      const std::size_t rc = ZSTD_decompressStream(m_dctx.get(), &o, &in);
      m_in_pos = in.pos;
      if (ZSTD_isError(rc)) {
        return fail(ErrorCode::bad_request, m_file.string() +
                                                " is not a valid bundle (" +
                                                ZSTD_getErrorName(rc) + ")");
      }
      m_frame_open = rc != 0;
      if (o.pos > 0) {
        m_pending.append(out.data(), o.pos);
        return true;
      }
    }
  }

  std::unique_ptr<std::FILE, decltype(&std::fclose)> m_file_handle;
  fs::path m_file;
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> m_dctx;
  std::string m_in;
  std::size_t m_in_pos = 0;
  bool m_eof = false;
  bool m_frame_open = false;
  std::string m_pending;
  std::size_t m_scan_from = 0;
};

json snapshot_line(const SnapshotRecord &s, std::string_view content,
                   const std::string &sha, bool redacted) {
  return {{"type", "snapshot"},
          {"id", s.id},
          {"host", s.host},
          {"path", s.path},
          {"taken_at", format_iso8601(s.taken_at)},
          {"taken_at_us", s.taken_at},
          {"sha256", sha},
          {"size", content.size()},
          {"mode", s.mode},
          {"trigger", to_string(s.trigger)},
          {"risk", to_string(s.risk)},
          {"parsed", s.parsed},
          {"servers", s.servers},
          {"summary", s.summary},
          {"note", s.note ? json(*s.note) : json(nullptr)},
          {"pinned", s.pinned},
          {"redacted", redacted},
          {"content", base64_encode(content)}};
}

// One snapshot of a bundle, checked.
struct BundleSnapshot {
  NewSnapshot snapshot;
  std::string sha256;
  std::string content;
};

// Checks every field of a snapshot line; the error names the line and field.
Result<BundleSnapshot> parse_snapshot(const json &j, std::uint64_t line_no,
                                      std::uint64_t max_content) {
  const std::string where = "line " + std::to_string(line_no) + ": ";
  auto bad = [&](const std::string &field, const std::string &what) {
    return fail(ErrorCode::bad_request, where + field + ": " + what);
  };
  auto str = [&](const char *field) -> Result<std::string> {
    if (!j.contains(field) || !j[field].is_string()) {
      return bad(field, "expected a string");
    }
    return j[field].get<std::string>();
  };
  auto boolean = [&](const char *field) -> Result<bool> {
    if (!j.contains(field) || !j[field].is_boolean()) {
      return bad(field, "expected true or false");
    }
    return j[field].get<bool>();
  };
  auto integer = [&](const char *field) -> Result<std::int64_t> {
    if (!j.contains(field) || !j[field].is_number_integer()) {
      return bad(field, "expected an integer");
    }
    return j[field].get<std::int64_t>();
  };
  BundleSnapshot out;
  NewSnapshot &s = out.snapshot;
  TRY_ASSIGN(s.host, str("host"));
  if (find_host(s.host) == nullptr) {
    return bad("host", "unknown host \"" + s.host + "\"");
  }
  TRY_ASSIGN(s.path, str("path"));
  // A restore writes to this path: it must name one file plainly (a NUL
  // would cut it short, "..", "//" or a final "/" make it another name).
  if (s.path.empty() || s.path[0] != '/' ||
      s.path.find('\0') != std::string::npos || s.path.back() == '/' ||
      fs::path(s.path).lexically_normal().string() != s.path) {
    return bad("path", "expected an absolute path in normal form");
  }
  TRY_ASSIGN(s.taken_at, integer("taken_at_us"));
  // A time from before 1970 or from the future would sort before or after
  // everything recorded here.
  if (s.taken_at < 0 || s.taken_at > now_micros() + k_micros_per_day) {
    return bad("taken_at_us", "not a time this snapshot could have been "
                              "taken (before 1970, or in the future)");
  }
  TRY_ASSIGN(out.sha256, str("sha256"));
  TRY_ASSIGN(const auto size, integer("size"));
  if (max_content != 0 && size > 0 &&
      static_cast<std::uint64_t>(size) > max_content) {
    // Said before its content is decoded: a bundle of a few KB can hold
    // 64 MiB of zeros, which took the daemon to 600 MB.
    return bad("size", "a content of " + std::to_string(size) +
                           " bytes is over store.max_file_bytes (" +
                           std::to_string(max_content) +
                           "), which no snapshot taken here could be");
  }
  TRY_ASSIGN(const auto mode, integer("mode"));
  if (mode < 0 || mode > 07777) {
    return bad("mode", "expected a file mode");
  }
  s.mode = static_cast<std::uint32_t>(mode);
  TRY_ASSIGN(const auto trigger, str("trigger"));
  if (!snapshot_trigger_from_string(trigger)) {
    return bad("trigger", "unknown trigger \"" + trigger + "\"");
  }
  TRY_ASSIGN(const auto risk, str("risk"));
  const auto parsed_risk = risk_from_string(risk);
  if (!parsed_risk) {
    return bad("risk", "unknown risk \"" + risk + "\"");
  }
  s.risk = *parsed_risk;
  TRY_ASSIGN(s.parsed, boolean("parsed"));
  if (!j.contains("servers") || !j["servers"].is_array()) {
    return bad("servers", "expected a list of names");
  }
  for (const auto &name : j["servers"]) {
    if (!name.is_string()) {
      return bad("servers", "expected a list of names");
    }
    s.servers.push_back(name.get<std::string>());
  }
  TRY_ASSIGN(s.summary, str("summary"));
  if (j.contains("note") && !j["note"].is_null()) {
    TRY_ASSIGN(s.note, str("note"));
  }
  TRY_ASSIGN(s.pinned, boolean("pinned"));
  TRY_ASSIGN(s.redacted, boolean("redacted"));
  TRY_ASSIGN(const auto encoded, str("content"));
  auto content = base64_decode(encoded);
  if (!content) {
    return bad("content", "not valid base64");
  }
  out.content = std::move(*content);
  if (static_cast<std::int64_t>(out.content.size()) != size) {
    return bad("size", "does not match the content");
  }
  if (sha256_hex(out.content) != out.sha256) {
    return bad("sha256", "does not match the content (the bundle is damaged)");
  }
  s.trigger = SnapshotTrigger::imported;
  return out;
}

Result<BundleHeader> parse_header(const std::optional<std::string> &line,
                                  const fs::path &file) {
  if (!line) {
    return fail(ErrorCode::bad_request, file.string() + " is empty");
  }
  const json h = json::parse(*line, nullptr, false);
  if (!h.is_object() || h.value("format", "") != k_bundle_format) {
    return fail(ErrorCode::bad_request,
                file.string() + " is not an mcpbk bundle");
  }
  BundleHeader header;
  if (!h.contains("version") || !h["version"].is_number_integer()) {
    return fail(ErrorCode::bad_request,
                file.string() + ": the bundle has no format version");
  }
  header.version = h["version"].get<int>();
  if (header.version > k_bundle_version || header.version < 1) {
    return fail(ErrorCode::unsupported_version,
                file.string() + ": bundle format version " +
                    std::to_string(header.version) +
                    " is not supported (this mcpbk reads version " +
                    std::to_string(k_bundle_version) + "); upgrade mcpbk");
  }
  header.mcpbk_version = h.value("mcpbk_version", "");
  header.created_at =
      parse_iso8601(h.value("created_at", "")).value_or(Micros{0});
  header.source_machine = h.value("source_machine", "unknown");
  header.source_home = h.value("source_home", "");
  if (!header.source_home.empty() && header.source_home[0] != '/') {
    return fail(ErrorCode::bad_request,
                file.string() + ": source_home: expected an absolute path");
  }
  // "/home/ann/" is /home/ann: --map-home and the note on other homes
  // compare whole path components.
  while (header.source_home.size() > 1 && header.source_home.back() == '/') {
    header.source_home.pop_back();
  }
  header.redacted = h.value("redacted", false);
  header.snapshots = h.value("snapshots", std::uint64_t{0});
  return header;
}

// Reads the whole bundle, checking everything, calling `visit` for each
// snapshot when given.
Result<BundleHeader>
read_bundle(const fs::path &file,
            const std::function<Result<void>(BundleSnapshot &)> &visit,
            std::uint64_t max_content) {
  TRY_ASSIGN(auto reader, BundleReader::open(file));
  TRY_ASSIGN(auto first, reader.next());
  TRY_ASSIGN(auto header, parse_header(first, file));
  Sha256 hash;
  hash.update(*first + "\n");
  std::uint64_t count = 0;
  std::uint64_t line_no = 1;
  for (;;) {
    TRY_ASSIGN(auto line, reader.next());
    ++line_no;
    if (!line) {
      return fail(ErrorCode::bad_request,
                  file.string() + " is truncated (no end record)");
    }
    const json j = json::parse(*line, nullptr, false);
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      return fail(ErrorCode::bad_request, file.string() + ": line " +
                                              std::to_string(line_no) +
                                              " is not a bundle record");
    }
    const std::string type = j["type"].get<std::string>();
    if (type == "end") {
      if (j.value("snapshots", std::uint64_t{0}) != count ||
          count != header.snapshots) {
        return fail(ErrorCode::bad_request,
                    file.string() + ": the bundle's snapshot count does not "
                                    "match its records");
      }
      if (j.value("sha256", "") != hash.hex_digest()) {
        return fail(ErrorCode::bad_request,
                    file.string() + ": the bundle's checksum does not match "
                                    "(it was altered or damaged)");
      }
      TRY_ASSIGN(auto after, reader.next());
      if (after) {
        return fail(ErrorCode::bad_request,
                    file.string() + ": data after the end record");
      }
      return header;
    }
    if (type != "snapshot") {
      return fail(ErrorCode::bad_request,
                  file.string() + ": line " + std::to_string(line_no) +
                      ": unknown record type \"" + type + "\"");
    }
    hash.update(*line + "\n");
    auto snap = parse_snapshot(j, line_no, max_content);
    if (!snap) {
      return fail(snap.error().code,
                  file.string() + ": " + snap.error().message);
    }
    ++count;
    if (visit) {
      TRY(visit(*snap));
    }
  }
}

} // namespace

std::optional<OnConflict> on_conflict_from_string(std::string_view text) {
  if (text == "skip") {
    return OnConflict::skip;
  }
  if (text == "rename") {
    return OnConflict::rename;
  }
  if (text == "fail") {
    return OnConflict::fail;
  }
  return std::nullopt;
}

namespace {

// One attempt at an export, leaving out the snapshots of `left_out`. When
// it meets another snapshot it cannot export (a damaged blob, a path that
// JSON cannot hold), it adds it to `left_out`, writes nothing more (the
// header's count is already written), checks the rest the same way and
// returns with *again set: the caller starts over without them.
Result<ExportResult> export_once(Store &store, const fs::path &file,
                                 const ExportOptions &options, const Env &env,
                                 std::vector<LeftOut> &left_out, bool *again) {
  *again = false;
  TRY_ASSIGN(const std::uint64_t matching, store.count(options.filter));
  const std::uint64_t total =
      matching - std::min<std::uint64_t>(matching, left_out.size());
  const bool redact = options.redact == ExportOptions::Redact::yes;
  TRY_ASSIGN(auto writer, BundleWriter::open(file));
  TRY(writer.line({{"format", k_bundle_format},
                   {"version", k_bundle_version},
                   {"mcpbk_version", MCPBK_VERSION},
                   {"created_at", format_iso8601(now_micros())},
                   {"source_machine", machine_name()},
                   {"source_home", env.home().string()},
                   {"redacted", redact},
                   {"snapshots", total}},
                  true));
  ExportResult result;
  ListFilter filter = options.filter;
  filter.limit.reset();
  const auto is_left_out = [&](std::int64_t id) {
    return std::any_of(left_out.begin(), left_out.end(),
                       [id](const LeftOut &l) { return l.id == id; });
  };
  std::uint64_t seen = 0;
  TRY(store.for_each(filter, [&](const SnapshotRecord &s) -> Result<void> {
    if (is_left_out(s.id)) {
      return {};
    }
    if (seen == total) {
      return {}; // written meanwhile by the daemon: not in this bundle
    }
    ++seen;
    const auto leave_out = [&](std::string why) {
      left_out.push_back({s.id, s.path, std::move(why)});
      *again = true;
    };
    try {
      (void)json(s.path).dump();
    } catch (const json::type_error &) {
      leave_out("its path is not valid UTF-8, which a bundle cannot hold");
      return {};
    }
    auto read = store.content(s);
    if (!read) {
      if (read.error().code != ErrorCode::integrity_error) {
        return tl::unexpected(read.error());
      }
      leave_out(read.error().message);
      return {};
    }
    if (*again) {
      return {}; // only looking for what else to leave out
    }
    std::string content = std::move(*read);
    std::string sha = s.sha256;
    if (redact) {
      const WatchTarget target = target_for(s.host, s.path, {});
      const McpView view =
          extract_mcp(content, target.format, locations_of(target));
      const SecretWords words = secret_words({&view}, MaskStyle::redact);
      content = mask_secrets_in_text(content, MaskStyle::redact, &words);
      sha = sha256_hex(content);
    }
    TRY(writer.line(snapshot_line(s, content, sha, redact || s.redacted),
                    true));
    ++result.snapshots;
    if (options.progress) {
      options.progress(result.snapshots, total);
    }
    return {};
  }));
  if (*again) {
    return result; // the temp file goes with the writer
  }
  if (result.snapshots != total) {
    return fail(ErrorCode::conflict,
                "snapshots were deleted during the export; try again");
  }
  const std::string digest = writer.digest();
  TRY(writer.line(
      {{"type", "end"}, {"snapshots", result.snapshots}, {"sha256", digest}},
      false));
  TRY_ASSIGN(result.bytes, writer.finish());
  return result;
}

} // namespace

Result<ExportResult> export_bundle(Store &store, const fs::path &file,
                                   const ExportOptions &options,
                                   const Env &env) {
  std::vector<LeftOut> left_out;
  // Each attempt after the first leaves out everything found before it; a
  // third one finds more only if blobs are being damaged as it runs.
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool again = false;
    TRY_ASSIGN(auto result,
               export_once(store, file, options, env, left_out, &again));
    if (!again) {
      result.left_out = std::move(left_out);
      return result;
    }
  }
  return fail(ErrorCode::conflict,
              "snapshots kept becoming unreadable during the export; run "
              "mcpbkctl verify");
}

Result<ImportResult> import_bundle(Store &store, const fs::path &file,
                                   const ImportOptions &options,
                                   const Env &env) {
  ImportResult result;
  // Pass 1: check everything; nothing is written.
  TRY_ASSIGN(result.header,
             read_bundle(file, nullptr, options.max_content_bytes));
  const std::string home = env.home().string();
  const std::string source_home = result.header.source_home;
  const auto under_source_home = [&](const std::string &path) {
    return !source_home.empty() && source_home != "/" &&
           path.compare(0, source_home.size(), source_home) == 0 &&
           (path.size() == source_home.size() ||
            path[source_home.size()] == '/');
  };
  const bool mapped = options.map_home == ImportOptions::MapHome::yes;
  auto map_path = [&](std::string path) {
    if (mapped && under_source_home(path)) {
      path = home + path.substr(source_home.size());
    }
    return path;
  };

  // Pass 2: import in one transaction. Records come oldest first, so each
  // is stored against the path's previous version (a small delta when they
  // are alike), as captures are.
  std::unordered_map<std::string, std::string> previous_sha;
  TRY_ASSIGN(auto tx, store.transaction());
  std::uint64_t done = 0;
  const std::uint64_t total = result.header.snapshots;
  TRY(read_bundle(
      file,
      [&](BundleSnapshot &b) -> Result<void> {
        NewSnapshot &s = b.snapshot;
        // Kept under another machine's home, they are not the history of this
        // machine's files: a restore writes where that home was.
        const bool elsewhere =
            !mapped && source_home != home && under_source_home(s.path);
        s.path = map_path(s.path);
        TRY_ASSIGN(auto existing, store.find_at(s.path, s.taken_at));
        bool renamed = false;
        if (existing) {
          if (existing->sha256 == b.sha256) {
            ++result.skipped;
            return {};
          }
          switch (options.on_conflict) {
          case OnConflict::skip:
            ++result.skipped;
            ++result.conflicts;
            return {};
          case OnConflict::fail:
            return fail(ErrorCode::conflict,
                        "a different snapshot of " + s.path + " taken at " +
                            format_iso8601(s.taken_at) +
                            " is already in the store (or earlier in this "
                            "bundle); nothing was imported (use --on-conflict "
                            "skip or rename)");
          case OnConflict::rename: {
            // The machine's name, as the bundle says it, becomes part of a
            // file name: only letters, digits, '.', '_' and '-' of it (a '/'
            // would make it a path, "/../../.bashrc" one outside the file's
            // directory).
            std::string machine;
            for (const char c : result.header.source_machine) {
              const bool plain =
                  std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                  c == '.' || c == '_' || c == '-';
              machine += plain ? c : '_';
            }
            // Short enough for the file system's 255-byte names, with room for
            // a number when two names come out the same.
            constexpr std::size_t k_max_name = 255;
            const std::size_t base =
                fs::path(s.path).filename().string().size();
            const std::size_t room =
                base + 6 + 4 < k_max_name ? k_max_name - base - 6 - 4 : 1;
            machine.resize(
                std::min(machine.size(), std::min<std::size_t>(64, room)));
            const std::string original = s.path;
            bool placed = false;
            for (int n = 1; n <= 100 && !placed; ++n) {
              s.path = original + ".from-" +
                       (machine.empty() ? "unknown" : machine) +
                       (n == 1 ? "" : "-" + std::to_string(n));
              TRY_ASSIGN(auto again, store.find_at(s.path, s.taken_at));
              if (again && again->sha256 == b.sha256) {
                ++result.skipped; // imported so before
                return {};
              }
              placed = !again;
            }
            if (!placed) {
              return fail(ErrorCode::conflict, "no free name for the copy of " +
                                                   original + " taken at " +
                                                   format_iso8601(s.taken_at) +
                                                   "; nothing was imported");
            }
            renamed = true;
            break;
          }
          }
        }
        // What the content holds is read from it, not taken from the record:
        // a bundle saying "parsed" of bytes that do not parse would make them
        // a good copy for restore --last-good.
        const WatchTarget target = target_for(s.host, s.path, {});
        const McpView view =
            extract_mcp(b.content, target.format, locations_of(target));
        s.parsed = view.parsed;
        s.servers = view.server_names();
        s.mcp_digest = mcp_digest_of(view, b.content, target);
        s.redacted = s.redacted || result.header.redacted;
        if (s.note && s.note->starts_with("restored from #") &&
            s.note->size() > 15 &&
            s.note->find_first_not_of("0123456789", 15) == std::string::npos) {
          // The id is the other store's: here it names another snapshot.
          *s.note += " on " + (result.header.source_machine.empty()
                                   ? std::string("another machine")
                                   : result.header.source_machine);
        }
        auto previous = previous_sha.find(s.path);
        if (previous == previous_sha.end()) {
          TRY_ASSIGN(auto latest, store.latest_brief_for_path(s.path));
          previous =
              previous_sha
                  .emplace(s.path, latest ? latest->sha256 : std::string())
                  .first;
        }
        const std::string sha = sha256_hex(b.content);
        TRY(store.add_snapshot(s, b.content, sha, previous->second));
        previous->second = sha;
        ++(renamed ? result.renamed : result.created);
        result.outside_home += elsewhere ? 1 : 0;
        if (options.progress) {
          options.progress(++done, total);
        }
        return {};
      },
      options.max_content_bytes));
  if (options.dry_run == ImportOptions::DryRun::no) {
    TRY(tx.commit());
  }
  return result;
}

} // namespace mcpbk
