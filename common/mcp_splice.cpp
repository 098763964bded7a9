#include <common/mcp_splice.hpp>

#include <common/yaml_load.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <unordered_map>

namespace mcpbk::detail {

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

namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c));
}

std::size_t line_start(std::string_view text, std::size_t pos) {
  const std::size_t newline = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  return pos == 0 || newline == std::string_view::npos ? 0 : newline + 1;
}

// The spaces and tabs that begin the line holding `pos`.
std::string line_indent(std::string_view text, std::size_t pos) {
  std::size_t start = line_start(text, pos);
  std::size_t end = start;
  while (end < pos && (text[end] == ' ' || text[end] == '\t')) {
    ++end;
  }
  return std::string(text.substr(start, end - start));
}

// Past the spaces and tabs from `i`.
std::size_t skip_spaces(std::string_view text, std::size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
    ++i;
  }
  return i;
}

// True when only spaces and tabs precede `pos` on its line.
bool first_on_line(std::string_view text, std::size_t pos) {
  for (std::size_t i = line_start(text, pos); i < pos; ++i) {
    if (text[i] != ' ' && text[i] != '\t') {
      return false;
    }
  }
  return true;
}

// `text` with the indentation `from` that begins its second and later lines
// replaced by `to` (lines indented otherwise are left alone).
std::string reindent(std::string_view text, std::string_view from,
                     std::string_view to) {
  if (from == to) {
    return std::string(text);
  }
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (true) {
    const std::size_t newline = text.find('\n', pos);
    if (newline == std::string_view::npos) {
      out.append(text.substr(pos));
      return out;
    }
    out.append(text.substr(pos, newline + 1 - pos));
    pos = newline + 1;
    if (text.substr(pos).starts_with(from) && pos + from.size() < text.size() &&
        text[pos + from.size()] != '\n') {
      out.append(to);
      pos += from.size();
    }
  }
}

void replace_range(std::string &text, std::size_t begin, std::size_t end,
                   std::string_view with) {
  text.replace(begin, end - begin, with);
}

// `text` with every lone "\n" made "\r\n".
std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out += '\r';
    }
    out += text[i];
  }
  return out;
}

// `text` with every "\r\n" made "\n".
std::string to_lf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      out += text[i];
    }
  }
  return out;
}

// `text` with the line ends of `file`: "\r\n" when the file has them (a
// snapshot saved on another system, or a map written out in a new layout,
// joins a CRLF file).
std::string with_line_ends_of(std::string_view file, std::string_view text) {
  return file.find("\r\n") == std::string_view::npos ? std::string(text)
                                                     : to_crlf(text);
}

// Bytes [begin, end) of a text become `text`.
struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};
using Edits = std::vector<Edit>;

// Makes edits of one text, all given in its offsets, from the last one
// back; two at the same place in the order they were listed. Their text
// takes the file's line ends (edits are written with "\n", or come from a
// snapshot saved with the other kind). False (and
// `out` unchanged) when two of them overlap.
bool apply_edits(std::string &out, const Edits &edits) {
  std::vector<std::size_t> order(edits.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return edits[a].begin != edits[b].begin ? edits[a].begin > edits[b].begin
                                            : a > b;
  });
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Edit &edit = edits[order[i]];
    if (edit.begin > edit.end || edit.end > out.size() ||
        (i + 1 < order.size() && edits[order[i + 1]].end > edit.begin)) {
      return false;
    }
  }
  const bool crlf = out.find("\r\n") != std::string::npos;
  for (std::size_t i : order) {
    const Edit &edit = edits[i];
    replace_range(out, edit.begin, edit.end,
                  crlf ? to_crlf(edit.text) : to_lf(edit.text));
  }
  return true;
}

// ---------------------------------------------------------------------------
// JSON and JSONC

struct JsonMember {
  std::size_t key_start = 0; // the key's opening quote
  std::size_t key_end = 0;   // past its closing quote
  std::size_t value_start = 0;
  std::size_t value_end = 0;
  std::string key;
};

struct JsonObject {
  std::size_t open = 0;  // '{'
  std::size_t close = 0; // '}'
  std::vector<JsonMember> members;
};

// Finds where values are in a JSON or JSONC text that parses (comments and
// trailing commas allowed). Keys are decoded by nlohmann/json.
class JsonText {
public:
  explicit JsonText(std::string_view text) : m_text(text) {}

  std::size_t skip_blank(std::size_t i) const {
    while (i < m_text.size()) {
      if (is_space(m_text[i])) {
        ++i;
      } else if (std::size_t end = skip_comment(m_text, i); end != i) {
        i = end;
      } else {
        break;
      }
    }
    return i;
  }

  // Past the value that starts at `i`.
  std::size_t value_end(std::size_t i) const {
    if (i >= m_text.size()) {
      return i;
    }
    const char c = m_text[i];
    if (c == '"') {
      return skip_string(m_text, i);
    }
    if (c == '{' || c == '[') {
      int depth = 0;
      while (i < m_text.size()) {
        switch (m_text[i]) {
        case '"':
          i = skip_string(m_text, i);
          continue;
        case '/':
          if (std::size_t end = skip_comment(m_text, i); end != i) {
            i = end;
            continue;
          }
          break;
        case '{':
        case '[':
          ++depth;
          break;
        case '}':
        case ']':
          if (--depth == 0) {
            return i + 1;
          }
          break;
        default:
          break;
        }
        ++i;
      }
      return i;
    }
    while (i < m_text.size() && !is_space(m_text[i]) && m_text[i] != ',' &&
           m_text[i] != '}' && m_text[i] != ']' && m_text[i] != '/') {
      ++i;
    }
    return i;
  }

  // The object that starts at `i`, or nullptr; each is read once.
  const JsonObject *object_at(std::size_t i) const {
    auto [it, added] = m_objects.try_emplace(i);
    if (added) {
      it->second = read_object(i);
    }
    return it->second ? &*it->second : nullptr;
  }

  const JsonObject *root() const {
    const std::size_t bom = m_text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    return object_at(skip_blank(bom));
  }

  // The objects at path[0..d) for d = 0, 1, ... as far as each exists and
  // is an object, up to the parent of path's last key. Empty when the root
  // is not an object.
  std::vector<const JsonObject *> descend(const KeyPath &path) const {
    std::vector<const JsonObject *> objects;
    const JsonObject *object = root();
    while (object != nullptr) {
      objects.push_back(object);
      if (objects.size() == path.size()) {
        break;
      }
      const JsonMember *member = find(*object, path[objects.size() - 1]);
      if (member == nullptr) {
        break;
      }
      object = object_at(member->value_start);
    }
    return objects;
  }

  std::string_view slice(std::size_t begin, std::size_t end) const {
    return m_text.substr(begin, end - begin);
  }

  std::string_view text() const { return m_text; }

  // The member named `key` (the last one when the key repeats, as the
  // parsers keep the last value).
  static const JsonMember *find(const JsonObject &object,
                                std::string_view key) {
    auto it = std::find_if(object.members.rbegin(), object.members.rend(),
                           [&](const JsonMember &m) { return m.key == key; });
    return it == object.members.rend() ? nullptr : &*it;
  }

private:
  std::optional<JsonObject> read_object(std::size_t i) const {
    if (i >= m_text.size() || m_text[i] != '{') {
      return std::nullopt;
    }
    JsonObject object;
    object.open = i;
    i = skip_blank(i + 1);
    while (i < m_text.size() && m_text[i] != '}') {
      if (m_text[i] == ',') {
        i = skip_blank(i + 1);
        continue;
      }
      if (m_text[i] != '"') {
        return std::nullopt;
      }
      JsonMember member;
      member.key_start = i;
      member.key_end = skip_string(m_text, i);
      std::string_view raw =
          m_text.substr(i, member.key_end - member.key_start);
      if (raw.find('\\') == std::string_view::npos) {
        member.key = std::string(raw.substr(1, raw.size() - 2));
      } else {
        try {
          member.key = nlohmann::json::parse(raw).get<std::string>();
        } catch (const nlohmann::json::exception &) {
          return std::nullopt;
        }
      }
      i = skip_blank(member.key_end);
      if (i >= m_text.size() || m_text[i] != ':') {
        return std::nullopt;
      }
      member.value_start = skip_blank(i + 1);
      member.value_end = value_end(member.value_start);
      i = skip_blank(member.value_end);
      object.members.push_back(std::move(member));
    }
    if (i >= m_text.size()) {
      return std::nullopt;
    }
    object.close = i;
    return object;
  }

  std::string_view m_text;
  mutable std::unordered_map<std::size_t, std::optional<JsonObject>> m_objects;
};

std::string json_quote(const std::string &key) {
  return nlohmann::json(key).dump();
}

// How members are laid out: one per line with `unit` more indentation than
// their object's line, or all on one line (`compact`). Taken from the root
// object's first member.
struct JsonLayout {
  bool compact = false;
  std::string unit = "  ";
};

// True when only spaces, tabs and /* */ comments precede `pos` on its line.
bool json_first_on_line(std::string_view text, std::size_t pos) {
  std::size_t i = skip_spaces(text, line_start(text, pos));
  while (i < pos && text.substr(i).starts_with("/*")) {
    const std::size_t end = skip_comment(text, i);
    if (text.substr(i, end - i).find('\n') != std::string_view::npos) {
      return false;
    }
    i = skip_spaces(text, end);
  }
  return i == pos;
}

JsonLayout json_layout(const JsonText &text, const JsonObject &root) {
  JsonLayout layout;
  if (root.members.empty()) {
    return layout;
  }
  const std::size_t key = root.members.front().key_start;
  if (!json_first_on_line(text.text(), key)) {
    layout.compact = true;
    return layout;
  }
  const std::string outer = line_indent(text.text(), root.open);
  const std::string inner = line_indent(text.text(), key);
  if (inner.size() > outer.size() && inner.starts_with(outer)) {
    layout.unit = inner.substr(outer.size());
  }
  return layout;
}

// A JSON value's text whose lines after the first start with `base` and
// then steps of `from`: each such step becomes `to` (a map from a file
// indented by 2 spaces put into one indented by 4, or by tabs). Other lines
// are kept as they are.
std::string change_indent_unit(std::string_view text, std::string_view base,
                               std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    std::size_t newline = text.find('\n', pos);
    const std::size_t end =
        newline == std::string_view::npos ? text.size() : newline + 1;
    std::string_view line = text.substr(pos, end - pos);
    if (!first && !from.empty() && line.starts_with(base)) {
      out.append(base);
      line.remove_prefix(base.size());
      while (line.starts_with(from)) {
        out.append(to);
        line.remove_prefix(from.size());
      }
    }
    out.append(line);
    first = false;
    if (newline == std::string_view::npos) {
      break;
    }
    pos = end;
  }
  return out;
}

// True when a JSON text holds a // or /* comment outside its strings.
bool has_json_comment(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') {
          ++i;
        }
      }
    } else if (text[i] == '/' && i + 1 < text.size() &&
               (text[i + 1] == '/' || text[i + 1] == '*')) {
      return true;
    }
  }
  return false;
}

// Builds a value's text for a member whose line is indented by the argument.
using ValueText = std::function<std::string(const std::string &indent)>;

// The value at the end of `keys` inside new objects, innermost `leaf`.
std::string json_chain(const KeyPath &keys, std::size_t from,
                       const ValueText &leaf, const JsonLayout &layout,
                       const std::string &indent) {
  if (from == keys.size()) {
    return leaf(indent);
  }
  if (layout.compact) {
    return "{" + json_quote(keys[from]) + ":" +
           json_chain(keys, from + 1, leaf, layout, indent) + "}";
  }
  const std::string inner = indent + layout.unit;
  return "{\n" + inner + json_quote(keys[from]) + ": " +
         json_chain(keys, from + 1, leaf, layout, inner) + "\n" + indent + "}";
}

// Past a // comment at `i` (the newline stays), or i.
std::size_t skip_line_comment(std::string_view text, std::size_t i) {
  if (!text.substr(i).starts_with("//")) {
    return i;
  }
  const std::size_t end = text.find('\n', i);
  return end == std::string_view::npos ? text.size() : end;
}

bool at_line_end(std::string_view text, std::size_t i) {
  return i >= text.size() || text[i] == '\n' || text[i] == '\r';
}

// Past the line end at `i` ("\n" or "\r\n"), or i at the end of the text.
std::size_t skip_line_end(std::string_view text, std::size_t i) {
  if (i < text.size() && text[i] == '\r') {
    ++i;
  }
  return i < text.size() && text[i] == '\n' ? i + 1 : i;
}

// Adds `key`: value as the last member of `object`. On a line of its own
// when the members are, after a comment that ends the last member's line.
void json_add_member(Edits &edits, const JsonText &text,
                     const JsonObject &object, const std::string &key,
                     const ValueText &value, const JsonLayout &layout) {
  const std::string_view t = text.text();
  if (!object.members.empty()) {
    const JsonMember &last = object.members.back();
    std::string_view separator = text.slice(last.key_end, last.value_start);
    if (separator.find_first_of("\n/") != std::string_view::npos) {
      separator = layout.compact ? ":" : ": ";
    }
    const std::size_t after = skip_spaces(t, last.value_end);
    const bool has_comma = after < t.size() && t[after] == ',';
    const std::size_t past = has_comma ? after + 1 : last.value_end;
    const std::size_t line_end = skip_line_comment(t, skip_spaces(t, past));
    const std::string indent = line_indent(t, last.key_start);
    const std::string member =
        json_quote(key) + std::string(separator) + value(indent);
    if (json_first_on_line(t, last.key_start) && at_line_end(t, line_end)) {
      if (!has_comma) {
        edits.push_back({last.value_end, last.value_end, ","});
      }
      edits.push_back({line_end, line_end, "\n" + indent + member});
      return;
    }
    edits.push_back({past, past,
                     std::string(has_comma ? "" : ",") +
                         (layout.compact ? "" : " ") + member});
    return;
  }
  if (layout.compact) {
    edits.push_back(
        {object.open + 1, object.close, json_quote(key) + ":" + value("")});
    return;
  }
  const std::string outer = line_indent(t, object.open);
  const std::string inner = outer + layout.unit;
  edits.push_back(
      {object.open + 1, object.close,
       "\n" + inner + json_quote(key) + ": " + value(inner) + "\n" + outer});
}

// Takes `member` out of `object` with its comma and a comment that ends its
// line (its whole line when nothing else is on it); other comments stay.
bool json_remove_member(Edits &edits, const JsonText &text,
                        const JsonObject &object, const JsonMember &member) {
  const std::string_view t = text.text();
  const auto &members = object.members;
  const auto count =
      std::count_if(members.begin(), members.end(),
                    [&](const JsonMember &m) { return m.key == member.key; });
  if (count != 1) {
    return false; // a repeated key: leave it to the parsers' reading
  }
  const auto index = static_cast<std::size_t>(&member - members.data());
  std::size_t begin = member.key_start;
  std::size_t end = member.value_end;
  std::size_t after = skip_spaces(t, end);
  bool comma = false;
  if (after < t.size() && t[after] == ',') {
    comma = true;
    end = after + 1;
    after = skip_spaces(t, end);
  }
  after = skip_line_comment(t, after);
  if (after != skip_spaces(t, end)) {
    end = after;
  }
  if (first_on_line(t, begin) && at_line_end(t, after)) {
    begin = line_start(t, begin);
    end = skip_line_end(t, after);
  } else if (comma && !at_line_end(t, after)) {
    end = after; // the spaces before the next member
  }
  if (members.size() == 1 &&
      text.slice(object.open + 1, begin).find_first_not_of(" \t\r\n") ==
          std::string_view::npos &&
      text.slice(end, object.close).find_first_not_of(" \t\r\n") ==
          std::string_view::npos) {
    edits.push_back({object.open + 1, object.close, ""});
    return true;
  }
  if (index > 0 && index + 1 == members.size()) {
    // The last member goes: so does the comma before it.
    const std::size_t before = text.skip_blank(members[index - 1].value_end);
    if (before < t.size() && t[before] == ',') {
      const bool blank =
          text.slice(before + 1, member.key_start).find_first_not_of(" \t") ==
          std::string_view::npos;
      edits.push_back(
          {before,
           blank && begin == member.key_start ? member.key_start : before + 1,
           ""});
    }
  }
  edits.push_back({begin, end, ""});
  return true;
}

// The edits of one op in `text`; `parent` is set to where the object that
// gets them starts.
bool json_edits(Edits &edits, std::size_t &parent_at, const JsonText &text,
                const JsonText &snapshot, const JsonLayout &snapshot_layout,
                const SpliceOp &op) {
  const std::vector<const JsonObject *> objects = text.descend(op.path);
  if (objects.empty() || op.path.empty()) {
    return false;
  }
  const JsonLayout layout = json_layout(text, *objects.front());
  const std::size_t depth = objects.size() - 1; // objects.back() is here
  const JsonObject &parent = *objects.back();
  parent_at = parent.open;
  const JsonMember *member = JsonText::find(parent, op.path[depth]);

  if (op.kind == SpliceOp::Kind::remove) {
    if (objects.size() != op.path.size() || member == nullptr) {
      return false;
    }
    return json_remove_member(edits, text, parent, *member);
  }

  const std::vector<const JsonObject *> from = snapshot.descend(op.path);
  if (from.size() != op.path.size()) {
    return false;
  }
  const JsonMember *source = JsonText::find(*from.back(), op.path.back());
  if (source == nullptr) {
    return false;
  }
  std::string_view source_text =
      snapshot.slice(source->value_start, source->value_end);
  std::string source_indent = line_indent(snapshot.text(), source->key_start);
  // A snapshot laid out otherwise than the current file: its map is written
  // in the current layout. Another indent is changed line by line, which
  // keeps its comments; compact against indented is written out again,
  // unless that would drop comments (the values are what matter).
  std::string relaid;
  if (!layout.compact && !snapshot_layout.compact &&
      snapshot_layout.unit != layout.unit) {
    relaid = change_indent_unit(source_text, source_indent,
                                snapshot_layout.unit, layout.unit);
    source_text = relaid;
  } else if (snapshot_layout.compact != layout.compact &&
             !has_json_comment(source_text)) {
    try {
      const auto value =
          nlohmann::ordered_json::parse(source_text, nullptr, true, true);
      relaid = layout.compact ? value.dump()
                              : value.dump(static_cast<int>(layout.unit.size()),
                                           layout.unit.front());
      source_text = relaid;
      source_indent.clear();
    } catch (const nlohmann::json::exception &) {
      // JSONC the strict reader refuses (a trailing comma): keep its text.
    }
  }
  const ValueText leaf = [&](const std::string &indent) {
    return reindent(source_text, source_indent, indent);
  };

  if (member == nullptr) {
    json_add_member(
        edits, text, parent, op.path[depth],
        [&](const std::string &indent) {
          return json_chain(op.path, depth + 1, leaf, layout, indent);
        },
        layout);
    return true;
  }
  const std::string indent = line_indent(text.text(), member->key_start);
  if (depth + 1 == op.path.size()) {
    edits.push_back({member->value_start, member->value_end, leaf(indent)});
    return true;
  }
  // A map on the way is null: it becomes the maps down to the value.
  if (text.slice(member->value_start, member->value_end) != "null") {
    return false;
  }
  edits.push_back({member->value_start, member->value_end,
                   json_chain(op.path, depth + 1, leaf, layout, indent)});
  return true;
}

// ---------------------------------------------------------------------------
// YAML

struct YamlNode {
  enum class Kind { scalar, mapping, sequence, alias };
  Kind kind = Kind::scalar;
  bool flow = false;
  bool empty = false;           // a plain scalar without text: null by omission
  std::size_t start = 0;        // byte offsets
  std::size_t end = 0;          // past the node's last character
  std::size_t column = 0;       // of start, in characters
  std::string value;            // a scalar's text
  std::vector<YamlNode> keys;   // a mapping's, in order
  std::vector<YamlNode> values; // keys[i]'s value
};

// Reads the first document of a YAML text into nodes that know where they
// are. libyaml counts characters; `offsets` turns them into bytes.
class YamlReader {
public:
  explicit YamlReader(std::string_view text) : m_text(text), m_events(text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        m_offsets.push_back(i);
      }
    }
    m_offsets.push_back(text.size());
  }

  // The document's root; std::nullopt when the text is not one document
  // (none, or several).
  std::optional<YamlNode> document() {
    if (m_text.starts_with("\xEF\xBB\xBF")) {
      return std::nullopt;
    }
    m_events.next(); // the stream's start
    if (m_events.next().type != YAML_DOCUMENT_START_EVENT) {
      return std::nullopt;
    }
    YamlNode root = node(m_events.next(), 0);
    if (m_events.next().type != YAML_DOCUMENT_END_EVENT ||
        m_events.next().type != YAML_STREAM_END_EVENT) {
      return std::nullopt;
    }
    return root;
  }

private:
  std::size_t byte(const yaml_mark_t &mark) const {
    return m_offsets[std::min(mark.index, m_offsets.size() - 1)];
  }

  YamlNode node(const yaml_event_t &event, std::size_t depth) {
    if (depth > 500) {
      throw std::runtime_error("nesting too deep");
    }
    YamlNode out;
    out.start = byte(event.start_mark);
    out.end = byte(event.end_mark);
    out.column = event.start_mark.column;
    switch (event.type) {
    case YAML_SCALAR_EVENT:
      out.value.assign(reinterpret_cast<const char *>(event.data.scalar.value),
                       event.data.scalar.length);
      out.empty = event.data.scalar.length == 0 &&
                  event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      // A block scalar ends where the next token starts: its text ends
      // before the line breaks that follow it.
      while (out.end > out.start && is_space(m_text[out.end - 1])) {
        --out.end;
      }
      return out;
    case YAML_ALIAS_EVENT:
      out.kind = YamlNode::Kind::alias;
      return out;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
      const bool mapping = event.type == YAML_MAPPING_START_EVENT;
      out.kind = mapping ? YamlNode::Kind::mapping : YamlNode::Kind::sequence;
      out.flow =
          mapping ? event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                  : event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
      out.end = out.start;
      while (true) {
        const yaml_event_t &next = m_events.next();
        if (next.type == YAML_MAPPING_END_EVENT ||
            next.type == YAML_SEQUENCE_END_EVENT) {
          if (out.flow) {
            out.end = byte(next.end_mark);
          }
          return out;
        }
        YamlNode child = node(next, depth + 1);
        out.end = std::max(out.end, child.end);
        if (mapping) {
          if (out.keys.size() == out.values.size()) {
            out.keys.push_back(std::move(child));
          } else {
            out.values.push_back(std::move(child));
          }
        }
      }
    }
    default:
      throw std::runtime_error("unexpected YAML event");
    }
  }

  std::string_view m_text;
  YamlEvents m_events;
  std::vector<std::size_t> m_offsets;
};

std::optional<YamlNode> read_yaml(std::string_view text) {
  try {
    return YamlReader(text).document();
  } catch (const std::exception &) {
    return std::nullopt;
  }
}

// The value of the scalar key `key` in a mapping: its index, or -1 when
// absent, -2 when the key repeats.
long yaml_find(const YamlNode &mapping, std::string_view key) {
  long found = -1;
  for (std::size_t i = 0; i < mapping.keys.size(); ++i) {
    const YamlNode &k = mapping.keys[i];
    if (k.kind == YamlNode::Kind::scalar && k.value == key) {
      if (found != -1) {
        return -2;
      }
      found = static_cast<long>(i);
    }
  }
  return found;
}

// The mapping that holds path's last key, or nullptr when a map on the way
// is missing (or is not a mapping).
const YamlNode *yaml_parent(const YamlNode &root, const KeyPath &path) {
  const YamlNode *node = &root;
  for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
    if (node->kind != YamlNode::Kind::mapping) {
      return nullptr;
    }
    const long i = yaml_find(*node, path[depth]);
    if (i < 0) {
      return nullptr;
    }
    node = &node->values[static_cast<std::size_t>(i)];
  }
  return node->kind == YamlNode::Kind::mapping ? node : nullptr;
}

// Where a member's text after its key ends: its value's end, or just past
// the ':' when the value is omitted.
// A comment that ends the value's last line is part of it.
std::size_t yaml_member_end(std::string_view text, const YamlNode &key,
                            const YamlNode &value) {
  std::size_t end = value.end;
  if (value.empty) {
    end = skip_spaces(text, key.end);
    if (end >= text.size() || text[end] != ':') {
      return std::string_view::npos;
    }
    ++end;
  }
  const std::size_t after = skip_spaces(text, end);
  if (after > end && after < text.size() && text[after] == '#') {
    end = after;
    while (!at_line_end(text, end)) {
      ++end;
    }
  }
  return end;
}

// Past the end of the line holding `pos` (its line break included).
std::size_t past_line(std::string_view text, std::size_t pos) {
  const std::size_t newline = text.find('\n', pos);
  return newline == std::string_view::npos ? text.size() : newline + 1;
}

// A key of a map on the way to a location, as a plain scalar when it is one
// and JSON's double-quoted form (also YAML's) otherwise.
std::string yaml_key(const std::string &key) {
  const bool plain =
      !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
               c == '-' || c == '.' || c == '/';
      });
  return plain ? key : nlohmann::json(key).dump();
}

// How much a nested block map is indented in a document: the first one
// found below the root, else 2.
std::size_t yaml_unit(const YamlNode &root) {
  for (std::size_t i = 0; i < root.keys.size(); ++i) {
    const YamlNode &value = root.values[i];
    if (value.kind == YamlNode::Kind::mapping && !value.flow &&
        !value.keys.empty() &&
        value.keys.front().column > root.keys[i].column) {
      return value.keys.front().column - root.keys[i].column;
    }
  }
  return 2;
}

// The snapshot's member at a location: its key as written and what follows
// the key (the ':' and the value), with the key's indentation.
struct YamlSource {
  std::string_view key;
  std::string_view after_key;
  std::string indent;
  bool value_on_next_line = false;
};

std::optional<YamlSource> yaml_source(std::string_view snapshot,
                                      const YamlNode &root,
                                      const KeyPath &path) {
  const YamlNode *parent = yaml_parent(root, path);
  if (parent == nullptr) {
    return std::nullopt;
  }
  const long index = yaml_find(*parent, path.back());
  if (index < 0) {
    return std::nullopt;
  }
  const YamlNode &key = parent->keys[static_cast<std::size_t>(index)];
  const YamlNode &value = parent->values[static_cast<std::size_t>(index)];
  const std::size_t end = yaml_member_end(snapshot, key, value);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  return YamlSource{
      snapshot.substr(key.start, key.end - key.start),
      snapshot.substr(key.end, end - key.end), std::string(key.column, ' '),
      !value.empty && line_start(snapshot, value.start) > key.end};
}

// Adds path[depth] after the last member of `parent` (the map at
// path[0..depth)), at that member's column: the snapshot's member itself
// when depth is the last, else the maps down to it, each indented by
// `unit` more.
bool yaml_add(std::string &out, std::string_view snapshot,
              const YamlNode &source_root, const KeyPath &path,
              std::size_t depth, const YamlNode &parent, std::size_t unit) {
  const auto source = yaml_source(snapshot, source_root, path);
  if (!source || parent.keys.empty()) {
    return false;
  }
  const YamlNode &last_key = parent.keys.back();
  if (!first_on_line(out, last_key.start)) {
    return false;
  }
  const std::size_t last_end =
      yaml_member_end(out, last_key, parent.values.back());
  if (last_end == std::string_view::npos) {
    return false;
  }
  std::string member;
  std::size_t column = last_key.column;
  for (std::size_t i = depth; i + 1 < path.size(); ++i) {
    member += std::string(column, ' ') + yaml_key(path[i]) + ":\n";
    column += unit;
  }
  const std::string indent(column, ' ');
  member += indent + std::string(source->key) +
            reindent(source->after_key, source->indent, indent) + "\n";
  const std::size_t at = past_line(out, last_end);
  if (at == out.size() && (out.empty() || out.back() != '\n')) {
    member = "\n" + member;
  }
  out.insert(at, with_line_ends_of(out, member));
  return true;
}

bool yaml_apply(std::string &out, std::string_view snapshot,
                const YamlNode &source_root, const SpliceOp &op) {
  const auto root = read_yaml(out);
  if (!root || op.path.empty() || root->kind != YamlNode::Kind::mapping) {
    return false;
  }
  // The deepest map on the way that exists.
  const YamlNode *parent = &*root;
  std::size_t depth = 0;
  for (; depth + 1 < op.path.size(); ++depth) {
    const long i = yaml_find(*parent, op.path[depth]);
    if (i == -1) {
      break;
    }
    if (i < 0 || parent->values[static_cast<std::size_t>(i)].kind !=
                     YamlNode::Kind::mapping) {
      return false;
    }
    parent = &parent->values[static_cast<std::size_t>(i)];
  }
  if (parent->flow) {
    return false;
  }
  if (depth + 1 < op.path.size()) {
    if (op.kind == SpliceOp::Kind::remove) {
      return false;
    }
    return yaml_add(out, snapshot, source_root, op.path, depth, *parent,
                    yaml_unit(*root));
  }
  const long index = yaml_find(*parent, op.path.back());
  if (index == -2) {
    return false;
  }
  const YamlNode *key =
      index >= 0 ? &parent->keys[static_cast<std::size_t>(index)] : nullptr;
  const YamlNode *value =
      index >= 0 ? &parent->values[static_cast<std::size_t>(index)] : nullptr;

  if (op.kind == SpliceOp::Kind::remove) {
    if (key == nullptr || !first_on_line(out, key->start)) {
      return false;
    }
    const std::size_t end = yaml_member_end(out, *key, *value);
    if (end == std::string_view::npos) {
      return false;
    }
    if (parent->keys.size() == 1) {
      replace_range(out, key->start, end, "{}"); // empty, not null
      return true;
    }
    replace_range(out, line_start(out, key->start), past_line(out, end), "");
    return true;
  }

  const auto source = yaml_source(snapshot, source_root, op.path);
  if (!source) {
    return false;
  }
  if (key != nullptr) {
    const std::size_t end = yaml_member_end(out, *key, *value);
    if (end == std::string_view::npos) {
      return false;
    }
    std::size_t begin = key->end;
    std::string_view after_key = source->after_key;
    // Both values start below their keys: the rest of the key's line (a
    // comment) stays as it is.
    if (source->value_on_next_line && !value->empty &&
        line_start(out, value->start) > key->end) {
      begin = out.find('\n', key->end);
      const std::size_t source_break = after_key.find('\n');
      if (begin == std::string::npos ||
          source_break == std::string_view::npos) {
        return false;
      }
      after_key.remove_prefix(source_break);
    }
    replace_range(
        out, begin, end,
        with_line_ends_of(out, reindent(after_key, source->indent,
                                        std::string(key->column, ' '))));
    return true;
  }
  return yaml_add(out, snapshot, source_root, op.path, depth, *parent, 0);
}

} // namespace

std::optional<std::string> splice_json(std::string_view current,
                                       std::string_view snapshot,
                                       const std::vector<SpliceOp> &ops) {
  if (ops.empty()) {
    return std::string(current);
  }
  const JsonText source(snapshot);
  const JsonObject *source_root = source.root();
  if (source_root == nullptr) {
    return std::nullopt;
  }
  const JsonLayout source_layout = json_layout(source, *source_root);
  // All edits found in the current text at once, when each op edits its own
  // object (hundreds of ~/.claude.json projects: one reading of the file).
  {
    const JsonText text(current);
    Edits edits;
    std::vector<std::size_t> parents;
    bool apart = true;
    for (const SpliceOp &op : ops) {
      std::size_t parent = 0;
      if (!json_edits(edits, parent, text, source, source_layout, op)) {
        return std::nullopt;
      }
      apart = apart && std::find(parents.begin(), parents.end(), parent) ==
                           parents.end();
      parents.push_back(parent);
    }
    std::string out(current);
    if (apart && apply_edits(out, edits)) {
      return out;
    }
  }
  // Else one op after the other, each on the text the previous one left.
  std::string out(current);
  for (const SpliceOp &op : ops) {
    const JsonText text(out);
    Edits edits;
    std::size_t parent = 0;
    if (!json_edits(edits, parent, text, source, source_layout, op)) {
      return std::nullopt;
    }
    if (!apply_edits(out, edits)) {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> splice_yaml(std::string_view current,
                                       std::string_view snapshot,
                                       const std::vector<SpliceOp> &ops) {
  if (ops.empty()) {
    return std::string(current);
  }
  // The edits work on "\n" line ends: a file saved with "\r\n" throughout
  // is edited as if it had "\n" and given its "\r\n" back, and a snapshot's
  // text joins the file with the file's line ends. (A file with both kinds
  // is edited as it is: making its ends alike would change other lines.)
  const std::string lf_snapshot = to_lf(snapshot);
  const auto source = read_yaml(lf_snapshot);
  if (!source) {
    return std::nullopt;
  }
  const std::string lf_current = to_lf(current);
  const bool crlf =
      lf_current.size() != current.size() && to_crlf(lf_current) == current;
  std::string out = crlf ? lf_current : std::string(current);
  for (const SpliceOp &op : ops) {
    if (!yaml_apply(out, lf_snapshot, *source, op)) {
      return std::nullopt;
    }
  }
  return crlf ? to_crlf(out) : out;
}

namespace {

bool has_prefix(const KeyPath &path, const KeyPath &prefix) {
  return path.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), path.begin());
}

// A table of a TOML text: its header line and the lines up to the next
// header, with the comment lines right above the header. Comments after
// its last value, set apart from it by a blank line (a note at the end of
// the file, one about the tables that follow), are not the table's: the
// section ends before that blank line (`apart`), and `rest` is where what
// follows the blank lines starts.
struct TomlSection {
  std::size_t begin = 0; // byte offsets
  std::size_t end = 0;
  std::size_t first_line = 0; // 1-based, the comments included
  std::size_t last_line = 0;
  KeyPath path;
  bool apart = false;
  std::size_t rest = 0;
};

std::vector<TomlSection> toml_sections(std::string_view text,
                                       const TomlOutline &outline) {
  std::vector<std::size_t> starts{0}; // starts[i]: offset of line i + 1
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      starts.push_back(i + 1);
    }
  }
  const auto offset = [&](std::size_t line) {
    return line - 1 < starts.size() ? starts[line - 1] : text.size();
  };
  const auto is_comment = [&](std::size_t line) {
    const std::size_t at = skip_spaces(text, offset(line));
    return at < text.size() && text[at] == '#';
  };
  const auto is_blank = [&](std::size_t line) {
    const std::size_t at = skip_spaces(text, offset(line));
    return at >= text.size() || text[at] == '\n' || text[at] == '\r';
  };
  // The lines that hold a header (a table toml++ places on a line that
  // does not start with '[' was made by a dotted key), each with the
  // deepest table it opens (its parents may be placed there too).
  std::vector<std::pair<std::size_t, KeyPath>> headers;
  for (const auto &[line, path] : outline.headers) {
    const std::size_t at = skip_spaces(text, offset(line));
    if (line > 0 && line <= starts.size() && at < text.size() &&
        text[at] == '[') {
      headers.emplace_back(line, path);
    }
  }
  std::sort(headers.begin(), headers.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first < b.first
                              : a.second.size() > b.second.size();
  });
  headers.erase(std::unique(headers.begin(), headers.end(),
                            [](const auto &a, const auto &b) {
                              return a.first == b.first;
                            }),
                headers.end());
  std::vector<TomlSection> sections;
  std::size_t previous_header = 0;
  for (const auto &[line, path] : headers) {
    std::size_t first = line;
    while (first - 1 > previous_header && is_comment(first - 1)) {
      --first;
    }
    if (!sections.empty()) {
      sections.back().end = offset(first);
      sections.back().last_line = first - 1;
    }
    sections.push_back(
        {offset(first), text.size(), first, starts.size(), path});
    previous_header = line;
  }
  const std::size_t lines = starts.size();
  for (std::size_t i = 0; i < sections.size(); ++i) {
    TomlSection &section = sections[i];
    // The last line holding anything but a comment (the header at least),
    // and the comment lines right below it, which stay the table's.
    std::size_t last = section.last_line;
    while (last > headers[i].first && (is_blank(last) || is_comment(last))) {
      --last;
    }
    std::size_t after = last + 1;
    while (after <= section.last_line && after <= lines && is_comment(after)) {
      ++after;
    }
    bool comment_below = false;
    std::size_t rest_line = section.last_line + 1;
    for (std::size_t l = after; l <= section.last_line && l <= lines; ++l) {
      if (is_comment(l)) {
        comment_below = true;
        rest_line = std::min(rest_line, l);
      }
    }
    if (!comment_below) {
      continue;
    }
    section.apart = true;
    section.end = offset(after);
    section.last_line = after - 1;
    section.rest = offset(rest_line);
  }
  return sections;
}

} // namespace

std::optional<std::string> splice_toml(std::string_view current,
                                       const TomlOutline &current_outline,
                                       std::string_view snapshot,
                                       const TomlOutline &snapshot_outline,
                                       const std::vector<SpliceOp> &ops) {
  const auto current_sections = toml_sections(current, current_outline);
  const auto snapshot_sections = toml_sections(snapshot, snapshot_outline);
  // A location's values must all be in its own tables.
  const auto contained = [](const std::vector<TomlSection> &sections,
                            const TomlOutline &outline, const KeyPath &path) {
    return std::all_of(
        outline.values.begin(), outline.values.end(), [&](const auto &value) {
          return !has_prefix(value.second, path) ||
                 std::any_of(sections.begin(), sections.end(),
                             [&](const TomlSection &section) {
                               return has_prefix(section.path, path) &&
                                      value.first >= section.first_line &&
                                      value.first <= section.last_line;
                             });
        });
  };
  Edits edits;
  std::string appended;
  for (const SpliceOp &op : ops) {
    if (!contained(current_sections, current_outline, op.path) ||
        !contained(snapshot_sections, snapshot_outline, op.path)) {
      return std::nullopt;
    }
    std::string text;
    if (op.kind == SpliceOp::Kind::set) {
      for (const TomlSection &section : snapshot_sections) {
        if (has_prefix(section.path, op.path)) {
          text += snapshot.substr(section.begin, section.end - section.begin);
          if (text.back() != '\n') {
            text += '\n';
          }
        }
      }
    }
    bool placed = false;
    for (const TomlSection &section : current_sections) {
      if (!has_prefix(section.path, op.path)) {
        continue;
      }
      std::string with;
      if (!placed) {
        with = std::move(text);
        placed = true;
        // Keep the blank line that separated the tables from what follows.
        const std::string_view old =
            current.substr(section.begin, section.end - section.begin);
        if (old.ends_with("\n\n") && !with.empty() && !with.ends_with("\n\n") &&
            section.end < current.size()) {
          with += '\n';
        }
      }
      std::size_t end = section.end;
      if (section.apart) {
        // The blank lines and comments after it stay: what is put here
        // ends at its last line, and a table taken out after a blank line
        // takes the blank lines after it along.
        while (with.ends_with("\n\n") || with.ends_with("\n\r\n")) {
          with.erase(with.size() - (with.ends_with("\r\n") ? 2 : 1));
        }
        const std::string_view before = current.substr(0, section.begin);
        if (with.empty() && (before.empty() || before.ends_with("\n\n") ||
                             before.ends_with("\n\r\n"))) {
          end = section.rest;
        }
      }
      edits.push_back({section.begin, end, std::move(with)});
    }
    if (!placed && !text.empty()) {
      appended += text;
    }
  }
  std::string out(current);
  if (!apply_edits(out, edits)) {
    return std::nullopt;
  }
  if (!appended.empty()) {
    // After a blank line, and ending with one line end.
    std::string tail;
    if (!out.empty() && out.back() != '\n') {
      tail += '\n';
    }
    std::string_view end = out;
    end.remove_suffix(end.ends_with("\r\n") ? 2 : end.ends_with('\n') ? 1 : 0);
    if (!out.empty() && !end.ends_with('\n')) {
      tail += '\n';
    }
    while (appended.ends_with('\n') || appended.ends_with('\r')) {
      appended.pop_back();
    }
    tail += appended + "\n";
    out += with_line_ends_of(out, tail);
  }
  return out;
}

} // namespace mcpbk::detail
