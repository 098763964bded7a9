// libFuzzer target: MCP parsing, diff, risk, replace and masking
// (common/mcp.hpp) on arbitrary bytes, in every format.
//
// The input is split in two at its first NUL byte (or in halves when it has
// none): "before" and "after". For each format and a few locations, both
// are extracted, compared (summarize_change, semantic_diff, assess_risk) and
// the second's servers put into the first (replace_mcp). The text functions
// run once on both. These functions promise not to throw: an escaping
// exception is a crash, as it would be in the daemon's watch loop.
//
// A few cheap invariants are checked too (each aborts):
//   changed_fraction is within [0, 1] and 0 for equal texts;
//   unified_diff of equal texts is empty;
//   a view compared with itself has no server changes, nor differences
//   outside its servers;
//   JSON and JSONC views equal extract_mcp_reference()'s (simdjson path);
//   replace_mcp's result holds the second part's servers, and replacing
//   them in that result again changes no byte (catalog locations).

#include <common/fs.hpp>
#include <common/mcp.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace mcpbk;

void require(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_mcp: invariant broken: %s\n", what);
    std::abort();
  }
}

constexpr std::array<Format, 4> k_formats = {Format::json, Format::jsonc,
                                             Format::toml, Format::yaml};

// The locations of the host catalog, and odd ones a config could hold.
constexpr std::array<std::string_view, 12> k_locations = {
    "mcpServers",
    "servers",
    "mcp_servers",
    "extensions",
    "mcpServers projects.*.mcpServers",
    "experimental.modelContextProtocolServers",
    "*",
    "*.*",
    "",
    "a..b",
    ". *",
    "mcpServers mcpServers.x mcpServers",
};

enum class Catalog { no, yes };

void exercise(std::string_view before, std::string_view after, Format format,
              std::string_view locations, Catalog catalog) {
  const McpView a = extract_mcp(before, format, locations);
  const McpView b = extract_mcp(after, format, locations);
  if (format == Format::json || format == Format::jsonc) {
    // simdjson reads what is strict JSON: the view must be nlohmann's.
    const McpView reference = extract_mcp_reference(after, format, locations);
    require(b.parsed == reference.parsed &&
                b.parse_error == reference.parse_error &&
                b.servers == reference.servers && b.empty == reference.empty,
            "extract_mcp differs from extract_mcp_reference");
    // The daemon's captures parse in place, past the end of the text.
    std::string padded(after);
    padded.append(PaddedBytes::k_padding, '"');
    const McpView in_place =
        extract_mcp(std::string_view(padded.data(), after.size()), format,
                    locations, Padded::yes);
    require(in_place.parsed == b.parsed &&
                in_place.parse_error == b.parse_error &&
                in_place.servers == b.servers && in_place.empty == b.empty,
            "extract_mcp in place differs from extract_mcp");
  }
  (void)a.server_names();
  (void)a.good();
  (void)summarize_change(nullptr, b);
  (void)summarize_change(&a, b);
  (void)semantic_diff(a, b);
  require(semantic_diff(b, b).empty(), "semantic_diff(v, v) is not empty");
  (void)assess_risk(std::string_view(), nullptr, after, b);
  (void)assess_risk(before, &a, after, b);
  (void)differs_outside_mcp(before, after, format, locations);
  require(differs_outside_mcp(after, after, format, locations) !=
              std::optional<bool>(true),
          "differs_outside_mcp(v, v) is true");
  auto replaced = replace_mcp(before, after, format, locations);
  if (replaced) {
    // replace_mcp checks that its result holds exactly the snapshot's
    // servers; this checks that check.
    const McpView result = extract_mcp(*replaced, format, locations);
    require(result.parsed && result.servers == b.servers,
            "replace_mcp result does not hold the snapshot's servers");
    // Restoring the same servers again changes nothing: every map is equal,
    // so the text edits leave every byte (catalog locations; odd ones like
    // "*" may overlap and are written out whole each time).
    if (catalog == Catalog::yes) {
      auto again = replace_mcp(*replaced, after, format, locations);
      if (!again || *again != *replaced) {
        std::fprintf(stderr, "fuzz_mcp: format %s, locations \"%.*s\"\n",
                     to_string(format), static_cast<int>(locations.size()),
                     locations.data());
        require(false, "replace_mcp of its own result changed it");
      }
    }
  }
  for (const auto &[name, entry] : b.servers) {
    (void)mask_secrets_in_json(entry);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char *>(data), size);
  std::size_t split = input.find('\0');
  std::string_view before;
  std::string_view after;
  if (split == std::string_view::npos) {
    split = size / 2;
    before = input.substr(0, split);
    after = input.substr(split);
  } else {
    before = input.substr(0, split);
    after = input.substr(split + 1);
  }

  // Each format with its catalog location, plus one odd location chosen by
  // the input so the fuzzer can explore them all.
  const std::string_view odd =
      k_locations[size == 0 ? 0 : data[size - 1] % k_locations.size()];
  const std::array<std::string_view, 4> primary = {
      "mcpServers projects.*.mcpServers", "servers", "mcp_servers",
      "mcpServers"};
  for (std::size_t i = 0; i < k_formats.size(); ++i) {
    exercise(before, after, k_formats[i], primary[i], Catalog::yes);
    exercise(before, after, k_formats[i], odd, Catalog::no);
  }

  (void)is_secret_key(before);
  (void)mask_secrets_in_text(before);
  (void)mask_secrets_in_text(after);
  (void)mask_secrets_in_json(before);
  (void)mask_secrets_in_json(after);

  const double fraction = changed_fraction(before, after);
  require(fraction >= 0.0 && fraction <= 1.0,
          "changed_fraction outside [0, 1]");
  require(changed_fraction(before, before) == 0.0,
          "changed_fraction(a, a) is not 0");
  (void)unified_diff(before, after, "before", "after");
  require(unified_diff(after, after, "a", "b").empty(),
          "unified_diff(a, a) is not empty");
  return 0;
}
