#pragma once

// Internal to common/mcp.cpp and the strict-JSON readers: how extract_mcp()
// reads JSON fast. Two implementations exist, and each program links one:
//   json_reader_simdjson.cpp  simdjson (mcpbkd, tests, benchmarks, fuzzers)
//   json_reader_plain.cpp     none: nlohmann/json reads everything (mcpbkctl)
// Both give extract_mcp() the same result; the plain one keeps the client
// free of shared C++ libraries so it can link libstdc++ statically and start
// faster (docs/ARCHITECTURE.md, "Dependencies and linking").

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk::detail {

// path[i] is the key at nesting level i + 1 on the way from the root to a
// value; an array level holds k_array_level, which no pattern element (not
// even "*") matches.
using KeyPath = std::vector<std::string>;
inline constexpr std::string_view k_array_level{"\0[]", 3};

// True when a location may be at or below path: some pattern matches path
// as far as both go.
bool path_wanted(const std::vector<KeyPath> &patterns, const KeyPath &path);

// True when path is at or below a location: everything under it is wanted.
bool path_complete(const std::vector<KeyPath> &patterns, const KeyPath &path);

// True when a location ends at path and no other one passes through it or
// ends above it: the value there is a server map and nothing more is looked
// up inside its entries.
bool path_is_location_end(const std::vector<KeyPath> &patterns,
                          const KeyPath &path);

// The document parse_json_for_locations() builds (objects keep only the keys
// that may lead to a location, arrays on the way keep all their elements,
// values at a location are whole), when `bytes` is strict JSON that the fast
// reader takes. std::nullopt otherwise, and always from the plain reader:
// nlohmann/json then reads the text (or explains why it cannot). Whatever
// the fast reader accepts, nlohmann/json reads to the same values.
// One shortcut: when the value at a location end (path_is_location_end) is
// an object, each of its entries may come already written in canonical form
// (what nlohmann::json::dump() writes for it) as a binary value, which JSON
// text never produces; extract_mcp() then uses those bytes as they are.
// `padded`: PaddedBytes::k_padding readable bytes follow `bytes`
// (common/fs.hpp), and the reader may parse them in place.
std::optional<nlohmann::json>
parse_strict_json(std::string_view bytes, const std::vector<KeyPath> &patterns,
                  bool padded);

} // namespace mcpbk::detail
