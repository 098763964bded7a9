#include <common/yaml_load.hpp>

#include <yaml-cpp/yaml.h>

#include <map>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace mcpbk {

namespace {

// yaml-cpp's limit on nested collections.
constexpr std::size_t k_max_depth = 500;

YAML::Mark mark_of(const yaml_mark_t &at) {
  YAML::Mark mark;
  mark.pos = static_cast<int>(at.index);
  mark.line = static_cast<int>(at.line);
  mark.column = static_cast<int>(at.column);
  return mark;
}

const char *text_of(const yaml_char_t *text) {
  return reinterpret_cast<const char *>(text);
}

// A collection being filled: a map waits for its value after each key.
struct Open {
  YAML::Node node;
  bool map = false;
  std::optional<YAML::Node> key;
};

} // namespace

YamlEvents::YamlEvents(std::string_view text) {
  if (yaml_parser_initialize(&m_parser) == 0) {
    throw std::bad_alloc();
  }
  yaml_parser_set_input_string(
      &m_parser, reinterpret_cast<const unsigned char *>(text.data()),
      text.size());
}

YamlEvents::~YamlEvents() {
  if (m_has_event) {
    yaml_event_delete(&m_event);
  }
  yaml_parser_delete(&m_parser);
}

const yaml_event_t &YamlEvents::next() {
  if (m_has_event) {
    yaml_event_delete(&m_event);
    m_has_event = false;
  }
  if (yaml_parser_parse(&m_parser, &m_event) == 0) {
    std::string message =
        m_parser.problem != nullptr ? m_parser.problem : "cannot read the YAML";
    if (m_parser.context != nullptr) {
      message += std::string(" (") + m_parser.context + ")";
    }
    // A reader error (bad UTF-8, a control character) has no mark of its
    // own: it is where the reader stopped.
    throw YAML::ParserException(mark_of(m_parser.error == YAML_READER_ERROR
                                            ? m_parser.mark
                                            : m_parser.problem_mark),
                                message);
  }
  m_has_event = true;
  return m_event;
}

YAML::Node load_yaml(std::string_view text, Documents documents) {
  YamlEvents parser(text);
  std::map<std::string, YAML::Node> anchors;
  std::vector<Open> open;
  std::optional<YAML::Node> root;

  // Puts a finished node where it belongs: the root, the open list, or the
  // open map (as a key, then as that key's value).
  auto place = [&](const YAML::Node &node) {
    if (open.empty()) {
      root = node;
      return;
    }
    Open &parent = open.back();
    if (!parent.map) {
      parent.node.push_back(node);
    } else if (!parent.key) {
      parent.key = node;
    } else {
      parent.node.force_insert(*parent.key, node);
      parent.key.reset();
    }
  };
  auto remember = [&](const yaml_char_t *anchor, const YAML::Node &node) {
    if (anchor != nullptr) {
      anchors[text_of(anchor)] = node;
    }
  };
  auto start = [&](const yaml_event_t &event, YAML::NodeType::value type,
                   const yaml_char_t *anchor, const yaml_char_t *tag,
                   bool flow) {
    if (open.size() >= k_max_depth) {
      throw YAML::ParserException(mark_of(event.start_mark),
                                  "nesting deeper than " +
                                      std::to_string(k_max_depth));
    }
    YAML::Node node(type);
    if (tag != nullptr) {
      node.SetTag(text_of(tag));
    }
    if (flow) {
      node.SetStyle(YAML::EmitterStyle::Flow);
    }
    remember(anchor, node);
    open.push_back({node, type == YAML::NodeType::Map, std::nullopt});
  };

  for (;;) {
    const yaml_event_t &event = parser.next();
    switch (event.type) {
    case YAML_SCALAR_EVENT: {
      const auto &scalar = event.data.scalar;
      const std::string value(text_of(scalar.value), scalar.length);
      YAML::Node node;
      // An untagged plain scalar that yaml-cpp reads as null.
      if (scalar.tag == nullptr && scalar.style == YAML_PLAIN_SCALAR_STYLE &&
          YAML::IsNullString(value)) {
        node = YAML::Node(YAML::NodeType::Null);
      } else {
        node = YAML::Node(value);
        if (scalar.tag != nullptr) {
          node.SetTag(text_of(scalar.tag));
        }
      }
      remember(scalar.anchor, node);
      place(node);
      break;
    }
    case YAML_ALIAS_EVENT: {
      const auto found = anchors.find(text_of(event.data.alias.anchor));
      if (found == anchors.end()) {
        throw YAML::ParserException(mark_of(event.start_mark),
                                    "the referenced anchor is not defined");
      }
      place(found->second);
      break;
    }
    case YAML_SEQUENCE_START_EVENT:
      start(event, YAML::NodeType::Sequence, event.data.sequence_start.anchor,
            event.data.sequence_start.tag,
            event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE);
      break;
    case YAML_MAPPING_START_EVENT:
      start(event, YAML::NodeType::Map, event.data.mapping_start.anchor,
            event.data.mapping_start.tag,
            event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      const YAML::Node done = open.back().node;
      open.pop_back();
      place(done);
      break;
    }
    case YAML_DOCUMENT_END_EVENT:
      if (documents == Documents::one) {
        // The rest must be the end of the stream (a syntax error in it
        // throws while it is read).
        const yaml_event_t &after = parser.next();
        if (after.type != YAML_STREAM_END_EVENT) {
          throw YAML::ParserException(
              mark_of(after.start_mark),
              "a second YAML document; the file must be one document "
              "(remove the \"---\" or \"...\" line before it)");
        }
      }
      return root ? *root : YAML::Node();
    case YAML_STREAM_END_EVENT:
      // Only the first document counts, as with YAML::Load().
      return root ? *root : YAML::Node();
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_START_EVENT:
      break;
    }
  }
}

} // namespace mcpbk
