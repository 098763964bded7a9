#pragma once

#include <yaml-cpp/node/node.h>

#include <yaml.h>

#include <string_view>

namespace mcpbk {

// libyaml's events for a text, one at a time, for readers that need to know
// where each node is (libyaml's marks count characters, not bytes).
class YamlEvents {
public:
  explicit YamlEvents(std::string_view text);
  ~YamlEvents();
  YamlEvents(const YamlEvents &) = delete;
  YamlEvents &operator=(const YamlEvents &) = delete;

  // The next event, valid until the next call. A syntax error throws
  // YAML::ParserException with where libyaml stopped.
  const yaml_event_t &next();

private:
  yaml_parser_t m_parser{};
  yaml_event_t m_event{};
  bool m_has_event = false;
};

// Reads the first YAML document of `text` into a yaml-cpp tree, as
// YAML::Load() would, with libyaml's event parser: yaml-cpp's own scanner
// spends about 2 M instructions on the shipped config.yaml, most of what a
// short mcpbkctl command costs (bench/RESULTS.md, round 7). The tree is the
// same: plain empty, "~" and "null" scalars are null nodes, duplicate keys
// are kept in order, aliases share their anchor's node, explicit tags are
// kept; an empty text is a null node. A syntax error, an undefined alias and
// nesting deeper than 500 throw YAML::ParserException with the position
// (0-based line and column) where libyaml stopped.
// With Documents::one, a text of more than one document (a "---" or "..."
// followed by more) throws instead: what follows the first would be left
// unread, mistakes and all.
enum class Documents { first, one };
YAML::Node load_yaml(std::string_view text,
                     Documents documents = Documents::first);

} // namespace mcpbk
