// The fast strict-JSON reader: simdjson (common/json_reader.hpp).

#include <common/fs.hpp>
#include <common/json_reader.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mcpbk::detail {

namespace {

using Json = nlohmann::json;

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

// Appends `text` as nlohmann::json::dump() writes a string: quoted, with
// '"', '\\' and the control characters escaped (\b \t \n \f \r, else
// \u00xx in lower case) and every other byte as it is (simdjson has checked
// that the text is UTF-8).
void append_quoted(std::string &out, std::string_view text) {
  static constexpr char k_hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t plain = 0; // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(text.substr(plain, i - plain));
    plain = i + 1;
    out.push_back('\\');
    switch (c) {
    case '"':
    case '\\':
      out.push_back(static_cast<char>(c));
      break;
    case '\b':
      out.push_back('b');
      break;
    case '\t':
      out.push_back('t');
      break;
    case '\n':
      out.push_back('n');
      break;
    case '\f':
      out.push_back('f');
      break;
    case '\r':
      out.push_back('r');
      break;
    default:
      out.append("u00");
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xF]);
      break;
    }
  }
  out.append(text.substr(plain));
  out.push_back('"');
}

// Appends what json_of(element).dump() would write, without building the
// nlohmann/json value: keys sorted byte-wise, the last of duplicate keys,
// no whitespace. Doubles are written by nlohmann/json itself.
void append_canonical(std::string &out, simdjson::dom::element element) {
  using Type = simdjson::dom::element_type;
  switch (element.type()) {
  case Type::OBJECT: {
    const simdjson::dom::object object = element.get_object().value_unsafe();
    std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
    for (const auto field : object) {
      fields.emplace_back(field.key, field.value);
    }
    std::stable_sort(
        fields.begin(), fields.end(),
        [](const auto &a, const auto &b) { return a.first < b.first; });
    out.push_back('{');
    bool first = true;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i + 1 < fields.size() && fields[i + 1].first == fields[i].first) {
        continue; // a later duplicate wins
      }
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_quoted(out, fields[i].first);
      out.push_back(':');
      append_canonical(out, fields[i].second);
    }
    out.push_back('}');
    return;
  }
  case Type::ARRAY: {
    const simdjson::dom::array array = element.get_array().value_unsafe();
    out.push_back('[');
    bool first = true;
    for (const auto item : array) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_canonical(out, item);
    }
    out.push_back(']');
    return;
  }
  case Type::INT64: {
    // "-0" reads as a signed 0 and is written "0", as nlohmann/json does.
    const std::int64_t value = element.get_int64().value_unsafe();
    out.append(std::to_string(value));
    return;
  }
  case Type::UINT64:
    out.append(std::to_string(element.get_uint64().value_unsafe()));
    return;
  case Type::DOUBLE:
    out.append(Json(element.get_double().value_unsafe()).dump());
    return;
  case Type::STRING:
    append_quoted(out, element.get_string().value_unsafe());
    return;
  case Type::BOOL:
    out.append(element.get_bool().value_unsafe() ? "true" : "false");
    return;
  case Type::NULL_VALUE:
    break;
  }
  out.append("null");
}

// The document parse_json_for_locations() builds, from simdjson's DOM:
// objects keep only the keys that may lead to a location, arrays on the way
// keep all their elements, values at a location are whole.
Json pruned_json_of(simdjson::dom::element element,
                    const std::vector<KeyPath> &patterns, KeyPath &path) {
  simdjson::dom::object object;
  const bool is_object = element.get(object) == simdjson::SUCCESS;
  if (path_complete(patterns, path)) {
    if (!is_object || !path_is_location_end(patterns, path)) {
      return json_of(element);
    }
    // A server map: each entry in canonical form, the last of duplicate
    // names (common/json_reader.hpp).
    Json out = Json::object();
    std::string canonical;
    for (const auto field : object) {
      canonical.clear();
      append_canonical(canonical, field.value);
      out[std::string(field.key)] = Json::binary(
          std::vector<std::uint8_t>(canonical.begin(), canonical.end()));
    }
    return out;
  }
  if (is_object) {
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

} // namespace

// Several times faster than nlohmann/json. simdjson takes strict JSON only:
// std::nullopt for anything it rejects (comments, trailing commas, invalid
// UTF-8 or escapes, integers beyond 64 bits, numbers out of range, nesting
// deeper than 1024, trailing bytes...), which nlohmann/json must then read
// or explain. Whatever simdjson accepts nlohmann/json reads to the same
// values, so the result does not depend on which one read it.

std::optional<Json> parse_strict_json(std::string_view bytes,
                                      const std::vector<KeyPath> &patterns,
                                      bool padded) {
  // nlohmann/json skips a UTF-8 byte order mark; simdjson does not.
  constexpr std::string_view k_bom = "\xEF\xBB\xBF";
  if (bytes.substr(0, k_bom.size()) == k_bom) {
    bytes.remove_prefix(k_bom.size());
  }
  // simdjson reads past the end of its input: unless the caller's buffer
  // has room for that, the parser copies the text into its own.
  static_assert(PaddedBytes::k_padding >= simdjson::SIMDJSON_PADDING);
  thread_local simdjson::dom::parser parser;
  std::optional<Json> doc;
  simdjson::dom::element root;
  if (parser.parse(bytes.data(), bytes.size(), !padded).get(root) ==
      simdjson::SUCCESS) {
    KeyPath path;
    doc = pruned_json_of(root, patterns, path);
  }
  if (bytes.size() > k_max_kept_parser_bytes) {
    parser = simdjson::dom::parser();
  }
  return doc;
}

} // namespace mcpbk::detail
