// No fast strict-JSON reader: nlohmann/json reads every JSON document
// (common/json_reader.hpp). mcpbkctl links this one.

#include <common/json_reader.hpp>

namespace mcpbk::detail {

std::optional<nlohmann::json>
parse_strict_json(std::string_view /*bytes*/,
                  const std::vector<KeyPath> & /*patterns*/, bool /*padded*/) {
  return std::nullopt;
}

} // namespace mcpbk::detail
