#pragma once

#include <common/error.hpp>
#include <common/types.hpp>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk {

// What a file holds of MCP configuration.
struct McpView {
  // True when the content parsed in its format.
  bool parsed = false;
  // Why it did not parse: "line 3, column 7: missing ','".
  std::string parse_error;
  // Server name -> canonical JSON of its entry (keys sorted, no whitespace).
  // Servers of nested maps are qualified with their parent key:
  // "github" for top-level mcpServers, "github@/home/u/proj" for a Claude
  // Code project map.
  std::map<std::string, std::string> servers;
  // True when the content was empty or whitespace only ("emptied").
  bool empty = false;

  // Parseable and has at least one server: what "last good" means.
  bool good() const { return parsed && !servers.empty(); }
  std::vector<std::string> server_names() const;
};

// Project roots listed in the keys of "projects" in ~/.claude.json content
// (absolute paths only). Unparseable content gives an empty list. Read as
// extract_mcp() reads, keeping none of the projects' contents: the daemon
// runs this after every change of that file.
std::vector<std::filesystem::path>
claude_projects_from(std::string_view claude_json);

class Env;

// The projects of every Claude Code config file (claude_code_config_paths(),
// common/hosts.hpp), each read up to max_bytes: sorted, without repeats.
std::vector<std::filesystem::path> claude_projects_of(const Env &env,
                                                      std::uint64_t max_bytes);

// Whether the bytes given to extract_mcp() are followed by
// PaddedBytes::k_padding readable bytes (read_file_padded(), common/fs.hpp):
// the fast JSON reader then parses them where they are instead of copying
// them first.
enum class Padded : bool { no, yes };

// extract_mcp() of ~/.claude.json content (JSON) that also sets `projects`
// to claude_projects_from() of it, from the one parse: the daemon needs both
// after every change of that file, which Claude Code rewrites often.
McpView extract_mcp_and_projects(std::string_view claude_json,
                                 std::string_view locations,
                                 std::vector<std::filesystem::path> &projects,
                                 Padded padded = Padded::no);

// Parses bytes in a format and extracts the server maps found at locations
// (space-separated dotted paths, "*" matching any key). A parse failure is a
// value, never an exception. Empty content parses as an empty document.
// JSON and JSONC that are strict JSON are read with the program's fast
// reader (simdjson in mcpbkd; common/json_reader.hpp), anything else
// (comments, trailing commas, errors...) with nlohmann/json; the result is
// the same either way.
McpView extract_mcp(std::string_view bytes, Format format,
                    std::string_view locations, Padded padded = Padded::no);

// extract_mcp() reading JSON and JSONC with nlohmann/json only: the reference
// the fast path must equal, for tests and fuzzers.
McpView extract_mcp_reference(std::string_view bytes, Format format,
                              std::string_view locations);

// A one-line summary of a change: "+github −slack ~fs(args)"; "no MCP change"
// when the server maps are equal; "unparseable: <why>" when after did not
// parse; "initial: 3 servers" when there is no before.
std::string summarize_change(const McpView *before, const McpView &after);

// How one server differs between two views.
struct ServerChange {
  enum class Kind { added, removed, changed } kind;
  std::string name;
  std::vector<std::string> fields; // changed top-level fields: "args", "env"
};
std::vector<ServerChange> semantic_diff(const McpView &before,
                                        const McpView &after);

// Fraction (0..1) of lines changed between two texts, from a line diff:
// (deleted + inserted lines) / (old lines + new lines). Where one line
// became another and nothing else changed, that pair counts for the part
// of it that differs (its bytes outside the common start and end). Lines
// are compared without their ends ("\n", "\r\n", none at the end).
double changed_fraction(std::string_view before, std::string_view after);

// What a unified diff may cost. The line diff's time grows with the lines
// times the edit distance, so two versions that share few lines in order
// (a file rewritten in another layout or order) took time quadratic in
// their lines: 1 s for a 2 MB ~/.claude.json re-indented, 77 s for 16 MB,
// on the daemon's loop for a restore's preview. Past `comparisons` line
// comparisons (about 0.2 s) the search stops and every line between the
// first and the last difference is shown removed, then added: a correct
// diff, not a shortest one, and `whole` says so. Real edits stay far below
// (two fields in a quarter of the projects of a 2 MB file: 85 000).
inline constexpr std::uint64_t k_diff_comparisons = 30'000'000;
struct DiffBudget {
  std::uint64_t comparisons = k_diff_comparisons;
  bool whole = false; // set when the budget ran out
};

// A unified diff with 3 lines of context; empty when equal. `masked`
// diffs the texts as mask_secrets_in_text() shows them (masking only the
// lines the diff needs), with `words` (the secret values of both files'
// servers) when given. Without `budget`, k_diff_comparisons.
struct SecretWords;
enum class DiffSecrets { shown, masked };
std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view before_label,
                         std::string_view after_label,
                         DiffSecrets secrets = DiffSecrets::shown,
                         const SecretWords *words = nullptr,
                         DiffBudget *budget = nullptr);

// Risk of `after` against the previous content (SPEC §5). Without a previous
// snapshot, only emptiness and parse failures count.
Risk assess_risk(std::string_view before_bytes, const McpView *before,
                 std::string_view after_bytes, const McpView &after);

// Replaces the server maps in `current` with those of `snapshot` (both in
// `format`), keeping every other part of `current`: the maps that differ are
// edited in its text. Where those edits do not apply (a layout they do not
// cover), the whole document is written out again, its values kept but not
// its comments or layout (JSON keeps the current file's indentation), and
// *rewritten_whole, when given, says so. Fails with bad_request when either
// does not parse.
Result<std::string> replace_mcp(std::string_view current,
                                std::string_view snapshot, Format format,
                                std::string_view locations,
                                bool *rewritten_whole = nullptr);

// Whether `a` and `b` (both in `format`) differ outside their server maps
// at `locations`: what a whole-file restore changes that restore --only-mcp
// would keep. Values are compared, not text (key order, layout and comments
// do not count); a map left empty by taking the servers out counts as
// absent. std::nullopt when either does not parse.
std::optional<bool> differs_outside_mcp(std::string_view a, std::string_view b,
                                        Format format,
                                        std::string_view locations);

// True for env/header keys that name a token, key, secret, password,
// credential or auth.
bool is_secret_key(std::string_view key);

// How a secret value is hidden: `hint` keeps its last 4 characters for
// recognition ("••••1234"), `redact` replaces it whole with k_redacted.
enum class MaskStyle { hint, redact };
inline constexpr std::string_view k_redacted = "<redacted by mcpbk>";

// Masks secret values inside a canonical server JSON text: values of secret
// keys under "env"/"headers"-like maps and well-known token formats become
// "••••1234" (last 4 characters kept).
std::string mask_secrets_in_json(std::string_view json_text,
                                 MaskStyle style = MaskStyle::hint);

// Masks secret values in a whole file's text (for diff output) by the same
// rules, line by line, keeping the layout.
std::string mask_secrets_in_text(std::string_view text,
                                 MaskStyle style = MaskStyle::hint);

// The secret values of files' servers (the views of a diff's two sides) as
// words to find in their text (see mask_secrets_in_text() below): line
// rules cannot see a value written on another line than its key.
struct SecretWords {
  std::set<std::string> words;
};
SecretWords secret_words(std::initializer_list<const McpView *> views,
                         MaskStyle style = MaskStyle::hint);

// The line rules above, then every whole-word occurrence of `words` (the
// secret values of the documents the text comes from) masked too.
std::string mask_secrets_in_text(std::string_view text, MaskStyle style,
                                 const SecretWords *words);

// Only the second step: every whole-word occurrence of `words` in `text`
// masked, wherever it stands (a server's args or URL holding the value of
// one of its secret env entries).
std::string mask_secret_words(std::string text, MaskStyle style,
                              const SecretWords &words);

} // namespace mcpbk
