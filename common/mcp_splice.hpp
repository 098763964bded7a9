#pragma once

// Internal to common/mcp.cpp: the text edits of restore --only-mcp.
//
// replace_mcp() decides, from the parsed documents, which server maps of the
// current file change. The functions here make those changes in the current
// file's text, so that every byte outside the changed maps stays as it was:
// comments, key order, spacing, quoting. A changed map takes the snapshot's
// own text for it (re-indented to where it goes). They return std::nullopt
// for what they do not handle (a flow-style YAML map, a TOML table spread
// over the file in an unusual way, ...); replace_mcp() also parses their
// result and compares it with the document it expects, and writes the whole
// document out again (losing comments) when either fails.

#include <common/json_reader.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcpbk::detail {

// One change at a location: `set` puts the snapshot's value at `path`
// (replacing the current one, or adding it with the maps on the way),
// `remove` takes the current one out.
struct SpliceOp {
  enum class Kind { set, remove };
  Kind kind = Kind::set;
  KeyPath path;
};

std::optional<std::string> splice_json(std::string_view current,
                                       std::string_view snapshot,
                                       const std::vector<SpliceOp> &ops);
std::optional<std::string> splice_yaml(std::string_view current,
                                       std::string_view snapshot,
                                       const std::vector<SpliceOp> &ops);
// Where a TOML text's [table] and [[array]] headers are (1-based lines, with
// the key path each opens) and where its values are (tables' keys written
// inline or dotted included), in line order: what toml++ tells mcp.cpp,
// which is the one file that includes it.
struct TomlOutline {
  std::vector<std::pair<std::size_t, KeyPath>> headers;
  std::vector<std::pair<std::size_t, KeyPath>> values;
};

// Each location's tables ([mcp_servers.x] and below), with the comment lines
// right above their headers, are replaced by the snapshot's. Locations set
// by keys outside their own tables (mcp_servers = {...}) are not handled.
std::optional<std::string> splice_toml(std::string_view current,
                                       const TomlOutline &current_outline,
                                       std::string_view snapshot,
                                       const TomlOutline &snapshot_outline,
                                       const std::vector<SpliceOp> &ops);

// Index just past the string literal starting at `i` (a quote), or the end
// of the text when it is unterminated.
std::size_t skip_string(std::string_view text, std::size_t i);

// Index just past the // or /* */ comment starting at `i`, or i when none
// starts there.
std::size_t skip_comment(std::string_view text, std::size_t i);

} // namespace mcpbk::detail
