// libFuzzer target: parse_config on arbitrary YAML (SPEC §4, §5). Any
// exception escaping it, or a crash inside it, is a bug: a bad config must
// come back as a list of problems.

#include <common/config.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  auto config = mcpbk::parse_config(text, "fuzz.yaml");
  if (!config) {
    if (config.error().problems.empty()) {
      std::fprintf(stderr, "fuzz_config: failure without any problem\n");
      std::abort();
    }
    // Every problem must print (it goes to the user verbatim).
    const std::string all = config.error().to_string();
    if (all.empty()) {
      std::abort();
    }
    return 0;
  }
  // A config that loaded answers host() for any name.
  (void)config->host("claude-code");
  (void)config->host("no-such-host");
  return 0;
}
