#include <common/mcp.hpp>

#include <dtl/dtl.hpp>
#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

namespace mcpbk {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;
using KeyPath = std::vector<std::string>;

// ---------------------------------------------------------------------------
// Parsing

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

// Index just past the string literal starting at `i` (a quote), or the end
// of the text when it is unterminated.
std::size_t skip_string(std::string_view text, std::size_t i) {
  char quote = text[i];
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      return i + 1;
    }
  }
  return text.size();
}

// Index just past the comment starting at `i`, or i when none starts there.
std::size_t skip_comment(std::string_view text, std::size_t i) {
  if (i + 1 >= text.size() || text[i] != '/') {
    return i;
  }
  if (text[i + 1] == '/') {
    std::size_t end = text.find('\n', i);
    return end == std::string_view::npos ? text.size() : end;
  }
  if (text[i + 1] == '*') {
    std::size_t end = text.find("*/", i + 2);
    return end == std::string_view::npos ? text.size() : end + 2;
  }
  return i;
}

struct JsoncText {
  std::string text;
  bool has_content = false; // anything besides whitespace and comments
};

// nlohmann/json skips comments but rejects trailing commas, which JSONC
// allows: blank out every comma that only whitespace and comments separate
// from a closing '}' or ']'. Blanking (not erasing) keeps the line and column
// of parse errors right.
JsoncText blank_trailing_commas(std::string_view input) {
  JsoncText out{std::string(input), false};
  std::string_view text = out.text;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '"') {
      out.has_content = true;
      i = skip_string(text, i);
      continue;
    }
    if (std::size_t end = skip_comment(text, i); end != i) {
      i = end;
      continue;
    }
    if (c == ',') {
      std::size_t j = i + 1;
      while (j < text.size()) {
        if (std::isspace(static_cast<unsigned char>(text[j]))) {
          ++j;
        } else if (std::size_t end = skip_comment(text, j); end != j) {
          j = end;
        } else {
          break;
        }
      }
      if (j < text.size() && (text[j] == '}' || text[j] == ']')) {
        out.text[i] = ' ';
      }
    }
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.has_content = true;
    }
    ++i;
  }
  return out;
}

// "line 3, column 7: syntax error ..." from a nlohmann parse error, without
// the "last read" excerpt (it may hold a secret value). nlohmann counts the
// look-ahead character in its own line and column, so the position is
// recomputed from the byte offset: the last non-blank character read.
std::string json_error_text(const nlohmann::json::parse_error &e,
                            std::string_view text) {
  std::string what = e.what();
  const std::string_view column = ", column ";
  if (auto pos = what.find(column); pos != std::string::npos) {
    auto colon = what.find(": ", pos);
    what.erase(0, colon == std::string::npos ? 0 : colon + 2);
  }
  const std::string_view last_read = "; last read: '";
  if (auto pos = what.find(last_read); pos != std::string::npos) {
    auto end = what.find("'; expected", pos + last_read.size());
    what.erase(pos,
               end == std::string::npos ? std::string::npos : end + 1 - pos);
  }
  if (text.empty()) {
    return what;
  }
  std::size_t at = std::min(e.byte == 0 ? 0 : e.byte - 1, text.size() - 1);
  while (at > 0 && std::isspace(static_cast<unsigned char>(text[at]))) {
    --at;
  }
  std::size_t line_start = text.rfind('\n', at);
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  const auto line =
      1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
  return "line " + std::to_string(line) + ", column " +
         std::to_string(at - line_start + 1) + ": " + what;
}

template <typename J>
tl::expected<J, std::string>
parse_json_text(std::string_view bytes, Format format,
                typename J::parser_callback_t callback = nullptr) {
  if (is_blank(bytes)) {
    return J::object();
  }
  const bool comments = format == Format::jsonc;
  std::string stripped;
  if (comments) {
    JsoncText scan = blank_trailing_commas(bytes);
    if (!scan.has_content) {
      return J::object();
    }
    stripped = std::move(scan.text);
    bytes = stripped;
  }
  try {
    return J::parse(bytes.begin(), bytes.end(), std::move(callback), true,
                    comments);
  } catch (const nlohmann::json::parse_error &e) {
    return tl::unexpected(json_error_text(e, bytes));
  }
}

Json toml_to_json(const toml::node &node) {
  if (const auto *table = node.as_table()) {
    Json out = Json::object();
    for (const auto &[key, value] : *table) {
      out[std::string(key.str())] = toml_to_json(value);
    }
    return out;
  }
  if (const auto *array = node.as_array()) {
    Json out = Json::array();
    for (const auto &value : *array) {
      out.push_back(toml_to_json(value));
    }
    return out;
  }
  if (const auto *s = node.as_string()) {
    return s->get();
  }
  if (const auto *i = node.as_integer()) {
    return i->get();
  }
  if (const auto *f = node.as_floating_point()) {
    return f->get();
  }
  if (const auto *b = node.as_boolean()) {
    return b->get();
  }
  std::ostringstream text;
  if (const auto *d = node.as_date()) {
    text << *d;
  } else if (const auto *t = node.as_time()) {
    text << *t;
  } else if (const auto *dt = node.as_date_time()) {
    text << *dt;
  }
  return text.str();
}

std::string toml_error_text(const toml::parse_error &e) {
  const auto &begin = e.source().begin;
  return "line " + std::to_string(begin.line) + ", column " +
         std::to_string(begin.column) + ": " + std::string(e.description());
}

tl::expected<toml::table, std::string> parse_toml(std::string_view bytes) {
  try {
    return toml::parse(bytes);
  } catch (const toml::parse_error &e) {
    return tl::unexpected(toml_error_text(e));
  }
}

// JSON value of an untagged YAML scalar, by the YAML 1.2 core schema
// (null, booleans, decimal integers and floats; everything else a string).
Json yaml_scalar_to_json(const YAML::Node &node) {
  const std::string &text = node.Scalar();
  if (node.Tag() != "?") {
    return text; // quoted or explicitly tagged
  }
  if (text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  if (!text.empty() &&
      text.find_first_not_of("0123456789+-.eE") == std::string::npos) {
    std::int64_t integer = 0;
    const char *first = text.data() + (text[0] == '+' ? 1 : 0);
    const char *last = text.data() + text.size();
    if (auto [ptr, ec] = std::from_chars(first, last, integer);
        ec == std::errc() && ptr == last) {
      return integer;
    }
    char *end = nullptr;
    double number = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() &&
        text.find_first_of("0123456789") != std::string::npos) {
      return number;
    }
  }
  return text;
}

Json yaml_to_json(const YAML::Node &node) {
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return yaml_scalar_to_json(node);
  case YAML::NodeType::Sequence: {
    Json out = Json::array();
    for (const auto &item : node) {
      out.push_back(yaml_to_json(item));
    }
    return out;
  }
  case YAML::NodeType::Map: {
    Json out = Json::object();
    for (const auto &item : node) {
      std::string key =
          item.first.IsScalar() ? item.first.Scalar() : YAML::Dump(item.first);
      out[key] = yaml_to_json(item.second);
    }
    return out;
  }
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined:
    break;
  }
  return nullptr;
}

std::string yaml_error_text(const YAML::Exception &e) {
  if (e.mark.is_null()) {
    return e.msg;
  }
  return "line " + std::to_string(e.mark.line + 1) + ", column " +
         std::to_string(e.mark.column + 1) + ": " + e.msg;
}

tl::expected<YAML::Node, std::string> parse_yaml(std::string_view bytes) {
  try {
    return YAML::Load(std::string(bytes));
  } catch (const YAML::Exception &e) {
    return tl::unexpected(yaml_error_text(e));
  }
}

// Any format as a JSON document; an empty document is an empty object.
tl::expected<Json, std::string> parse_document(std::string_view bytes,
                                               Format format) {
  switch (format) {
  case Format::json:
  case Format::jsonc:
    return parse_json_text<Json>(bytes, format);
  case Format::toml: {
    auto table = parse_toml(bytes);
    if (!table) {
      return tl::unexpected(table.error());
    }
    return toml_to_json(*table);
  }
  case Format::yaml: {
    auto node = parse_yaml(bytes);
    if (!node) {
      return tl::unexpected(node.error());
    }
    Json doc = yaml_to_json(*node);
    return doc.is_null() ? Json::object() : doc;
  }
  }
  return tl::unexpected(std::string("unknown format"));
}

// ---------------------------------------------------------------------------
// Locations

std::vector<KeyPath> split_locations(std::string_view locations) {
  std::vector<KeyPath> out;
  std::istringstream words{std::string(locations)};
  std::string word;
  while (words >> word) {
    KeyPath path;
    std::size_t start = 0;
    while (true) {
      std::size_t dot = word.find('.', start);
      path.push_back(word.substr(start, dot - start));
      if (dot == std::string::npos) {
        break;
      }
      start = dot + 1;
    }
    out.push_back(std::move(path));
  }
  return out;
}

template <typename J> struct LocationMatch {
  KeyPath path;          // concrete keys
  std::string qualifier; // keys matched by "*", joined by '/'
  const J *node;
};

template <typename J>
void find_location(const J &node, const KeyPath &pattern, std::size_t depth,
                   KeyPath &path, const std::string &qualifier,
                   std::vector<LocationMatch<J>> &out) {
  if (depth == pattern.size()) {
    out.push_back({path, qualifier, &node});
    return;
  }
  if (!node.is_object()) {
    return;
  }
  if (pattern[depth] == "*") {
    for (auto it = node.begin(); it != node.end(); ++it) {
      path.push_back(it.key());
      find_location(*it, pattern, depth + 1, path,
                    qualifier.empty() ? it.key() : qualifier + "/" + it.key(),
                    out);
      path.pop_back();
    }
    return;
  }
  auto it = node.find(pattern[depth]);
  if (it != node.end()) {
    path.push_back(pattern[depth]);
    find_location(*it, pattern, depth + 1, path, qualifier, out);
    path.pop_back();
  }
}

template <typename J>
std::vector<LocationMatch<J>> find_locations(const J &doc,
                                             std::string_view locations) {
  std::vector<LocationMatch<J>> out;
  for (const KeyPath &pattern : split_locations(locations)) {
    KeyPath path;
    find_location(doc, pattern, 0, path, std::string(), out);
  }
  return out;
}

// path[i] is the key at nesting level i + 1 on the way from the root to a
// value; an array level holds k_array_level, which no pattern element (not
// even "*") matches.
constexpr std::string_view k_array_level{"\0[]", 3};

// True when the first n elements of pattern match those of path.
bool prefix_matches(const KeyPath &pattern, const KeyPath &path,
                    std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (path[i] == k_array_level ||
        (pattern[i] != "*" && pattern[i] != path[i])) {
      return false;
    }
  }
  return true;
}

// True when a location may be at or below path: some pattern matches path
// as far as both go.
bool path_wanted(const std::vector<KeyPath> &patterns, const KeyPath &path) {
  return std::any_of(
      patterns.begin(), patterns.end(), [&path](const KeyPath &pattern) {
        return prefix_matches(pattern, path,
                              std::min(pattern.size(), path.size()));
      });
}

// True when path is at or below a location: everything under it is wanted.
bool path_complete(const std::vector<KeyPath> &patterns, const KeyPath &path) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&path](const KeyPath &pattern) {
                       return pattern.size() <= path.size() &&
                              prefix_matches(pattern, path, pattern.size());
                     });
}

// A whole value from simdjson's DOM, as nlohmann/json parses it: integers
// are unsigned when not negative and signed when negative, other numbers
// doubles, and an object keeps the last of duplicate keys. (nlohmann makes
// "-0" a signed 0 and this an unsigned one: equal, and dumped alike.)
Json json_of(simdjson::dom::element element) {
  using Type = simdjson::dom::element_type;
  switch (element.type()) {
  case Type::OBJECT: {
    Json out = Json::object();
    // Named: value_unsafe() returns into the temporary result, which a
    // range-for would not keep alive.
    const simdjson::dom::object object = element.get_object().value_unsafe();
    for (const auto field : object) {
      out[std::string(field.key)] = json_of(field.value);
    }
    return out;
  }
  case Type::ARRAY: {
    Json out = Json::array();
    const simdjson::dom::array array = element.get_array().value_unsafe();
    for (const auto item : array) {
      out.push_back(json_of(item));
    }
    return out;
  }
  case Type::INT64: {
    const std::int64_t value = element.get_int64().value_unsafe();
    return value < 0 ? Json(value) : Json(static_cast<std::uint64_t>(value));
  }
  case Type::UINT64:
    return element.get_uint64().value_unsafe();
  case Type::DOUBLE:
    return element.get_double().value_unsafe();
  case Type::STRING:
    return std::string(element.get_string().value_unsafe());
  case Type::BOOL:
    return element.get_bool().value_unsafe();
  case Type::NULL_VALUE:
    break;
  }
  return nullptr;
}

// The document parse_json_for_locations() builds, from simdjson's DOM:
// objects keep only the keys that may lead to a location, arrays on the way
// keep all their elements, values at a location are whole.
Json pruned_json_of(simdjson::dom::element element,
                    const std::vector<KeyPath> &patterns, KeyPath &path) {
  if (path_complete(patterns, path)) {
    return json_of(element);
  }
  simdjson::dom::object object;
  if (element.get(object) == simdjson::SUCCESS) {
    Json out = Json::object();
    for (const auto field : object) {
      path.emplace_back(field.key);
      if (path_wanted(patterns, path)) {
        out[std::string(field.key)] =
            pruned_json_of(field.value, patterns, path);
      }
      path.pop_back();
    }
    return out;
  }
  simdjson::dom::array array;
  if (element.get(array) == simdjson::SUCCESS) {
    Json out = Json::array();
    path.emplace_back(k_array_level);
    for (const auto item : array) {
      out.push_back(pruned_json_of(item, patterns, path));
    }
    path.pop_back();
    return out;
  }
  return json_of(element);
}

// The parser's buffers (about 3 times the document) are kept for the next
// call after a document up to this size, and freed after a larger one: an
// idle daemon should not hold megabytes for its largest file, and a fresh
// parser costs little next to reading a large document.
constexpr std::size_t k_max_kept_parser_bytes = 64 << 10;

// The document parse_json_for_locations() gives, read by simdjson, several
// times faster than by nlohmann/json. simdjson takes strict JSON only:
// std::nullopt for anything it rejects (comments, trailing commas, invalid
// UTF-8 or escapes, integers beyond 64 bits, numbers out of range, nesting
// deeper than 1024, trailing bytes...), which nlohmann/json must then read
// or explain. Whatever simdjson accepts nlohmann/json reads to the same
// values, so the result does not depend on which one read it.
std::optional<Json> parse_strict_json(std::string_view bytes,
                                      const std::vector<KeyPath> &patterns) {
  // nlohmann/json skips a UTF-8 byte order mark; simdjson does not.
  constexpr std::string_view k_bom = "\xEF\xBB\xBF";
  if (bytes.substr(0, k_bom.size()) == k_bom) {
    bytes.remove_prefix(k_bom.size());
  }
  // The parser copies the text into its own padded buffer (simdjson reads
  // past the end).
  thread_local simdjson::dom::parser parser;
  std::optional<Json> doc;
  simdjson::dom::element root;
  if (parser.parse(bytes.data(), bytes.size()).get(root) == simdjson::SUCCESS) {
    KeyPath path;
    doc = pruned_json_of(root, patterns, path);
  }
  if (bytes.size() > k_max_kept_parser_bytes) {
    parser = simdjson::dom::parser();
  }
  return doc;
}

// How extract_mcp() reads JSON: simdjson first, or nlohmann/json only.
enum class JsonReader { fast, reference };

// Parses JSON keeping only what extract_mcp() can look at: the objects on
// the way to a location and the whole value at one. Everything else is still
// read (syntax errors are the same) but never built, which makes a 2 MB
// ~/.claude.json several times cheaper to extract. The document equals the
// full parse wherever find_locations() looks. Strict JSON (most JSONC files
// too) goes through simdjson, anything else through nlohmann/json.
tl::expected<Json, std::string>
parse_json_for_locations(std::string_view bytes, Format format,
                         std::string_view locations, JsonReader reader) {
  const std::vector<KeyPath> patterns = split_locations(locations);
  if (reader == JsonReader::fast && !is_blank(bytes)) {
    if (auto doc = parse_strict_json(bytes, patterns)) {
      return std::move(*doc);
    }
  }
  KeyPath path;
  auto callback = [&](int depth, Json::parse_event_t event, Json &parsed) {
    const auto level = static_cast<std::size_t>(depth);
    switch (event) {
    case Json::parse_event_t::key:
      path.resize(level > 0 ? level - 1 : 0);
      path.push_back(parsed.get_ref<const std::string &>());
      return path_wanted(patterns, path);
    case Json::parse_event_t::array_start:
      path.resize(level);
      path.emplace_back(k_array_level);
      return true;
    default:
      return true;
    }
  };
  return parse_json_text<Json>(bytes, format, callback);
}

void add_server(McpView &view, const std::string &name, const Json &entry) {
  std::string unique = name;
  for (int n = 2; view.servers.count(unique); ++n) {
    unique = name + "#" + std::to_string(n);
  }
  view.servers.emplace(unique, entry.dump());
}

void collect_servers(McpView &view, const LocationMatch<Json> &match) {
  const std::string suffix =
      match.qualifier.empty() ? std::string() : "@" + match.qualifier;
  const Json &node = *match.node;
  if (node.is_object()) {
    for (const auto &[name, entry] : node.items()) {
      add_server(view, name + suffix, entry);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      const Json &entry = node[i];
      std::string name = std::to_string(i);
      if (entry.is_object()) {
        auto it = entry.find("name");
        if (it != entry.end() && it->is_string()) {
          name = it->get<std::string>();
        }
      }
      add_server(view, name + suffix, entry);
    }
  }
}

// extract_mcp() reading JSON with `reader`.
McpView extract(std::string_view bytes, Format format,
                std::string_view locations, JsonReader reader) {
  McpView view;
  view.empty = is_blank(bytes);
  try {
    auto doc = format == Format::json || format == Format::jsonc
                   ? parse_json_for_locations(bytes, format, locations, reader)
                   : parse_document(bytes, format);
    if (!doc) {
      view.parse_error = doc.error();
      return view;
    }
    view.parsed = true;
    for (const auto &match : find_locations(*doc, locations)) {
      collect_servers(view, match);
    }
  } catch (const std::exception &e) {
    // Conversions may still throw (e.g. nesting too deep for yaml-cpp).
    view.parsed = false;
    view.servers.clear();
    view.parse_error = e.what();
  }
  return view;
}

// ---------------------------------------------------------------------------
// Line diffs

// Lines with their terminators, so that a missing final newline is a change,
// as views into `text`: line_stats() runs on every recorded change and must
// not copy a 2 MB file line by line.
std::vector<std::string_view> split_line_views(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

// The same lines as strings, for dtl.
std::vector<std::string> split_lines(std::string_view text) {
  const auto views = split_line_views(text);
  return {views.begin(), views.end()};
}

using LineDiff = dtl::Diff<std::string, std::vector<std::string>>;

// dtl's diff costs O((M+N)·D) and D cannot be bounded in advance (a reordered
// file has no changed line yet a large D): above this many lines in the
// changed middle, the position-insensitive count below is used instead. It
// equals the edit distance whenever no lines were moved; a full reversal of
// this many lines takes dtl about half a second.
constexpr std::size_t k_max_exact_lines = 30'000;

struct LineStats {
  std::uint64_t changed = 0; // deleted + inserted lines
  std::uint64_t total = 0;   // old lines + new lines
};

LineStats line_stats(std::string_view before, std::string_view after) {
  std::vector<std::string_view> a = split_line_views(before);
  std::vector<std::string_view> b = split_line_views(after);
  LineStats stats{0, a.size() + b.size()};
  // A common prefix and suffix are never part of a shortest edit script;
  // trimming them keeps large, mostly equal files cheap to compare.
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  std::vector<std::string_view> mid_a(a.begin() + static_cast<long>(prefix),
                                      a.end() - static_cast<long>(suffix));
  std::vector<std::string_view> mid_b(b.begin() + static_cast<long>(prefix),
                                      b.end() - static_cast<long>(suffix));
  if (mid_a.empty() || mid_b.empty()) {
    stats.changed = mid_a.size() + mid_b.size();
    return stats;
  }
  if (mid_a.size() + mid_b.size() > k_max_exact_lines) {
    // Lines present more often on one side than on the other are deleted or
    // inserted: a lower bound of the edit distance.
    std::unordered_map<std::string_view, long> balance;
    for (const auto &line : mid_a) {
      ++balance[line];
    }
    for (const auto &line : mid_b) {
      --balance[line];
    }
    for (const auto &[line, count] : balance) {
      stats.changed += static_cast<std::uint64_t>(std::labs(count));
    }
    return stats;
  }
  // dtl compares elements many times: compare line hashes, not strings
  // (a collision can only make the estimate slightly low).
  auto hashes = [](const std::vector<std::string_view> &lines) {
    std::vector<std::size_t> out;
    out.reserve(lines.size());
    for (const auto &line : lines) {
      out.push_back(std::hash<std::string_view>{}(line));
    }
    return out;
  };
  dtl::Diff<std::size_t, std::vector<std::size_t>> diff(hashes(mid_a),
                                                        hashes(mid_b));
  diff.onOnlyEditDistance();
  diff.compose();
  stats.changed = static_cast<std::uint64_t>(diff.getEditDistance());
  return stats;
}

// ---------------------------------------------------------------------------
// Masking

constexpr std::string_view k_mask = "\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2"
                                    "\xE2\x80\xA2"; // "••••"

bool is_utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// "••••" and the last 4 characters; "••••" alone for values shorter than 8
// characters; with MaskStyle::redact, k_redacted and nothing of the value.
// Variable references ("${GITHUB_TOKEN}", "{env:X}", "$X") hold no secret and
// are kept.
std::string mask_value(std::string_view value, MaskStyle style) {
  auto is_reference = [](std::string_view v) {
    if (v.size() > 3 && v.substr(0, 2) == "${" && v.back() == '}' &&
        v.find('}') == v.size() - 1) {
      return true;
    }
    if (v.size() > 6 && v.substr(0, 5) == "{env:" && v.back() == '}' &&
        v.find('}') == v.size() - 1) {
      return true;
    }
    return v.size() > 1 && v[0] == '$' &&
           std::all_of(v.begin() + 1, v.end(), [](unsigned char c) {
             return std::isalnum(c) || c == '_';
           });
  };
  if (value.empty() || is_reference(value)) {
    return std::string(value);
  }
  if (style == MaskStyle::redact) {
    return std::string(k_redacted);
  }
  std::size_t characters = 0;
  std::size_t tail = value.size();
  for (std::size_t i = value.size(); i > 0; --i) {
    if (!is_utf8_continuation(value[i - 1])) {
      ++characters;
      if (characters <= 4) {
        tail = i - 1;
      }
    }
  }
  if (characters < 8) {
    return std::string(k_mask);
  }
  return std::string(k_mask) + std::string(value.substr(tail));
}

struct TokenFormat {
  std::string_view prefix;
  std::string_view extra_chars; // allowed besides ASCII letters and digits
  std::size_t min_body;
  bool keep_prefix; // "Bearer " stays visible
};

constexpr std::array<TokenFormat, 18> k_token_formats = {{
    {"ghp_", "", 20, false},
    {"gho_", "", 20, false},
    {"ghu_", "", 20, false},
    {"ghs_", "", 20, false},
    {"ghr_", "", 20, false},
    {"github_pat_", "_", 20, false},
    {"glpat-", "_-", 20, false},
    {"sk-", "_-", 20, false},
    {"xoxb-", "-", 10, false},
    {"xoxp-", "-", 10, false},
    {"xoxa-", "-", 10, false},
    {"xoxr-", "-", 10, false},
    {"xoxs-", "-", 10, false},
    {"AKIA", "", 16, false},
    {"ASIA", "", 16, false},
    {"AIza", "_-", 30, false},
    {"eyJ", "_-.", 30, false},
    {"Bearer ", "_-.~+/=", 8, true},
}};

bool is_token_char(char c, std::string_view extra) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         extra.find(c) != std::string_view::npos;
}

// Replaces every well-known token format inside a text by its mask.
std::string mask_tokens(std::string_view text, MaskStyle style) {
  // Characters that start some token format: text between them is copied
  // in runs, not character by character.
  static const std::array<bool, 256> k_starts = [] {
    std::array<bool, 256> starts{};
    for (const TokenFormat &format : k_token_formats) {
      starts[static_cast<unsigned char>(format.prefix[0])] = true;
    }
    return starts;
  }();
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!k_starts[static_cast<unsigned char>(text[i])]) {
      std::size_t next = i + 1;
      while (next < text.size() &&
             !k_starts[static_cast<unsigned char>(text[next])]) {
        ++next;
      }
      out.append(text.substr(i, next - i));
      i = next;
      continue;
    }
    bool masked = false;
    // Restore and diff mask whole files (2 MB for ~/.claude.json): test the
    // first character before anything dearer, and the word boundary once.
    std::optional<bool> boundary;
    for (const TokenFormat &format : k_token_formats) {
      if (text[i] != format.prefix[0]) {
        continue;
      }
      if (!boundary) {
        boundary =
            i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]));
      }
      if (!*boundary || text.substr(i, format.prefix.size()) != format.prefix) {
        continue;
      }
      std::size_t end = i + format.prefix.size();
      while (end < text.size() &&
             is_token_char(text[end], format.extra_chars)) {
        ++end;
      }
      if (end - i - format.prefix.size() < format.min_body) {
        continue;
      }
      std::size_t start = format.keep_prefix ? i + format.prefix.size() : i;
      out.append(text.substr(i, start - i));
      out += mask_value(text.substr(start, end - start), style);
      i = end;
      masked = true;
      break;
    }
    if (!masked) {
      out += text[i];
      ++i;
    }
  }
  return out;
}

// Maps whose entries are secrets when their key names one.
bool is_secret_container(std::string_view key) {
  std::string lower(key);
  std::transform(
      lower.begin(), lower.end(), lower.begin(),
      [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "env" || lower == "envs" || lower == "environment" ||
         lower == "headers" || lower == "http_headers" || lower == "oauth" ||
         lower == "oauthclient";
}

void mask_json(Json &node, bool secret_map, MaskStyle style) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      Json &value = it.value();
      if (value.is_string()) {
        const auto &text = value.get_ref<const std::string &>();
        value = secret_map && is_secret_key(it.key())
                    ? mask_value(text, style)
                    : mask_tokens(text, style);
      } else {
        mask_json(value, is_secret_container(it.key()), style);
      }
    }
  } else if (node.is_array()) {
    for (Json &value : node) {
      if (value.is_string()) {
        value = mask_tokens(value.get_ref<const std::string &>(), style);
      } else {
        mask_json(value, false, style);
      }
    }
  }
}

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
         c == '.';
}

// Masks `key: value`, `key = value` and `"key": "value"` pairs of secret keys
// in one line. Bare (unquoted) values count only for the line's first key, as
// in YAML and TOML; JSON and TOML inline tables are scanned pair by pair.
std::string mask_pairs_in_line(std::string_view line, MaskStyle style) {
  std::string out;
  std::size_t first_key = line.find_first_not_of(" \t+-");
  std::size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    const std::size_t key_start = i;
    std::size_t key_end;
    std::string key;
    if (c == '"' || c == '\'') {
      key_end = skip_string(line, i);
      if (key_end - i < 2) {
        out.append(line.substr(i));
        break;
      }
      key = std::string(line.substr(i + 1, key_end - i - 2));
    } else if (is_key_char(c) && (i == 0 || !is_key_char(line[i - 1]))) {
      key_end = i;
      while (key_end < line.size() && is_key_char(line[key_end])) {
        ++key_end;
      }
      key = std::string(line.substr(i, key_end - i));
    } else {
      out += c;
      ++i;
      continue;
    }
    std::size_t sep = line.find_first_not_of(" \t", key_end);
    if (sep == std::string_view::npos ||
        (line[sep] != ':' && line[sep] != '=')) {
      out.append(line.substr(i, key_end - i));
      i = key_end;
      continue;
    }
    std::size_t value = line.find_first_not_of(" \t", sep + 1);
    out.append(line.substr(
        i, (value == std::string_view::npos ? sep + 1 : value) - i));
    if (value == std::string_view::npos) {
      i = line.size();
      break;
    }
    i = value;
    const bool secret = is_secret_key(key);
    if (line[value] == '"' || line[value] == '\'') {
      std::size_t end = skip_string(line, value);
      bool closed = end - value >= 2 && line[end - 1] == line[value];
      if (secret && closed) {
        out += line[value];
        out += mask_value(line.substr(value + 1, end - value - 2), style);
        out += line[value];
      } else {
        out.append(line.substr(value, end - value));
      }
      i = end;
    } else if (secret && key_start == first_key &&
               std::string_view("{[|>&*").find(line[value]) ==
                   std::string_view::npos) {
      std::size_t end = line.find(" #", value);
      if (end == std::string_view::npos) {
        end = line.size();
      }
      std::size_t last = line.find_last_not_of(" \t\r\n", end - 1);
      std::size_t bare_end = last == std::string_view::npos ? value : last + 1;
      bare_end = std::max(bare_end, value);
      out += mask_value(line.substr(value, bare_end - value), style);
      out.append(line.substr(bare_end));
      i = line.size();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Replacing the MCP part

const char *k_whole_file_advice = "restore the whole file instead";

Error current_unparseable(const std::string &why) {
  return Error{ErrorCode::bad_request, "the current file does not parse (" +
                                           why + "); " + k_whole_file_advice};
}

Error snapshot_unparseable(const std::string &why) {
  return Error{ErrorCode::bad_request,
               "the snapshot does not parse (" + why + ")"};
}

std::string dotted(const KeyPath &path) {
  std::string out;
  for (const auto &key : path) {
    out += (out.empty() ? "" : ".") + key;
  }
  return out;
}

Error not_a_map(const KeyPath &path, std::size_t depth) {
  KeyPath parent(path.begin(), path.begin() + static_cast<long>(depth));
  return Error{
      ErrorCode::bad_request,
      "cannot place " + dotted(path) + " in the current file: " +
          (parent.empty() ? std::string("its top level") : dotted(parent)) +
          " is not a map; " + k_whole_file_advice};
}

template <typename J>
std::vector<KeyPath> concrete_paths(const J &doc, std::string_view locations) {
  std::vector<KeyPath> out;
  for (auto &match : find_locations(doc, locations)) {
    out.push_back(std::move(match.path));
  }
  return out;
}

// The indentation of a JSON text: the run of equal leading characters (spaces
// or tabs) of its first indented line; -1 (compact) when no line is indented,
// 2 spaces for an empty file.
std::pair<int, char> detect_indent(std::string_view text) {
  if (is_blank(text)) {
    return {2, ' '};
  }
  std::size_t pos = text.find('\n');
  while (pos != std::string_view::npos) {
    const std::size_t start = pos + 1;
    const char ch = start < text.size() ? text[start] : '\n';
    if (ch == ' ' || ch == '\t') {
      std::size_t width = 0;
      while (start + width < text.size() && text[start + width] == ch) {
        ++width;
      }
      const char next =
          start + width < text.size() ? text[start + width] : '\n';
      if (next != '\n' && next != '\r') {
        return {static_cast<int>(width), ch};
      }
    }
    pos = text.find('\n', start);
  }
  return {-1, ' '};
}

Result<std::string> replace_json(std::string_view current,
                                 std::string_view snapshot, Format format,
                                 std::string_view locations) {
  auto snap = parse_json_text<OrderedJson>(snapshot, format);
  if (!snap) {
    return tl::unexpected(snapshot_unparseable(snap.error()));
  }
  auto cur = parse_json_text<OrderedJson>(current, format);
  if (!cur) {
    return tl::unexpected(current_unparseable(cur.error()));
  }
  std::vector<KeyPath> wanted = concrete_paths(*snap, locations);
  std::vector<KeyPath> present = concrete_paths(*cur, locations);
  for (const KeyPath &path : wanted) {
    const OrderedJson *source = &*snap;
    for (const auto &key : path) {
      source = &source->at(key);
    }
    OrderedJson *node = &*cur;
    for (std::size_t depth = 0; depth < path.size(); ++depth) {
      if (node->is_null()) {
        *node = OrderedJson::object();
      }
      if (!node->is_object()) {
        return tl::unexpected(not_a_map(path, depth));
      }
      node = &(*node)[path[depth]];
    }
    *node = *source;
  }
  for (const KeyPath &path : present) {
    if (std::find(wanted.begin(), wanted.end(), path) != wanted.end()) {
      continue;
    }
    OrderedJson *node = &*cur;
    for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
      node = &node->at(path[depth]);
    }
    node->erase(path.back());
  }
  auto [indent, indent_char] = detect_indent(current);
  std::string out = cur->dump(indent, indent_char);
  if (current.empty() || current.back() == '\n') {
    out += '\n';
  }
  return out;
}

Result<std::string> replace_toml(std::string_view current,
                                 std::string_view snapshot,
                                 std::string_view locations) {
  auto snap = parse_toml(snapshot);
  if (!snap) {
    return tl::unexpected(snapshot_unparseable(snap.error()));
  }
  auto cur = parse_toml(current);
  if (!cur) {
    return tl::unexpected(current_unparseable(cur.error()));
  }
  std::vector<KeyPath> wanted = concrete_paths(toml_to_json(*snap), locations);
  std::vector<KeyPath> present = concrete_paths(toml_to_json(*cur), locations);
  for (const KeyPath &path : wanted) {
    const toml::node *source = &*snap;
    for (const auto &key : path) {
      source = source->as_table()->get(key);
    }
    toml::table *table = &*cur;
    for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
      toml::node *child = table->get(path[depth]);
      if (!child) {
        child =
            table->insert(path[depth], toml::table{}).first->second.as_table();
      }
      table = child->as_table();
      if (!table) {
        return tl::unexpected(not_a_map(path, depth + 1));
      }
    }
    source->visit([&](const auto &value) {
      table->insert_or_assign(path.back(), value);
    });
  }
  for (const KeyPath &path : present) {
    if (std::find(wanted.begin(), wanted.end(), path) != wanted.end()) {
      continue;
    }
    toml::table *table = &*cur;
    for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
      table = table->get(path[depth])->as_table();
    }
    table->erase(path.back());
  }
  std::ostringstream out;
  // Basic (double-quoted) strings, as Codex and most people write them.
  out << toml::toml_formatter(*cur,
                              toml::toml_formatter::default_flags &
                                  ~toml::format_flags::allow_literal_strings)
      << '\n';
  return out.str();
}

// Emits a YAML node keeping quoted scalars quoted (yaml-cpp would otherwise
// write "123" as 123, changing its type) and flow collections in flow style.
void emit_yaml(YAML::Emitter &out, const YAML::Node &node) {
  switch (node.Type()) {
  case YAML::NodeType::Map:
    if (node.Style() == YAML::EmitterStyle::Flow) {
      out << YAML::Flow;
    }
    out << YAML::BeginMap;
    for (const auto &item : node) {
      out << YAML::Key;
      emit_yaml(out, item.first);
      out << YAML::Value;
      emit_yaml(out, item.second);
    }
    out << YAML::EndMap;
    break;
  case YAML::NodeType::Sequence:
    if (node.Style() == YAML::EmitterStyle::Flow) {
      out << YAML::Flow;
    }
    out << YAML::BeginSeq;
    for (const auto &item : node) {
      emit_yaml(out, item);
    }
    out << YAML::EndSeq;
    break;
  case YAML::NodeType::Scalar:
    if (node.Tag() == "!") {
      out << YAML::DoubleQuoted;
    }
    out << node.Scalar();
    break;
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined:
    out << YAML::Null;
    break;
  }
}

Result<std::string> replace_yaml(std::string_view current,
                                 std::string_view snapshot,
                                 std::string_view locations) {
  auto snap = parse_yaml(snapshot);
  if (!snap) {
    return tl::unexpected(snapshot_unparseable(snap.error()));
  }
  auto cur = parse_yaml(current);
  if (!cur) {
    return tl::unexpected(current_unparseable(cur.error()));
  }
  if (cur->IsNull() || !cur->IsDefined()) {
    *cur = YAML::Node(YAML::NodeType::Map);
  }
  std::vector<KeyPath> wanted = concrete_paths(yaml_to_json(*snap), locations);
  std::vector<KeyPath> present = concrete_paths(yaml_to_json(*cur), locations);
  // yaml-cpp's Node::operator= assigns through to the referenced node;
  // reset() is what rebinds a handle while walking.
  for (const KeyPath &path : wanted) {
    YAML::Node source;
    source.reset(*snap);
    for (const auto &key : path) {
      YAML::Node child = source[key];
      source.reset(child);
    }
    YAML::Node node;
    node.reset(*cur);
    for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
      if (!node.IsMap()) {
        return tl::unexpected(not_a_map(path, depth));
      }
      YAML::Node child = node[path[depth]];
      if (!child.IsDefined() || child.IsNull()) {
        node[path[depth]] = YAML::Node(YAML::NodeType::Map);
        child = node[path[depth]];
      }
      node.reset(child);
    }
    if (!node.IsMap()) {
      return tl::unexpected(not_a_map(path, path.size() - 1));
    }
    node[path.back()] = YAML::Clone(source);
  }
  for (const KeyPath &path : present) {
    if (std::find(wanted.begin(), wanted.end(), path) != wanted.end()) {
      continue;
    }
    YAML::Node node;
    node.reset(*cur);
    for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
      YAML::Node child = node[path[depth]];
      node.reset(child);
    }
    node.remove(path.back());
  }
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  emit_yaml(out, *cur);
  return std::string(out.c_str()) + "\n";
}

} // namespace

// ---------------------------------------------------------------------------

std::vector<std::string> McpView::server_names() const {
  std::vector<std::string> names;
  names.reserve(servers.size());
  for (const auto &[name, entry] : servers) {
    names.push_back(name);
  }
  return names;
}

McpView extract_mcp(std::string_view bytes, Format format,
                    std::string_view locations) {
  return extract(bytes, format, locations, JsonReader::fast);
}

McpView extract_mcp_reference(std::string_view bytes, Format format,
                              std::string_view locations) {
  return extract(bytes, format, locations, JsonReader::reference);
}

std::vector<ServerChange> semantic_diff(const McpView &before,
                                        const McpView &after) {
  std::vector<ServerChange> changes;
  auto b = before.servers.begin();
  auto a = after.servers.begin();
  while (b != before.servers.end() || a != after.servers.end()) {
    if (a == after.servers.end() ||
        (b != before.servers.end() && b->first < a->first)) {
      changes.push_back({ServerChange::Kind::removed, b->first, {}});
      ++b;
    } else if (b == before.servers.end() || a->first < b->first) {
      changes.push_back({ServerChange::Kind::added, a->first, {}});
      ++a;
    } else {
      if (b->second != a->second) {
        ServerChange change{ServerChange::Kind::changed, a->first, {}};
        Json old_entry = Json::parse(b->second, nullptr, false);
        Json new_entry = Json::parse(a->second, nullptr, false);
        if (old_entry.is_object() && new_entry.is_object()) {
          std::set<std::string> keys;
          for (const auto &item : old_entry.items()) {
            keys.insert(item.key());
          }
          for (const auto &item : new_entry.items()) {
            keys.insert(item.key());
          }
          for (const auto &key : keys) {
            auto o = old_entry.find(key);
            auto n = new_entry.find(key);
            if (o == old_entry.end() || n == new_entry.end() || *o != *n) {
              change.fields.push_back(key);
            }
          }
        }
        changes.push_back(std::move(change));
      }
      ++b;
      ++a;
    }
  }
  return changes;
}

std::string summarize_change(const McpView *before, const McpView &after) {
  auto count = [](std::size_t n) {
    return std::to_string(n) + (n == 1 ? " server" : " servers");
  };
  if (!after.parsed) {
    return "unparseable: " + after.parse_error;
  }
  if (!before) {
    return after.empty ? "initial: empty"
                       : "initial: " + count(after.servers.size());
  }
  if (after.empty && !before->empty) {
    return "emptied";
  }
  if (!before->parsed) {
    return "parseable again: " + count(after.servers.size());
  }
  std::vector<ServerChange> changes = semantic_diff(*before, after);
  if (changes.empty()) {
    return "no MCP change";
  }
  // Grouped as added, removed, changed; at most k_max_items named.
  constexpr std::size_t k_max_items = 12;
  std::string out;
  std::size_t shown = 0;
  for (auto kind : {ServerChange::Kind::added, ServerChange::Kind::removed,
                    ServerChange::Kind::changed}) {
    for (const ServerChange &change : changes) {
      if (change.kind != kind || shown == k_max_items) {
        continue;
      }
      if (!out.empty()) {
        out += ' ';
      }
      switch (kind) {
      case ServerChange::Kind::added:
        out += "+" + change.name;
        break;
      case ServerChange::Kind::removed:
        out += "\xE2\x88\x92" + change.name; // U+2212 minus sign
        break;
      case ServerChange::Kind::changed:
        out += "~" + change.name;
        if (!change.fields.empty()) {
          out += '(';
          for (std::size_t i = 0; i < change.fields.size(); ++i) {
            out += (i ? "," : "") + change.fields[i];
          }
          out += ')';
        }
        break;
      }
      ++shown;
    }
  }
  if (changes.size() > shown) {
    out += " and " + std::to_string(changes.size() - shown) + " more";
  }
  return out;
}

double changed_fraction(std::string_view before, std::string_view after) {
  LineStats stats = line_stats(before, after);
  if (stats.total == 0) {
    return 0.0;
  }
  return static_cast<double>(stats.changed) / static_cast<double>(stats.total);
}

std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view before_label,
                         std::string_view after_label) {
  if (before == after) {
    return {};
  }
  std::vector<std::string> a = split_lines(before);
  std::vector<std::string> b = split_lines(after);
  // Equal lines far from any change only cost time: keep 3 of them around the
  // changed middle and offset the hunk line numbers.
  constexpr std::size_t k_context = 3;
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const std::size_t skip_front = prefix > k_context ? prefix - k_context : 0;
  const std::size_t skip_back = suffix > k_context ? suffix - k_context : 0;
  std::vector<std::string> mid_a(a.begin() + static_cast<long>(skip_front),
                                 a.end() - static_cast<long>(skip_back));
  std::vector<std::string> mid_b(b.begin() + static_cast<long>(skip_front),
                                 b.end() - static_cast<long>(skip_back));
  LineDiff diff(mid_a, mid_b);
  if (mid_a.size() + mid_b.size() > 100'000) {
    diff.onHuge();
  }
  diff.compose();
  diff.composeUnifiedHunks();

  std::string out;
  out += "--- ";
  out += before_label;
  out += "\n+++ ";
  out += after_label;
  out += '\n';
  auto range = [](long long start, long long length, std::size_t offset) {
    // An empty range starts at the line before it (0 for an empty file).
    long long first = length == 0 ? start - 1 : start;
    return std::to_string(first + static_cast<long long>(offset)) + "," +
           std::to_string(length);
  };
  for (const auto &hunk : diff.getUniHunks()) {
    out += "@@ -" + range(hunk.a, hunk.b, skip_front) + " +" +
           range(hunk.c, hunk.d, skip_front) + " @@\n";
    for (const auto *lines : {&hunk.common[0], &hunk.change, &hunk.common[1]}) {
      for (const auto &[line, info] : *lines) {
        out += info.type == dtl::SES_ADD      ? '+'
               : info.type == dtl::SES_DELETE ? '-'
                                              : ' ';
        out += line;
        if (line.empty() || line.back() != '\n') {
          out += "\n\\ No newline at end of file\n";
        }
      }
    }
  }
  return out;
}

Risk assess_risk(std::string_view before_bytes, const McpView *before,
                 std::string_view after_bytes, const McpView &after) {
  const bool after_empty = is_blank(after_bytes);
  if (!before) {
    return after_empty || !after.parsed ? Risk::critical : Risk::low;
  }
  if (after_empty) {
    return is_blank(before_bytes) ? Risk::low : Risk::critical;
  }
  if (!after.parsed && before->parsed) {
    return Risk::critical;
  }
  if (!before->servers.empty() && after.servers.empty()) {
    return Risk::critical;
  }
  LineStats stats = line_stats(before_bytes, after_bytes);
  auto at_least = [&stats](std::uint64_t percent) {
    return stats.changed * 100 >= percent * stats.total;
  };
  if (at_least(90)) {
    return Risk::critical;
  }
  std::size_t removed = 0;
  for (const auto &[name, entry] : before->servers) {
    removed += after.servers.count(name) ? 0 : 1;
  }
  if (at_least(75) || removed * 2 > before->servers.size()) {
    return Risk::high;
  }
  if (at_least(20) || removed > 0) {
    return Risk::medium;
  }
  return Risk::low;
}

Result<std::string> replace_mcp(std::string_view current,
                                std::string_view snapshot, Format format,
                                std::string_view locations) {
  try {
    switch (format) {
    case Format::json:
    case Format::jsonc:
      return replace_json(current, snapshot, format, locations);
    case Format::toml:
      return replace_toml(current, snapshot, locations);
    case Format::yaml:
      return replace_yaml(current, snapshot, locations);
    }
  } catch (const std::exception &e) {
    return fail(ErrorCode::internal,
                std::string("replacing the MCP servers failed: ") + e.what());
  }
  return fail(ErrorCode::bad_request, "unknown format");
}

bool is_secret_key(std::string_view key) {
  std::string lower(key);
  std::transform(
      lower.begin(), lower.end(), lower.begin(),
      [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view word :
       {"token", "secret", "passw", "credential", "auth", "bearer", "apikey",
        "api_key", "api-key", "private_key", "privatekey", "access_key",
        "accesskey", "cookie"}) {
    if (lower.find(word) != std::string::npos) {
      return true;
    }
  }
  // "key" must be a word of its own (OPENAI_API_KEY, x-api-key, apiKey), so
  // KEYBOARD_LAYOUT or MONKEY_MODE are not secrets.
  std::vector<std::string> words(1);
  for (std::size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    bool camel_break = i > 0 && std::isupper(c) &&
                       std::islower(static_cast<unsigned char>(key[i - 1]));
    if (!std::isalnum(c) || camel_break) {
      words.emplace_back();
    }
    if (std::isalnum(c)) {
      words.back() += static_cast<char>(std::tolower(c));
    }
  }
  return std::any_of(words.begin(), words.end(), [](const std::string &w) {
    return w == "key" || w == "keys" || w == "pat";
  });
}

std::string mask_secrets_in_json(std::string_view json_text, MaskStyle style) {
  Json doc = Json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) {
    return mask_secrets_in_text(json_text, style);
  }
  mask_json(doc, false, style);
  return doc.dump();
}

std::string mask_secrets_in_text(std::string_view text, MaskStyle style) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    out += mask_tokens(
        mask_pairs_in_line(text.substr(start, end - start), style), style);
    if (nl == std::string_view::npos) {
      break;
    }
    out += '\n';
    start = nl + 1;
  }
  return out;
}

} // namespace mcpbk
