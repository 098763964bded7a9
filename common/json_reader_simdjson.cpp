// The fast strict-JSON reader: simdjson (common/json_reader.hpp).

#include <common/json_reader.hpp>

#include <simdjson.h>

#include <cstdint>

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

} // namespace

// Several times faster than nlohmann/json. simdjson takes strict JSON only:
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

} // namespace mcpbk::detail
