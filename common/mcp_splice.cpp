#include <common/mcp_splice.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>

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
        const char d = m_text[i];
        if (d == '"') {
          i = skip_string(m_text, i);
          continue;
        }
        if (std::size_t end = skip_comment(m_text, i); end != i) {
          i = end;
          continue;
        }
        if (d == '{' || d == '[') {
          ++depth;
        } else if ((d == '}' || d == ']') && --depth == 0) {
          return i + 1;
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

  std::optional<JsonObject> object_at(std::size_t i) const {
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

  std::optional<JsonObject> root() const {
    const std::size_t bom = m_text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    return object_at(skip_blank(bom));
  }

  // The objects at path[0..d) for d = 0, 1, ... as far as each exists and
  // is an object, up to the parent of path's last key. Empty when the root
  // is not an object.
  std::vector<JsonObject> descend(const KeyPath &path) const {
    std::vector<JsonObject> objects;
    auto object = root();
    while (object) {
      objects.push_back(std::move(*object));
      if (objects.size() == path.size()) {
        break;
      }
      const JsonMember *member = find(objects.back(), path[objects.size() - 1]);
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
  std::string_view m_text;
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
  std::string newline = "\n"; // "\r\n" in a file that has one
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
  if (text.text().find("\r\n") != std::string_view::npos) {
    layout.newline = "\r\n";
  }
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
  return "{" + layout.newline + inner + json_quote(keys[from]) + ": " +
         json_chain(keys, from + 1, leaf, layout, inner) + layout.newline +
         indent + "}";
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
void json_add_member(std::string &out, const JsonText &text,
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
      out.insert(line_end, layout.newline + indent + member);
      if (!has_comma) {
        out.insert(last.value_end, ",");
      }
      return;
    }
    out.insert(past, std::string(has_comma ? "" : ",") +
                         (layout.compact ? "" : " ") + member);
    return;
  }
  if (layout.compact) {
    replace_range(out, object.open + 1, object.close,
                  json_quote(key) + ":" + value(""));
    return;
  }
  const std::string outer = line_indent(t, object.open);
  const std::string inner = outer + layout.unit;
  replace_range(out, object.open + 1, object.close,
                layout.newline + inner + json_quote(key) + ": " + value(inner) +
                    layout.newline + outer);
}

// Takes `member` out of `object` with its comma and a comment that ends its
// line (its whole line when nothing else is on it); other comments stay.
bool json_remove_member(std::string &out, const JsonText &text,
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
    replace_range(out, object.open + 1, object.close, "");
    return true;
  }
  replace_range(out, begin, end, "");
  if (index > 0 && index + 1 == members.size()) {
    // The last member goes: so does the comma before it.
    const std::size_t before = text.skip_blank(members[index - 1].value_end);
    if (before < t.size() && t[before] == ',') {
      const bool blank =
          text.slice(before + 1, member.key_start).find_first_not_of(" \t") ==
          std::string_view::npos;
      replace_range(out, before,
                    blank && begin == member.key_start ? member.key_start
                                                       : before + 1,
                    "");
    }
  }
  return true;
}

bool json_apply(std::string &out, const JsonText &snapshot,
                const JsonLayout &snapshot_layout, const SpliceOp &op) {
  const JsonText text(out);
  std::vector<JsonObject> objects = text.descend(op.path);
  if (objects.empty() || op.path.empty()) {
    return false;
  }
  const JsonLayout layout = json_layout(text, objects.front());
  const std::size_t depth = objects.size() - 1; // objects.back() is here
  const JsonObject &parent = objects.back();
  const JsonMember *member = JsonText::find(parent, op.path[depth]);

  if (op.kind == SpliceOp::Kind::remove) {
    if (objects.size() != op.path.size() || member == nullptr) {
      return false;
    }
    return json_remove_member(out, text, parent, *member);
  }

  const std::vector<JsonObject> from = snapshot.descend(op.path);
  if (from.size() != op.path.size()) {
    return false;
  }
  const JsonMember *source = JsonText::find(from.back(), op.path.back());
  if (source == nullptr) {
    return false;
  }
  std::string_view source_text =
      snapshot.slice(source->value_start, source->value_end);
  std::string source_indent = line_indent(snapshot.text(), source->key_start);
  // A snapshot laid out otherwise than the current file (compact against
  // indented, another indent): its map is written in the current layout.
  std::string relaid;
  if (snapshot_layout.compact != layout.compact ||
      (!layout.compact && snapshot_layout.unit != layout.unit)) {
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
        out, text, parent, op.path[depth],
        [&](const std::string &indent) {
          return json_chain(op.path, depth + 1, leaf, layout, indent);
        },
        layout);
    return true;
  }
  const std::string indent = line_indent(text.text(), member->key_start);
  if (depth + 1 == op.path.size()) {
    replace_range(out, member->value_start, member->value_end, leaf(indent));
    return true;
  }
  // A map on the way is null: it becomes the maps down to the value.
  if (text.slice(member->value_start, member->value_end) != "null") {
    return false;
  }
  replace_range(out, member->value_start, member->value_end,
                json_chain(op.path, depth + 1, leaf, layout, indent));
  return true;
}

} // namespace

std::optional<std::string> splice_json(std::string_view current,
                                       std::string_view snapshot,
                                       const std::vector<SpliceOp> &ops) {
  std::string out(current);
  const JsonText source(snapshot);
  const auto source_root = source.root();
  if (!source_root) {
    return std::nullopt;
  }
  const JsonLayout source_layout = json_layout(source, *source_root);
  for (const SpliceOp &op : ops) {
    if (!json_apply(out, source, source_layout, op)) {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> splice_yaml(std::string_view, std::string_view,
                                       const std::vector<SpliceOp> &) {
  return std::nullopt;
}

std::optional<std::string> splice_toml(std::string_view, std::string_view,
                                       const std::vector<SpliceOp> &) {
  return std::nullopt;
}

} // namespace mcpbk::detail
