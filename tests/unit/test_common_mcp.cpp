#include <common/fs.hpp>
#include <common/mcp.hpp>

#include <doctest/doctest.h>
#include <dtl/dtl.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace mcpbk;

namespace {

// Texts made of pieces picked by a fixed-seed generator, for the
// differential tests.
class PieceTexts {
public:
  PieceTexts(std::vector<std::string> pieces, std::uint64_t seed)
      : m_pieces(std::move(pieces)), m_seed(seed) {}
  std::uint64_t next(std::uint64_t n) {
    m_seed = m_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (m_seed >> 33) % n;
  }
  std::string text(std::uint64_t n) {
    std::string out;
    for (std::uint64_t i = 0; i < n; ++i) {
      out += m_pieces[next(m_pieces.size())];
    }
    return out;
  }
  const std::string &piece(std::size_t i) const { return m_pieces[i]; }

private:
  std::vector<std::string> m_pieces;
  std::uint64_t m_seed;
};

std::vector<std::string> reference_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

// Round 7's unified_diff (lines compared one by one over whole texts), the
// reference the byte-trimming one must equal.
std::string reference_unified_diff(std::string_view before,
                                   std::string_view after,
                                   std::string_view before_label,
                                   std::string_view after_label) {
  if (before == after) {
    return {};
  }
  std::vector<std::string> a = reference_lines(before);
  std::vector<std::string> b = reference_lines(after);
  // Equal lines far from any change only cost time: keep 3 of them around the
  // changed middle and offset the hunk line numbers.
  constexpr std::size_t k_context = 3;
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const std::size_t skip_front = prefix > k_context ? prefix - k_context : 0;
  const std::size_t skip_back = suffix > k_context ? suffix - k_context : 0;
  std::vector<std::string> mid_a(a.begin() + static_cast<long>(skip_front),
                                 a.end() - static_cast<long>(skip_back));
  std::vector<std::string> mid_b(b.begin() + static_cast<long>(skip_front),
                                 b.end() - static_cast<long>(skip_back));
  dtl::Diff<std::string, std::vector<std::string>> diff(mid_a, mid_b);
  if (mid_a.size() + mid_b.size() > 100'000) {
    diff.onHuge();
  }
  diff.compose();
  diff.composeUnifiedHunks();

  std::string out;
  out += "--- ";
  out += before_label;
  out += "\n+++ ";
  out += after_label;
  out += '\n';
  auto range = [](long long start, long long length, std::size_t offset) {
    // An empty range starts at the line before it (0 for an empty file).
    long long first = length == 0 ? start - 1 : start;
    return std::to_string(first + static_cast<long long>(offset)) + "," +
           std::to_string(length);
  };
  for (const auto &hunk : diff.getUniHunks()) {
    out += "@@ -" + range(hunk.a, hunk.b, skip_front) + " +" +
           range(hunk.c, hunk.d, skip_front) + " @@\n";
    for (const auto *lines : {&hunk.common[0], &hunk.change, &hunk.common[1]}) {
      for (const auto &[line, info] : *lines) {
        out += info.type == dtl::SES_ADD      ? '+'
               : info.type == dtl::SES_DELETE ? '-'
                                              : ' ';
        out += line;
        if (line.empty() || line.back() != '\n') {
          out += "\n\\ No newline at end of file\n";
        }
      }
    }
  }
  return out;
}

const std::string k_minus = "\xE2\x88\x92"; // U+2212
const std::string k_mask = "\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2"
                           "\xE2\x80\xA2"; // "••••"

const char *const k_claude_desktop = R"({
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123"}
    },
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/u/docs"]
    }
  },
  "preferences": {
    "quickEntryShortcut": "double-tap-option",
    "menuBarEnabled": true
  }
}
)";

const char *const k_vscode_jsonc = R"(// VS Code user MCP configuration
{
  /* servers started on demand */
  "servers": {
    "github": {
      "type": "http",
      "url": "https://api.githubcopilot.com/mcp/", // remote
    },
    "playwright": {
      "command": "npx",
      "args": ["@playwright/mcp@latest",],
    },
  },
  "inputs": [
    {"type": "promptString", "id": "token", "password": true,},
  ],
}
)";

const char *const k_codex_toml = R"(model = "gpt-5-codex"
model_reasoning_effort = "high"

[mcp_servers.github]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]
env = { GITHUB_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123" }

[mcp_servers.docs]
url = "https://example.com/mcp"
bearer_token_env_var = "DOCS_TOKEN"
startup_timeout_sec = 20

[projects."/home/u/proj"]
trust_level = "trusted"
)";

const char *const k_goose_yaml = R"(GOOSE_PROVIDER: anthropic
GOOSE_MODEL: claude-sonnet-4
extensions:
  developer:
    enabled: true
    type: builtin
    name: developer
    timeout: 300
  github:
    enabled: true
    type: stdio
    name: github
    cmd: npx
    args: [-y, "@modelcontextprotocol/server-github"]
    envs:
      GITHUB_TOKEN: "ghp_abcdefghijklmnopqrstuvwxyz0123"
    timeout: 300
)";

const char *const k_continue_yaml = R"(name: Local Assistant
version: 1.0.0
schema: v1
models:
  - name: Llama
    provider: ollama
    model: llama3.1:8b
mcpServers:
  - name: SQLite
    command: npx
    args: ["-y", "mcp-sqlite", "/home/u/db.sqlite"]
  - name: Browser
    type: sse
    url: http://localhost:8931/sse
  - command: uvx
    args: [mcp-server-time]
)";

const char *const k_zed_jsonc = R"({
  // Zed settings
  "theme": "One Dark",
  "buffer_font_size": 15,
  "context_servers": {
    "postgres": {
      "source": "custom",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/db"],
      "env": {}
    }
  },
}
)";

const char *const k_claude_code = R"({
  "numStartups": 42,
  "tipsHistory": {"new-user-warmup": 1},
  "mcpServers": {
    "sentry": {"type": "http", "url": "https://mcp.sentry.dev/mcp"}
  },
  "projects": {
    "/home/u/alpha": {
      "allowedTools": [],
      "hasTrustDialogAccepted": true,
      "mcpServers": {
        "db": {"command": "node", "args": ["db.js"]}
      }
    },
    "/home/u/beta": {
      "allowedTools": [],
      "mcpServers": {}
    },
    "/home/u/gamma": {
      "allowedTools": []
    }
  }
}
)";

// A ~/.claude.json the size real ones reach: hundreds of projects with
// history, a few megabytes.
std::string big_claude_json(int projects) {
  std::string out =
      "{\n  \"numStartups\": 1234,\n  \"mcpServers\": {\n"
      "    \"sentry\": {\"type\": \"http\", \"url\": "
      "\"https://mcp.sentry.dev/mcp\"}\n  },\n  \"projects\": {\n";
  for (int p = 0; p < projects; ++p) {
    out += "    \"/home/u/src/project-" + std::to_string(p) + "\": {\n";
    out += "      \"history\": [\n";
    for (int h = 0; h < 40; ++h) {
      out += "        {\"display\": \"please refactor module " +
             std::to_string(h) + " of project " + std::to_string(p) +
             " and add tests for the edge cases\", \"pastedContents\": {}},\n";
    }
    out +=
        "        {\"display\": \"done\", \"pastedContents\": {}}\n      ],\n";
    out += "      \"mcpServers\": {\"local-" + std::to_string(p) +
           "\": {\"command\": \"node\", \"args\": [\"server.js\"]}},\n";
    out += "      \"hasTrustDialogAccepted\": true\n    }";
    out += p + 1 < projects ? ",\n" : "\n";
  }
  out += "  }\n}\n";
  return out;
}

// n lines "line <i>\n".
std::string numbered_lines(int n, const std::string &tag = "line") {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += tag + " " + std::to_string(i) + "\n";
  }
  return out;
}

// Replaces lines [from, to) of numbered_lines text by "changed <i>".
std::string change_lines(int n, int from, int to) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out +=
        (i >= from && i < to ? "changed " : "line ") + std::to_string(i) + "\n";
  }
  return out;
}

McpView view_of(std::initializer_list<std::string> names) {
  McpView view;
  view.parsed = true;
  for (const auto &name : names) {
    view.servers[name] = R"({"command":"x"})";
  }
  return view;
}

} // namespace

TEST_CASE("extract_mcp") {
  SUBCASE("Claude Desktop JSON with preferences") {
    McpView view = extract_mcp(k_claude_desktop, Format::json, "mcpServers");
    CHECK(view.parsed);
    CHECK(view.good());
    CHECK_FALSE(view.empty);
    CHECK(view.server_names() ==
          std::vector<std::string>{"filesystem", "github"});
    CHECK(
        view.servers.at("filesystem") ==
        R"({"args":["-y","@modelcontextprotocol/server-filesystem","/home/u/docs"],"command":"npx"})");
  }

  SUBCASE("VS Code JSONC with comments and trailing commas") {
    McpView view = extract_mcp(k_vscode_jsonc, Format::jsonc, "servers");
    REQUIRE(view.parsed);
    CHECK(view.server_names() ==
          std::vector<std::string>{"github", "playwright"});
    CHECK(view.servers.at("playwright") ==
          R"({"args":["@playwright/mcp@latest"],"command":"npx"})");
  }

  SUBCASE("JSONC syntax is an error in a plain JSON file") {
    McpView view = extract_mcp(k_vscode_jsonc, Format::json, "servers");
    CHECK_FALSE(view.parsed);
    CHECK(view.parse_error.rfind("line 1, column 1:", 0) == 0);
  }

  SUBCASE("a comma inside a string is not a trailing comma") {
    McpView view = extract_mcp(R"({"servers": {"a": {"args": [",]", ",}"],}}})",
                               Format::jsonc, "servers");
    REQUIRE(view.parsed);
    CHECK(view.servers.at("a") == R"({"args":[",]",",}"]})");
  }

  SUBCASE("a JSONC file with only comments is an empty document") {
    McpView view = extract_mcp("// nothing yet\n", Format::jsonc, "servers");
    CHECK(view.parsed);
    CHECK(view.servers.empty());
    CHECK_FALSE(view.empty);
  }

  SUBCASE("Codex TOML with mcp_servers tables and project trust") {
    McpView view = extract_mcp(k_codex_toml, Format::toml, "mcp_servers");
    REQUIRE(view.parsed);
    CHECK(view.server_names() == std::vector<std::string>{"docs", "github"});
    CHECK(
        view.servers.at("docs") ==
        R"({"bearer_token_env_var":"DOCS_TOKEN","startup_timeout_sec":20,"url":"https://example.com/mcp"})");
  }

  SUBCASE("Goose YAML extensions with typed scalars") {
    McpView view = extract_mcp(k_goose_yaml, Format::yaml, "extensions");
    REQUIRE(view.parsed);
    CHECK(view.server_names() ==
          std::vector<std::string>{"developer", "github"});
    CHECK(
        view.servers.at("developer") ==
        R"({"enabled":true,"name":"developer","timeout":300,"type":"builtin"})");
  }

  SUBCASE("Continue YAML list named by name, else by index") {
    McpView view = extract_mcp(k_continue_yaml, Format::yaml, "mcpServers");
    REQUIRE(view.parsed);
    CHECK(view.server_names() ==
          std::vector<std::string>{"2", "Browser", "SQLite"});
    CHECK(view.servers.at("2") ==
          R"({"args":["mcp-server-time"],"command":"uvx"})");
  }

  SUBCASE("Zed context_servers in JSONC") {
    McpView view = extract_mcp(k_zed_jsonc, Format::jsonc, "context_servers");
    REQUIRE(view.parsed);
    CHECK(view.server_names() == std::vector<std::string>{"postgres"});
  }

  SUBCASE("~/.claude.json user and project servers") {
    McpView view = extract_mcp(k_claude_code, Format::json,
                               "mcpServers projects.*.mcpServers");
    REQUIRE(view.parsed);
    CHECK(view.server_names() ==
          std::vector<std::string>{"db@/home/u/alpha", "sentry"});
  }

  SUBCASE("a multi-megabyte ~/.claude.json with hundreds of projects") {
    std::string big = big_claude_json(400);
    REQUIRE(big.size() > 2'000'000);
    McpView view =
        extract_mcp(big, Format::json, "mcpServers projects.*.mcpServers");
    REQUIRE(view.parsed);
    CHECK(view.servers.size() == 401);
    CHECK(view.servers.count("local-399@/home/u/src/project-399") == 1);
  }

  SUBCASE("an absent location gives no servers") {
    McpView view =
        extract_mcp(R"({"preferences": {}})", Format::json, "mcpServers");
    CHECK(view.parsed);
    CHECK(view.servers.empty());
    CHECK_FALSE(view.good());
  }

  SUBCASE("empty content is an empty document") {
    for (Format format :
         {Format::json, Format::jsonc, Format::toml, Format::yaml}) {
      McpView view = extract_mcp(" \n", format, "mcpServers");
      CHECK(view.parsed);
      CHECK(view.empty);
      CHECK(view.servers.empty());
    }
  }

  SUBCASE("parse errors carry line and column") {
    McpView json = extract_mcp("{\n  \"mcpServers\": {\n    \"a\" 1\n}",
                               Format::json, "mcpServers");
    CHECK_FALSE(json.parsed);
    CHECK(json.parse_error.rfind("line 3, column 9: syntax error", 0) == 0);
    CHECK(json.parse_error.find("last read") == std::string::npos);

    McpView truncated =
        extract_mcp("{\"mcpServers\": {\"a\": ", Format::json, "mcpServers");
    CHECK_FALSE(truncated.parsed);
    CHECK(truncated.servers.empty());

    McpView toml = extract_mcp("[mcp_servers.a]\ncommand = \n", Format::toml,
                               "mcp_servers");
    CHECK_FALSE(toml.parsed);
    CHECK(toml.parse_error.rfind("line 2, column ", 0) == 0);

    McpView yaml =
        extract_mcp("extensions:\n  a: [1, 2\n", Format::yaml, "extensions");
    CHECK_FALSE(yaml.parsed);
    CHECK(yaml.parse_error.rfind("line ", 0) == 0);
  }
  SUBCASE("TOML with other letters where whitespace may stand") {
    // toml++ 3.3 reached __builtin_unreachable() on these (the ASan+UBSan
    // build aborts if it still does).
    for (const char *text :
         {"[mcp_servers.a]\ncommand =\u03A0 \"x\"\n",
          "[mcp_servers.a]\ncommand = \"x\"\u00E9\n", "\u2E80 = 1\n",
          "[mcp_servers]\u00A1\n", "a = [1,\u0400 2]\n"}) {
      CAPTURE(text);
      const McpView view = extract_mcp(text, Format::toml, "mcp_servers");
      CHECK_FALSE(view.parsed);
      CHECK_FALSE(view.parse_error.empty());
    }
    const McpView letters =
        extract_mcp("[mcp_servers.\"\u03A0\"]\ncommand = \"\u00E9\"\n",
                    Format::toml, "mcp_servers");
    CHECK(letters.parsed);
    CHECK(letters.servers.count("\u03A0") == 1);
  }
}

TEST_CASE("extract_mcp canonical form") {
  SUBCASE("reordered keys and whitespace give the same canonical JSON") {
    McpView a = extract_mcp(
        R"({"mcpServers":{"gh":{"command":"npx","args":["a","b"],"env":{"X":"1","Y":"2"}}}})",
        Format::json, "mcpServers");
    McpView b = extract_mcp(R"({
      "other": 1,
      "mcpServers": {
        "gh": {
          "env": { "Y": "2", "X": "1" },
          "args": [ "a", "b" ],
          "command": "npx"
        }
      }
    })",
                            Format::json, "mcpServers");
    CHECK(a.servers == b.servers);
  }

  SUBCASE("the same servers in JSON, TOML and YAML are equal") {
    McpView json = extract_mcp(
        R"({"mcp_servers": {"t": {"command": "uvx", "args": ["x"], "timeout": 5}}})",
        Format::json, "mcp_servers");
    McpView toml = extract_mcp(
        "[mcp_servers.t]\ncommand = \"uvx\"\nargs = [\"x\"]\ntimeout = 5\n",
        Format::toml, "mcp_servers");
    McpView yaml = extract_mcp(
        "mcp_servers:\n  t:\n    timeout: 5\n    args: [x]\n    command: uvx\n",
        Format::yaml, "mcp_servers");
    CHECK(json.servers == toml.servers);
    CHECK(json.servers == yaml.servers);
  }

  SUBCASE("an argument order change is a change") {
    McpView a = extract_mcp(R"({"mcpServers":{"s":{"args":["1","2"]}}})",
                            Format::json, "mcpServers");
    McpView b = extract_mcp(R"({"mcpServers":{"s":{"args":["2","1"]}}})",
                            Format::json, "mcpServers");
    CHECK(a.servers != b.servers);
  }
}

namespace {

// Checks that extract_mcp() (simdjson for strict JSON) and
// extract_mcp_reference() (nlohmann/json only) see `text` alike, as JSON and
// as JSONC.
void check_same_as_reference(
    const std::string &text,
    const std::string &locations = "mcpServers projects.*.mcpServers") {
  for (Format format : {Format::json, Format::jsonc}) {
    CAPTURE(text);
    CAPTURE(locations);
    CAPTURE(format == Format::json ? "json" : "jsonc");
    const McpView fast = extract_mcp(text, format, locations);
    const McpView reference = extract_mcp_reference(text, format, locations);
    CHECK(fast.parsed == reference.parsed);
    CHECK(fast.parse_error == reference.parse_error);
    CHECK(fast.empty == reference.empty);
    CHECK(fast.servers == reference.servers);
    // Read in place (Padded::yes), whatever the padding holds: here the
    // bytes most likely to mislead a reader that used them.
    std::string padded = text + std::string(PaddedBytes::k_padding, '"');
    const McpView in_place =
        extract_mcp(std::string_view(padded.data(), text.size()), format,
                    locations, Padded::yes);
    CHECK(in_place.parsed == reference.parsed);
    CHECK(in_place.parse_error == reference.parse_error);
    CHECK(in_place.empty == reference.empty);
    CHECK(in_place.servers == reference.servers);
  }
}

// `value` as the only field of one server.
std::string in_server(const std::string &value) {
  return R"({"mcpServers": {"s": {"v": )" + value + "}}}";
}

} // namespace

TEST_CASE("extract_mcp equals extract_mcp_reference") {
  SUBCASE("numbers of every kind") {
    // Space-separated literals, valid or not.
    std::istringstream numbers(
        "0 -0 1 -1 0.0 -0.0 0e0 -0e-0 1e2 1E+2 1e-2 -1.5e-3 12.5E3 "
        "9223372036854775807 9223372036854775808 -9223372036854775808 "
        "-9223372036854775809 18446744073709551615 "
        "18446744073709551616 -18446744073709551616 "
        "123456789012345678901234567890 9007199254740993 0.1 "
        "3.141592653589793238462643383279502884197 1e308 1e309 -1e309 "
        "1e-400 4.9e-324 2.2250738585072014e-308 "
        "1.7976931348623157e308 1.7976931348623159e308 "
        "100000000000000000000000.5 1e-10000000000000000000 01 -01 1. "
        ".5 +1 - 1e 1e+ 0x10 NaN Infinity -Infinity 1_000");
    for (std::string number; numbers >> number;) {
      check_same_as_reference(in_server(number));
      check_same_as_reference(in_server(std::string("[") + number + "]"));
    }
  }

  SUBCASE("the canonical form of numbers") {
    const std::string numbers =
        R"({"mcpServers": {"n": {"a": -0, "b": -0.0, "c": 1E2, )"
        R"("d": 18446744073709551615, "e": 9223372036854775808, )"
        R"("f": -9223372036854775808, "g": 1e-400, "h": 0.1, "i": 5e-324, )"
        R"("j": 12345678901234567890123, "k": 1.5}}})";
    const std::string expected =
        R"({"a":0,"b":-0.0,"c":100.0,"d":18446744073709551615,)"
        R"("e":9223372036854775808,"f":-9223372036854775808,"g":0.0,)"
        R"("h":0.1,"i":5e-324,"j":1.2345678901234568e+22,"k":1.5})";
    CHECK(extract_mcp(numbers, Format::json, "mcpServers").servers.at("n") ==
          expected);
    check_same_as_reference(numbers);
    // Without the big integer, simdjson reads the document.
    const std::string small = R"({"mcpServers": {"n": {"a": -0, "b": -0.0, )"
                              R"("c": 1E2, "d": 18446744073709551615}}})";
    CHECK(extract_mcp(small, Format::json, "mcpServers").servers.at("n") ==
          R"({"a":0,"b":-0.0,"c":100.0,"d":18446744073709551615})");
    check_same_as_reference(small);
  }

  SUBCASE("strings, escapes and UTF-8") {
    for (const char *literal : {
             R"("")",
             R"("\u0000")",
             R"("\u00e9 \u00E9 é")",
             R"("\uD83D\uDE00 \ud83d\ude00 😀")",
             R"("\uDBFF\uDFFF")",
             R"("\uDE00")",
             R"("\uD83D")",
             R"("\uD83Dx")",
             R"("\uD83D\u0041")",
             R"("\uD83D\uD83D")",
             R"("\\uDE00")",
             R"("\\\uDE00")",
             R"("\/\b\f\n\r\t\"\\")",
             R"("\x")",
             R"("\u12")",
             R"("\u12G4")",
             R"("\U00e9")",
             "\"\x01\"",
             "\"\x1f\"",
             "\"\x7f\"",
             "\"\t\"",
             "\"\xC3\"",
             "\"\xC3\xA9\"",
             "\"\xC0\xAF\"",
             "\"\xE0\x80\xAF\"",
             "\"\xED\xA0\x80\"",
             "\"\xED\x9F\xBF\"",
             "\"\xF4\x8F\xBF\xBF\"",
             "\"\xF4\x90\x80\x80\"",
             "\"\xF8\x88\x80\x80\x80\"",
             "\"\xFF\"",
             "\"\xE2\x80\xA8\"",
             "\"unterminated",
             "'single'",
         }) {
      const std::string text(literal);
      check_same_as_reference(in_server(text));
      check_same_as_reference(R"({"mcpServers": {)" + text + ": {}}}");
      // As a key inside a server's entry, which is written canonically.
      check_same_as_reference(R"({"mcpServers": {"s": {"a": 1, )" + text +
                              R"(: [2], "z": {)" + text + ": null}}}}");
    }
  }

  SUBCASE("escaped and non-ASCII server names") {
    const std::string text =
        R"({"mcpServers": {"\uD83D\uDE00": {"x": "\u00e9"}, "g\u0068": {}}})";
    const McpView view = extract_mcp(text, Format::json, "mcpServers");
    CHECK(view.server_names() ==
          std::vector<std::string>{"gh", "\xF0\x9F\x98\x80"});
    CHECK(view.servers.at("\xF0\x9F\x98\x80") == "{\"x\":\"\xC3\xA9\"}");
    check_same_as_reference(text);
  }

  SUBCASE("documents and locations") {
    const std::vector<std::string> documents = {
        k_claude_desktop,
        k_claude_code,
        k_vscode_jsonc,
        k_zed_jsonc,
        big_claude_json(3),
        // Duplicate keys: the last one counts, at every level.
        R"({"mcpServers": {"a": {"x": 1}, "a": {"y": 2}},
            "mcpServers": {"b": {}, "c": {"env": {"K": "1", "K": "2"}}}})",
        R"({"mcpServers": {"a": 1, "b": 2, "a": 3}})",
        // Keys sorted byte-wise (not by code point or locale), empty ones,
        // ones that share a prefix, nested and repeated.
        R"({"mcpServers": {"s": {"z": 1, "\u00e9": 2, "A": 3, "a\u0000b": 4,
            "a": 5, "\u007f": 6, "": 7, "ab": {"y": [], "x": {}, "y": [0]},
            "\uD83D\uDE00": true, "\uFFFF": false, "z": -1}}})",
        R"({"projects": {"/p": {"mcpServers": {"a": {}}}, "/p": {"x": 1},
                         "/q": {"mcpServers": {"a": {}}, "mcpServers": 5}}})",
        // Arrays of servers, named by "name" or by index.
        R"({"mcpServers": [{"name": "a", "command": "x"}, {"command": "y"},
            {"name": "a"}, {"name": 5}, [1, 2], "str", null, 1.5]})",
        R"({"projects": [{"mcpServers": {"a": {}}}], "mcpServers": [[{}]]})",
        R"({"projects": {"/p": [{"mcpServers": {"a": {}}}]}})",
        // Qualified names that collide.
        R"({"mcpServers": {"a@/p": {"n": 1}},
            "projects": {"/p": {"mcpServers": {"a": {"n": 2}}}}})",
        // Locations that are not objects.
        R"({"mcpServers": 5, "projects": "x"})",
        R"({"mcpServers": null, "projects": {"/p": null}})",
        R"({"mcpServers": "x", "projects": {"/p": {"mcpServers": true}}})",
        // Roots that are not objects.
        R"([{"mcpServers": {"a": {}}}])",
        R"("mcpServers")",
        "42",
        "null",
        "true",
        "[]",
        "{}",
        // Odd keys for odd locations.
        R"({"": {"": {"s": {}}}, "a": {"": {"b": {"s": 1}}}, ".": [],
            "mcpServers": {"x": {"y": 1}}, "*": {"*": {"*": 2}},
            "\u0000[]": {"mcpServers": {"z": {}}}})",
    };
    for (const std::string &document : documents) {
      for (const char *locations :
           {"mcpServers projects.*.mcpServers", "mcpServers", "servers",
            "context_servers", "*", "*.*", "", "a..b", ". *", "*.*.*",
            "mcpServers mcpServers.x mcpServers", "projects.*"}) {
        check_same_as_reference(document, locations);
      }
    }
  }

  SUBCASE("deep nesting") {
    for (int depth :
         {100, 1000, 1022, 1023, 1024, 1025, 1026, 1030, 3000, 60000}) {
      const std::string deep =
          std::string(static_cast<std::size_t>(depth), '[') +
          std::string(static_cast<std::size_t>(depth), ']');
      check_same_as_reference(in_server(deep));
      check_same_as_reference(deep);
    }
    // What is nested too deeply for either reader is refused, with a reason,
    // rather than written out recursively (60 000 levels overflowed the
    // stack when a server entry was written out in canonical form).
    for (const int depth : {1000, 60000}) {
      const std::string deep =
          std::string(static_cast<std::size_t>(depth), '[') +
          std::string(static_cast<std::size_t>(depth), ']');
      for (const Format format : {Format::json, Format::jsonc}) {
        const McpView view = extract_mcp(in_server(deep), format, "mcpServers");
        CHECK(view.parsed == (depth == 1000));
        CHECK(view.parse_error ==
              (depth == 1000 ? "" : "nested more than 1024 levels deep"));
      }
    }
  }

  SUBCASE("whitespace, byte order marks and trailing bytes") {
    using namespace std::string_literals;
    for (const std::string &text : {
             "\t\r\n {\"mcpServers\": {\"a\": {}}} \r\n\t"s,
             "\xEF\xBB\xBF{\"mcpServers\": {\"a\": {}}}"s,
             "\xEF\xBB\xBF {\"mcpServers\": {\"a\": {}}}"s,
             "\xEF\xBB\xBF"s,
             "\xEF\xBB\xBF \n"s,
             "\xEF\xBB{}"s,
             "\xEF\xBB\xBF\xEF\xBB\xBF{}"s,
             "{\"mcpServers\": {\"a\": {}}}\0"s,
             "{\"mcpServers\": {\"a\": {}}}\0junk"s,
             "{\"mcpServers\": {\"a\": \0}}"s,
             "{\"mcpServers\": {\"a\": {}}} x"s,
             "{\"mcpServers\": {\"a\": {}}}{}"s,
             "\f{}"s,
             "\v{}"s,
             "{}\f"s,
             ""s,
             " \n"s,
         }) {
      check_same_as_reference(text);
    }
  }

  SUBCASE("invalid documents") {
    for (const char *text : {
             "{",
             "}",
             "[",
             R"({"mcpServers": )",
             R"({"mcpServers": {"a": }})",
             R"({"mcpServers": {"a": {}},})",
             R"({"mcpServers": {"a": [1,]}})",
             R"({"mcpServers": {"a" {}}})",
             R"({"mcpServers": {"a": {}} "x": 1})",
             R"({'mcpServers': {}})",
             R"({mcpServers: {}})",
             R"({"mcpServers": {"a": tru}})",
             R"({"mcpServers": {"a": nul}})",
             R"({"mcpServers": {"a": True}})",
             "{\n  \"mcpServers\": {\n    \"a\" 1\n}",
         }) {
      check_same_as_reference(text);
    }
  }

  SUBCASE("JSONC comments and trailing commas") {
    for (const char *text : {
             "// only a comment\n",
             "/* only a comment */",
             "/* unterminated",
             "{\"mcpServers\": {\"a\": {}}} // trailing comment",
             "{\"mcpServers\": {\"a\": {}} /* c */ }",
             "{\"mcpServers\": {\"a\": {\"args\": [1, 2,],},},}",
             "{\"mcpServers\": {\"a\": {\"url\": \"http://x//y/*z*/\"}}}",
             "{\"mcpServers\": {\"a\": {}}, /* , */ }",
             "{\"mcpServers\": # not a comment\n {}}",
         }) {
      check_same_as_reference(text);
    }
  }

  SUBCASE("random mutations of tricky documents") {
    // A fixed seed: the same mutations on every run.
    std::uint64_t state = 0x9E3779B97F4A7C15u;
    auto next = [&state](std::size_t bound) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      return static_cast<std::size_t>(state >> 33) % bound;
    };
    const std::string seeds[] = {
        R"({"mcpServers": {"a": {"command": "npx", "args": ["-y", "x"],
            "env": {"K": "\u00e9\uD83D\uDE00"}, "n": [-0, 1.5e3, 7]}},
            "projects": {"/p": {"mcpServers": {"b": {"t": true}}}}})",
        R"({"mcpServers": [{"name": "a", "v": null},)"
        R"( {"v": 18446744073709551615}]})",
        k_claude_code,
    };
    const std::string alphabet = "{}[],:\"\\/*u0123456789eE+-.tfnlrsaD\xC3\xA9"
                                 "\xF0 \n\t";
    for (int round = 0; round < 3000; ++round) {
      std::string text = seeds[next(std::size(seeds))];
      for (std::size_t edits = 1 + next(3); edits > 0; --edits) {
        const std::size_t at = next(text.size() + 1);
        const char c = alphabet[next(alphabet.size())];
        switch (next(3)) {
        case 0:
          text.insert(at, 1, c);
          break;
        case 1:
          if (at < text.size()) {
            text.erase(at, 1);
          }
          break;
        default:
          if (at < text.size()) {
            text[at] = c;
          }
          break;
        }
      }
      check_same_as_reference(text);
    }
  }
}

TEST_CASE("semantic_diff") {
  McpView before = extract_mcp(
      R"({"mcpServers":{"fs":{"command":"npx","args":["a"],"env":{"A":"1"}},
          "slack":{"command":"npx"},"same":{"command":"x"}}})",
      Format::json, "mcpServers");
  McpView after = extract_mcp(
      R"({"mcpServers":{"fs":{"command":"npx","args":["b"],"env":{"A":"2"}},
          "github":{"command":"npx"},"same":{"command":"x"}}})",
      Format::json, "mcpServers");
  auto changes = semantic_diff(before, after);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].kind == ServerChange::Kind::changed);
  CHECK(changes[0].name == "fs");
  CHECK(changes[0].fields == std::vector<std::string>{"args", "env"});
  CHECK(changes[1].kind == ServerChange::Kind::added);
  CHECK(changes[1].name == "github");
  CHECK(changes[2].kind == ServerChange::Kind::removed);
  CHECK(changes[2].name == "slack");
}

TEST_CASE("summarize_change") {
  McpView before = extract_mcp(
      R"({"mcpServers":{"fs":{"command":"npx","args":["a"],"env":{"A":"1"}},
          "slack":{"command":"npx"}}})",
      Format::json, "mcpServers");

  SUBCASE("added, removed and changed servers") {
    McpView after = extract_mcp(
        R"({"mcpServers":{"fs":{"command":"npx","args":["b"],"env":{"A":"2"}},
            "github":{"command":"npx"}}})",
        Format::json, "mcpServers");
    CHECK(summarize_change(&before, after) ==
          "+github " + k_minus + "slack ~fs(args,env)");
  }

  SUBCASE("no MCP change when only other keys moved") {
    McpView after = extract_mcp(
        R"({"numStartups": 3, "mcpServers":{"slack":{"command":"npx"},
            "fs":{"env":{"A":"1"},"args":["a"],"command":"npx"}}})",
        Format::json, "mcpServers");
    CHECK(summarize_change(&before, after) == "no MCP change");
  }

  SUBCASE("unparseable") {
    McpView after =
        extract_mcp("{\"mcpServers\": {", Format::json, "mcpServers");
    CHECK(summarize_change(&before, after) ==
          "unparseable: " + after.parse_error);
    CHECK(summarize_change(&before, after).rfind("unparseable: line 1", 0) ==
          0);
  }

  SUBCASE("initial") {
    CHECK(summarize_change(nullptr, before) == "initial: 2 servers");
    McpView one = view_of({"a"});
    CHECK(summarize_change(nullptr, one) == "initial: 1 server");
  }

  SUBCASE("emptied") {
    McpView after = extract_mcp("", Format::json, "mcpServers");
    CHECK(summarize_change(&before, after) == "emptied");
  }

  SUBCASE("Claude Desktop dropping mcpServers") {
    McpView after = extract_mcp(R"({"preferences": {"menuBarEnabled": true}})",
                                Format::json, "mcpServers");
    CHECK(summarize_change(&before, after) ==
          k_minus + "fs " + k_minus + "slack");
  }

  SUBCASE("many changes are cut short") {
    McpView many;
    many.parsed = true;
    for (int i = 0; i < 20; ++i) {
      many.servers["s" + std::to_string(100 + i)] = "{}";
    }
    McpView none = view_of({});
    std::string summary = summarize_change(&none, many);
    CHECK(summary.rfind("+s100 +s101", 0) == 0);
    CHECK(summary.find("and 8 more") != std::string::npos);
  }
}

TEST_CASE("changed_fraction") {
  CHECK(changed_fraction("", "") == 0.0);
  CHECK(changed_fraction("a\n", "a\n") == 0.0);
  CHECK(changed_fraction("", "a\nb\n") == 1.0);
  CHECK(changed_fraction("a\nb\n", "x\ny\n") == 1.0);
  // 1 deleted + 1 inserted of 4 + 4 lines.
  CHECK(changed_fraction("a\nb\nc\nd\n", "a\nB\nc\nd\n") ==
        doctest::Approx(0.25));
  // Line ends are not content: a final newline added or taken away, or CRLF
  // made LF, changes nothing (a one-line file used to be "all changed").
  CHECK(changed_fraction("a\nb\n", "a\nb") == 0.0);
  CHECK(changed_fraction(R"({"mcpServers":{}})", "{\"mcpServers\":{}}\n") ==
        0.0);
  CHECK(changed_fraction("a\r\nb\r\nc\r\n", "a\nb\nc\n") == 0.0);
  // Nor are blank lines and spaces that end the file, or a line.
  CHECK(changed_fraction("{}\n", "{}\n\n") == 0.0);
  CHECK(changed_fraction("{}\n", "{} \n") == 0.0);
  CHECK(changed_fraction("a\nb\n\n\n\n", "a\nb") == 0.0);
  CHECK(changed_fraction("a \nb\n", "a\nb\t\n") == 0.0);
  CHECK(changed_fraction("a\r\nb\r\nc", "a\nB\nc\n") ==
        doctest::Approx(2.0 / 6.0));

  SUBCASE("large files with scattered changes stay exact and fast") {
    std::string before = numbered_lines(20000);
    std::string after;
    for (int i = 0; i < 20000; ++i) {
      after += (i % 10 == 5 ? "changed " : "line ") + std::to_string(i) + "\n";
    }
    CHECK(changed_fraction(before, after) == doctest::Approx(0.1));
    // Changes at both ends only.
    std::string ends = "first\n" + before + "last\n";
    CHECK(changed_fraction(before, ends) == doctest::Approx(2.0 / 40002.0));
  }

  SUBCASE("lines moved far cost a bounded time, and are not counted") {
    // 12 000 lines reversed (24 000 in all: dtl's count is tried below
    // 30 000): a shortest diff would take dtl 1.4·10^8 comparisons, a
    // quarter of a second on the daemon's loop as the change is recorded;
    // past its budget the count is of lines whose number of copies changed,
    // and none did.
    const std::string before = numbered_lines(12000);
    std::string reversed;
    for (int i = 11999; i >= 0; --i) {
      reversed += "line " + std::to_string(i) + "\n";
    }
    CHECK(changed_fraction(before, reversed) == 0.0);
    // Three of them moved to the end: within the budget, counted.
    const std::size_t cut = before.find("line 3\n");
    const std::string rotated = before.substr(cut) + before.substr(0, cut);
    CHECK(changed_fraction(before, rotated) == doctest::Approx(6.0 / 24000.0));
  }

  SUBCASE("the same as a plain line diff of the whole texts") {
    // changed_fraction trims the common whole lines on the bytes before
    // splitting; dtl on every line of both texts is the reference. Texts
    // from few distinct lines (some without their newline) make many
    // shared prefixes and suffixes, repeated lines, and ends mid-line.
    PieceTexts gen({"a\n", "b\n", "ab\n", "\n", "a", "b", "b\nb"}, 12345);
    for (int round = 0; round < 3000; ++round) {
      const std::string common_head = gen.text(gen.next(4));
      const std::string common_foot = gen.text(gen.next(4));
      const std::string before =
          common_head + gen.text(gen.next(5)) + common_foot;
      const std::string after =
          round % 7 == 0 ? before
                         : common_head + gen.text(gen.next(5)) + common_foot;
      // Lines without their ends, and without the blank ones that end the
      // text, as changed_fraction compares them.
      const auto trimmed = [](std::string text) {
        while (!text.empty() &&
               std::isspace(static_cast<unsigned char>(text.back())) != 0) {
          text.pop_back();
        }
        return text;
      };
      auto a = reference_lines(trimmed(before));
      auto b = reference_lines(trimmed(after));
      for (auto *lines : {&a, &b}) {
        for (auto &line : *lines) {
          while (!line.empty() &&
                 (line.back() == '\n' || line.back() == '\r')) {
            line.pop_back();
          }
        }
      }
      double expected = 0.0;
      if (!a.empty() || !b.empty()) {
        dtl::Diff<std::string, std::vector<std::string>> diff(a, b);
        diff.onOnlyEditDistance();
        diff.compose();
        expected = static_cast<double>(diff.getEditDistance()) /
                   static_cast<double>(a.size() + b.size());
      }
      // One line replaced by one other, all else equal: that pair counts
      // for the part of its text (its end left out) that differs.
      std::vector<std::size_t> differing;
      for (std::size_t i = 0; a.size() == b.size() && i < a.size(); ++i) {
        if (a[i] != b[i]) {
          differing.push_back(i);
        }
      }
      if (differing.size() == 1) {
        auto text = [](std::string s) {
          while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
            s.pop_back();
          }
          return s;
        };
        const std::string x = text(a[differing[0]]);
        const std::string y = text(b[differing[0]]);
        double pair = x == y ? 0.0 : 2.0;
        if (!x.empty() && !y.empty() && x != y) {
          std::size_t p = 0;
          while (p < std::min(x.size(), y.size()) && x[p] == y[p]) {
            ++p;
          }
          std::size_t q = 0;
          while (q < std::min(x.size(), y.size()) - p &&
                 x[x.size() - 1 - q] == y[y.size() - 1 - q]) {
            ++q;
          }
          pair = 2.0 * static_cast<double>(x.size() + y.size() - 2 * (p + q)) /
                 static_cast<double>(x.size() + y.size());
        }
        expected = pair / static_cast<double>(a.size() + b.size());
      }
      INFO("before: ", before, " after: ", after);
      REQUIRE(changed_fraction(before, after) == doctest::Approx(expected));
    }
  }
}

TEST_CASE("unified_diff equals a whole-text line diff, masked or not") {
  // Lines with secrets (the two API keys mask alike: only their last four
  // characters show), plain lines, a line without
  // its newline; shared heads and feet longer than the 3 lines of context.
  PieceTexts gen(
      {
          "{\n",
          "  \"a\": 1,\n",
          "  \"b\": 2,\n",
          "      \"API_KEY\": \"sk-abcdef0123456789abcdef0123\",\n",
          "      \"API_KEY\": \"sk-zyxwvu9876543210zyxwvu0123\",\n",
          "      \"TOKEN\": \"ghp_0123456789abcdefghij0123456789ab\",\n",
          "--token=s3cr3t-v4lu3-th4t-is-l0ng\n",
          "\n",
          "}",
      },
      99);
  for (int round = 0; round < 2000; ++round) {
    const std::string head = gen.text(gen.next(9));
    const std::string foot = gen.text(gen.next(9));
    const std::string before = head + gen.text(gen.next(6)) + foot;
    const std::string after =
        round % 11 == 0 ? before : head + gen.text(gen.next(6)) + foot;
    INFO("before: ", before, "\nafter: ", after);
    REQUIRE(unified_diff(before, after, "a", "b") ==
            reference_unified_diff(before, after, "a", "b"));
    REQUIRE(unified_diff(before, after, "a", "b", DiffSecrets::masked) ==
            reference_unified_diff(mask_secrets_in_text(before),
                                   mask_secrets_in_text(after), "a", "b"));
  }
  // Texts that differ only in values that mask alike: nothing to show.
  const std::string one = "{\n" + gen.piece(3) + "}\n";
  const std::string other = "{\n" + gen.piece(4) + "}\n";
  CHECK_FALSE(unified_diff(one, other, "a", "b").empty());
  CHECK(unified_diff(one, other, "a", "b", DiffSecrets::masked).empty());
  CHECK(unified_diff(gen.piece(3), gen.piece(4), "a", "b", DiffSecrets::masked)
            .empty());
}

// Applies a unified diff to `before`, checking every context and removed
// line against it: what `patch` would make of unified_diff's output.
std::string apply_unified(std::string_view before, std::string_view diff) {
  const std::vector<std::string> old = reference_lines(before);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < diff.size();) {
    const std::size_t nl = diff.find('\n', at);
    REQUIRE(nl != std::string_view::npos);
    lines.emplace_back(diff.substr(at, nl - at));
    at = nl + 1;
  }
  REQUIRE(lines.size() >= 2);
  REQUIRE(lines[0].rfind("--- ", 0) == 0);
  REQUIRE(lines[1].rfind("+++ ", 0) == 0);
  std::string out;
  std::size_t next_old = 0; // index into old
  for (std::size_t i = 2; i < lines.size(); ++i) {
    const std::string &line = lines[i];
    const bool no_newline = i + 1 < lines.size() && lines[i + 1][0] == '\\';
    const std::string text = line.substr(1) + (no_newline ? "" : "\n");
    if (line.rfind("@@ -", 0) == 0) {
      std::size_t start = 0;
      std::size_t length = 0;
      REQUIRE(std::sscanf(line.c_str(), "@@ -%zu,%zu", &start, &length) == 2);
      const std::size_t first = length == 0 ? start : start - 1;
      REQUIRE(first >= next_old);
      for (; next_old < first; ++next_old) {
        out += old.at(next_old);
      }
    } else if (line[0] == ' ' || line[0] == '-') {
      REQUIRE(old.at(next_old) == text);
      ++next_old;
      if (line[0] == ' ') {
        out += text;
      }
    } else if (line[0] == '+') {
      out += text;
    } else {
      REQUIRE(line[0] == '\\');
    }
  }
  for (; next_old < old.size(); ++next_old) {
    out += old[next_old];
  }
  return out;
}

TEST_CASE("unified_diff within a budget of line comparisons") {
  SUBCASE("a few changes cost little and keep the shortest diff") {
    const std::string before = numbered_lines(100000);
    std::string after = change_lines(100000, 10, 12);
    after.replace(after.find("line 50000\n"), 11, "changed\n");
    after.replace(after.find("line 99990\n"), 11, "");
    DiffBudget budget;
    const std::string diff = unified_diff(before, after, "a", "b",
                                          DiffSecrets::shown, nullptr, &budget);
    CHECK_FALSE(budget.whole);
    // A pass along the 100 000 lines, not one per change.
    CHECK(k_diff_comparisons - budget.comparisons < 200'000);
    CHECK(diff == reference_unified_diff(before, after, "a", "b"));
    CHECK(apply_unified(before, diff) == after);
  }

  SUBCASE("past the budget the changed lines are shown whole") {
    const std::string before = numbered_lines(12);
    std::string after = before;
    for (const char *line : {"line 3\n", "line 6\n", "line 9\n"}) {
      after.replace(after.find(line), std::strlen(line), "x\n");
    }
    DiffBudget budget{4};
    const std::string diff = unified_diff(before, after, "a", "b",
                                          DiffSecrets::shown, nullptr, &budget);
    CHECK(budget.whole);
    CHECK(budget.comparisons == 0);
    // Context above the first difference and below the last, the lines
    // between them removed, then added.
    CHECK(diff == "--- a\n+++ b\n@@ -1,12 +1,12 @@\n"
                  " line 0\n line 1\n line 2\n"
                  "-line 3\n-line 4\n-line 5\n-line 6\n-line 7\n-line 8\n"
                  "-line 9\n"
                  "+x\n+line 4\n+line 5\n+x\n+line 7\n+line 8\n+x\n"
                  " line 10\n line 11\n");
    CHECK(apply_unified(before, diff) == after);
    // The same texts within the default budget: three hunks' worth of
    // changes, the shortest diff.
    DiffBudget enough;
    const std::string shortest = unified_diff(
        before, after, "a", "b", DiffSecrets::shown, nullptr, &enough);
    CHECK_FALSE(enough.whole);
    CHECK(shortest == reference_unified_diff(before, after, "a", "b"));
    CHECK(apply_unified(before, shortest) == after);
  }

  SUBCASE("a file rewritten in another layout") {
    // Every line re-indented, so no line is shared: dtl's search would take
    // (M+N)·D/2 = 8·10^8 comparisons; the cap dtl puts on the path it
    // records cuts that to 2.8·10^7, still far above this budget.
    std::string before;
    std::string after;
    for (int i = 0; i < 20000; ++i) {
      before +=
          "  \"key" + std::to_string(i) + "\": " + std::to_string(i) + ",\n";
      after +=
          "    \"key" + std::to_string(i) + "\": " + std::to_string(i) + ",\n";
    }
    after.pop_back(); // and no final newline
    DiffBudget budget{1'000'000};
    const std::string diff = unified_diff(before, after, "a", "b",
                                          DiffSecrets::shown, nullptr, &budget);
    CHECK(budget.whole);
    CHECK(apply_unified(before, diff) == after);
    CHECK(diff.find("\\ No newline at end of file\n") != std::string::npos);
  }

  SUBCASE("hunks after a block that made dtl restart its search") {
    // 2 829 lines replaced, then a change further down: dtl's search
    // passes 2·10^6 path points and goes on from where it got, twice, and
    // the line numbers it recorded after that were off (the second hunk
    // was numbered 1423, inside the first: `patch` applied it elsewhere).
    std::string before;
    std::string after;
    for (int i = 0; i < 2829; ++i) {
      before += "line" + std::to_string(i) + "\n";
      after += "other" + std::to_string(i) + "\n";
    }
    for (int i = 0; i < 10; ++i) {
      before += "same" + std::to_string(i) + "\n";
      after += "same" + std::to_string(i) + "\n";
    }
    before += "end\n";
    after += "END\n";
    DiffBudget budget;
    const std::string diff = unified_diff(before, after, "a", "b",
                                          DiffSecrets::shown, nullptr, &budget);
    CHECK_FALSE(budget.whole);
    CHECK(diff.find("@@ -1,2832 +1,2832 @@\n") != std::string::npos);
    CHECK(diff.find("@@ -2837,4 +2837,4 @@\n") != std::string::npos);
    CHECK(apply_unified(before, diff) == after);
  }

  SUBCASE("masked texts share the budget") {
    const std::string before = numbered_lines(12);
    const std::string after = change_lines(12, 3, 9);
    DiffBudget budget{2};
    const std::string diff = unified_diff(
        before, after, "a", "b", DiffSecrets::masked, nullptr, &budget);
    CHECK(budget.whole);
    CHECK(apply_unified(before, diff) == after);
  }
}

TEST_CASE("unified_diff") {
  SUBCASE("equal texts give nothing") {
    CHECK(unified_diff("a\n", "a\n", "old", "new").empty());
  }

  SUBCASE("a label is one line whatever its path holds") {
    CHECK(unified_diff("a\n", "b\n", "~/code/new\nline/.mcp.json",
                       "x\r\ny (current)") ==
          "--- ~/code/new\\nline/.mcp.json\n+++ x\\r\\ny (current)\n"
          "@@ -1,1 +1,1 @@\n-a\n+b\n");
  }

  SUBCASE("one changed line with three lines of context") {
    std::string before = numbered_lines(10);
    std::string after = change_lines(10, 5, 6);
    CHECK(unified_diff(before, after, "a/x.json", "b/x.json") ==
          "--- a/x.json\n+++ b/x.json\n@@ -3,7 +3,7 @@\n"
          " line 2\n line 3\n line 4\n-line 5\n+changed 5\n"
          " line 6\n line 7\n line 8\n");
  }

  SUBCASE("far apart changes make two hunks") {
    std::string before = numbered_lines(30);
    std::string after = change_lines(30, 2, 3);
    after.replace(after.find("line 25\n"), 8, "changed 25\n");
    std::string diff = unified_diff(before, after, "a", "b");
    CHECK(diff.find("@@ -1,6 +1,6 @@\n") != std::string::npos);
    CHECK(diff.find("@@ -23,7 +23,7 @@\n") != std::string::npos);
  }

  SUBCASE("from an empty file") {
    CHECK(unified_diff("", "a\n", "a", "b") ==
          "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+a\n");
  }

  SUBCASE("missing final newline is marked") {
    std::string diff = unified_diff("a\n", "a\nb", "a", "b");
    CHECK(diff.find("+b\n\\ No newline at end of file\n") != std::string::npos);
  }
}

TEST_CASE("assess_risk") {
  const std::string base = numbered_lines(10);
  McpView servers4 = view_of({"a", "b", "c", "d"});

  SUBCASE("without a previous snapshot") {
    McpView ok = view_of({"a"});
    CHECK(assess_risk("", nullptr, "{}", ok) == Risk::low);
    McpView empty = extract_mcp("", Format::json, "mcpServers");
    CHECK(assess_risk("", nullptr, "", empty) == Risk::critical);
    McpView broken = extract_mcp("{", Format::json, "mcpServers");
    CHECK(assess_risk("", nullptr, "{", broken) == Risk::critical);
  }

  SUBCASE("emptied") {
    McpView empty = extract_mcp(" \n", Format::json, "mcpServers");
    CHECK(assess_risk(base, &servers4, " \n", empty) == Risk::critical);
    McpView was_empty = extract_mcp("", Format::json, "mcpServers");
    CHECK(assess_risk("", &was_empty, "\n", empty) == Risk::low);
  }

  SUBCASE("became unparseable") {
    McpView broken = extract_mcp("{", Format::json, "mcpServers");
    CHECK(assess_risk(base, &servers4, base + "{", broken) == Risk::critical);
    // Still unparseable: judged by size of change only.
    CHECK(assess_risk(base + "{", &broken, base + "{{", broken) == Risk::low);
  }

  SUBCASE("lost all its servers") {
    McpView none = view_of({});
    CHECK(assess_risk(base, &servers4, base, none) == Risk::critical);
  }

  SUBCASE("changed fraction boundaries") {
    // 10 lines each side; k changed lines = 2k of 20 changed.
    auto risk_for = [&](int k) {
      return assess_risk(base, &servers4, change_lines(10, 0, k), servers4);
    };
    CHECK(risk_for(1) == Risk::low);    // 10%
    CHECK(risk_for(2) == Risk::medium); // exactly 20%
    CHECK(risk_for(7) == Risk::medium); // 70%
    CHECK(changed_fraction(base, change_lines(10, 0, 8)) == 0.8);
    CHECK(risk_for(8) == Risk::high);     // 80%
    CHECK(risk_for(9) == Risk::critical); // exactly 90%

    // 20 lines: 15 of 20 changed each side is exactly 75%.
    const std::string base20 = numbered_lines(20);
    CHECK(assess_risk(base20, &servers4, change_lines(20, 0, 14), servers4) ==
          Risk::medium); // 70%
    CHECK(assess_risk(base20, &servers4, change_lines(20, 0, 15), servers4) ==
          Risk::high); // exactly 75%
    // 50 lines: 9 changed is 18%, 10 changed exactly 20%.
    const std::string base50 = numbered_lines(50);
    CHECK(assess_risk(base50, &servers4, change_lines(50, 0, 9), servers4) ==
          Risk::low); // 18%
    CHECK(assess_risk(base50, &servers4, change_lines(50, 0, 10), servers4) ==
          Risk::medium); // exactly 20%
  }

  SUBCASE("a change inside one line counts for the part that changed") {
    // A file written as one line: each edit used to be "100 % changed".
    const std::string one_line =
        R"({"mcpServers":{"a":{"command":"npx","args":["-y","pkg-a"]},)"
        R"("b":{"command":"uvx","args":["pkg-b"]}}})";
    std::string edited = one_line;
    edited.replace(edited.find("pkg-a"), 5, "pkg-z");
    McpView ab = view_of({"a", "b"});
    CHECK(assess_risk(one_line, &ab, edited, ab) == Risk::low);
    CHECK(changed_fraction(one_line, edited) < 0.05);
    // Rewritten from end to end, it is still all changed.
    const std::string other =
        R"({"servers":{"c":{"url":"http://localhost:1"},"d":{"url":"x"}}})";
    CHECK(changed_fraction(one_line, other) > 0.9);
    CHECK(assess_risk(one_line, &ab, other, ab) == Risk::critical);
    // A line of a longer file: its changed part, against all the lines.
    std::string one_value = base;
    one_value.replace(one_value.find("line 3"), 6, "line 9");
    CHECK(changed_fraction(base, one_value) == doctest::Approx(2.0 / 6 / 20));
    // The line's end is not part of what it says: a line changed whole,
    // or an empty one filled, counts whole.
    CHECK(changed_fraction("x\n", "y\n") == 1.0);
    CHECK(changed_fraction("a\n\nb\n", "a\nxyz\nb\n") == 2.0 / 6);
  }

  SUBCASE("servers removed") {
    std::string after = base; // same text, so only the servers count
    McpView one_removed = view_of({"a", "b", "c"});
    CHECK(assess_risk(base, &servers4, after, one_removed) == Risk::medium);
    McpView half_removed = view_of({"a", "b"});
    CHECK(assess_risk(base, &servers4, after, half_removed) == Risk::medium);
    McpView more_than_half = view_of({"a"});
    CHECK(assess_risk(base, &servers4, after, more_than_half) == Risk::high);
    McpView renamed = view_of({"a", "b", "c", "e"});
    CHECK(assess_risk(base, &servers4, after, renamed) == Risk::medium);
    McpView added = view_of({"a", "b", "c", "d", "e"});
    CHECK(assess_risk(base, &servers4, after, added) == Risk::low);
  }

  SUBCASE("a multi-megabyte file with a small change is cheap and low") {
    std::string big = big_claude_json(300);
    std::string changed = big;
    changed.replace(changed.find("\"numStartups\": 1234"), 19,
                    "\"numStartups\": 1235");
    McpView a =
        extract_mcp(big, Format::json, "mcpServers projects.*.mcpServers");
    McpView b =
        extract_mcp(changed, Format::json, "mcpServers projects.*.mcpServers");
    CHECK(assess_risk(big, &a, changed, b) == Risk::low);
    CHECK(summarize_change(&a, b) == "no MCP change");
  }
}

TEST_CASE("replace_mcp") {
  SUBCASE("JSON keeps unrelated keys, their order and the indent") {
    std::string current = "{\n"
                          "    \"preferences\": {\n"
                          "        \"menuBarEnabled\": true\n"
                          "    },\n"
                          "    \"zeta\": 1,\n"
                          "    \"alpha\": 2\n"
                          "}\n";
    std::string snapshot =
        R"({"mcpServers": {"gh": {"command": "npx"}}, "preferences": {}})";
    auto result = replace_mcp(current, snapshot, Format::json, "mcpServers");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CHECK(*result == "{\n"
                     "    \"preferences\": {\n"
                     "        \"menuBarEnabled\": true\n"
                     "    },\n"
                     "    \"zeta\": 1,\n"
                     "    \"alpha\": 2,\n"
                     "    \"mcpServers\": {\n"
                     "        \"gh\": {\n"
                     "            \"command\": \"npx\"\n"
                     "        }\n"
                     "    }\n"
                     "}\n");
  }

  SUBCASE("JSONC: a map from a file indented otherwise keeps its comments") {
    // Zed's settings: the snapshot indented by 2, the current file by 4 and
    // by tabs; the map takes the current indent, its comments kept.
    const std::string snapshot = "{\n"
                                 "  \"context_servers\": {\n"
                                 "    // pg for the reports\n"
                                 "    \"pg\": {\n"
                                 "      \"command\": \"pg-mcp\", /* pinned */\n"
                                 "      \"args\": []\n"
                                 "    }\n"
                                 "  }\n"
                                 "}\n";
    for (const std::string unit : {"    ", "\t"}) {
      const std::string current = "{\n" + unit + "\"theme\": \"One\",\n" +
                                  unit + "\"context_servers\": {}\n}\n";
      auto result =
          replace_mcp(current, snapshot, Format::jsonc, "context_servers");
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      const std::string u = unit;
      CHECK(*result == "{\n" + u + "\"theme\": \"One\",\n" + u +
                           "\"context_servers\": {\n" + u + u +
                           "// pg for the reports\n" + u + u + "\"pg\": {\n" +
                           u + u + u +
                           "\"command\": \"pg-mcp\", /* pinned */\n" + u + u +
                           u + "\"args\": []\n" + u + u + "}\n" + u + "}\n}\n");
    }
    // A snapshot saved with CRLF line ends joins an LF file with LF ones.
    std::string crlf = snapshot;
    for (std::size_t at = crlf.find('\n'); at != std::string::npos;
         at = crlf.find('\n', at + 2)) {
      crlf.insert(at, "\r");
    }
    auto result = replace_mcp("{\n  \"context_servers\": {}\n}\n", crlf,
                              Format::jsonc, "context_servers");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CHECK(result->find('\r') == std::string::npos);
    CHECK(result->find("// pg for the reports") != std::string::npos);
  }

  SUBCASE("VS Code: inputs go with the servers that refer to them") {
    const std::string snapshot =
        "{\n  \"inputs\": [\n    {\"id\": \"pat\", \"type\": "
        "\"promptString\", \"password\": true}\n  ],\n  \"servers\": {\n"
        "    \"gh\": {\"type\": \"http\", \"url\": \"https://x\", "
        "\"headers\": {\"Authorization\": \"Bearer ${input:pat}\"}}\n  }\n}\n";
    for (const std::string &current :
         {std::string("{\n  \"servers\": {}\n}\n"),
          std::string("{\n  // mine\n  \"servers\": {},\n  \"inputs\": "
                      "[{\"id\": \"old\"}]\n}\n")}) {
      auto result =
          replace_mcp(current, snapshot, Format::jsonc, "servers inputs");
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      for (const char *location : {"servers", "inputs"}) {
        CHECK(extract_mcp(*result, Format::jsonc, location).servers ==
              extract_mcp(snapshot, Format::jsonc, location).servers);
      }
      CHECK((current.find("// mine") == std::string::npos) ==
            (result->find("// mine") == std::string::npos));
    }
  }

  SUBCASE("JSON replaces in place and keeps tabs") {
    std::string current =
        "{\n\t\"mcpServers\": {\"old\": {}},\n\t\"other\": true\n}";
    auto result = replace_mcp(current, R"({"mcpServers":{"new":{}}})",
                              Format::json, "mcpServers");
    REQUIRE(result.has_value());
    CHECK(
        *result ==
        "{\n\t\"mcpServers\": {\n\t\t\"new\": {}\n\t},\n\t\"other\": true\n}");
  }

  SUBCASE("~/.claude.json project maps: set, created and removed") {
    std::string current = R"({
  "numStartups": 50,
  "mcpServers": {},
  "projects": {
    "/home/u/alpha": {"hasTrustDialogAccepted": true, "mcpServers": {"db2": {}}},
    "/home/u/beta": {"allowedTools": [], "mcpServers": {"tmp": {}}},
    "/home/u/new": {"allowedTools": []}
  }
}
)";
    auto result = replace_mcp(current, k_claude_code, Format::json,
                              "mcpServers projects.*.mcpServers");
    REQUIRE(result.has_value());
    McpView view =
        extract_mcp(*result, Format::json, "mcpServers projects.*.mcpServers");
    CHECK(view.server_names() ==
          std::vector<std::string>{"db@/home/u/alpha", "sentry"});
    CHECK(result->find("\"numStartups\": 50") != std::string::npos);
    CHECK(result->find("\"hasTrustDialogAccepted\": true") !=
          std::string::npos);
    // Only the maps that change are rewritten: this line is as it was.
    CHECK(result->find("\n    \"/home/u/new\": {\"allowedTools\": []}\n") !=
          std::string::npos);
    // A snapshot project without a server map is not created.
    CHECK(result->find("\"/home/u/gamma\"") == std::string::npos);
  }

  SUBCASE("JSON: the location is removed when the snapshot has none") {
    auto result =
        replace_mcp(R"({"a": 1, "mcpServers": {"x": {}}})",
                    R"({"preferences": {}})", Format::json, "mcpServers");
    REQUIRE(result.has_value());
    CHECK(*result == R"({"a": 1})");
  }

  SUBCASE("JSONC keeps comments and trailing commas") {
    std::string current = "{\n  // theme\n  \"theme\": \"dark\",\n"
                          "  \"servers\": {},\n}\n";
    auto result =
        replace_mcp(current, k_vscode_jsonc, Format::jsonc, "servers");
    REQUIRE(result.has_value());
    McpView view = extract_mcp(*result, Format::jsonc, "servers");
    CHECK(view.server_names() ==
          std::vector<std::string>{"github", "playwright"});
    // The snapshot's map comes with its own comments and commas.
    CHECK(*result == "{\n  // theme\n  \"theme\": \"dark\",\n"
                     "  \"servers\": {\n"
                     "    \"github\": {\n"
                     "      \"type\": \"http\",\n"
                     "      \"url\": \"https://api.githubcopilot.com/mcp/\", "
                     "// remote\n"
                     "    },\n"
                     "    \"playwright\": {\n"
                     "      \"command\": \"npx\",\n"
                     "      \"args\": [\"@playwright/mcp@latest\",],\n"
                     "    },\n"
                     "  },\n}\n");
  }

  SUBCASE("JSONC settings: only the server map changes, comments stay") {
    const std::string before =
        "{\n"
        "    // editor\n"
        "    \"editor.fontSize\": 14,\n"
        "    \"mcp\": {\n"
        "        \"servers\": {\n"
        "            // from the marketplace\n"
        "            \"github\": { \"type\": \"http\" }\n"
        "        }\n"
        "    },\n"
        "    /* theme */\n"
        "    \"workbench.colorTheme\": \"Default\",\n"
        "}\n";
    std::string current = before;
    current.replace(current.find("14"), 2, "16");
    current.replace(current.find("            // from"),
                    current.find("        }\n    },") -
                        current.find("            // from"),
                    "");
    auto result = replace_mcp(current, before, Format::jsonc, "mcp.servers");
    REQUIRE(result.has_value());
    std::string expected = before;
    expected.replace(expected.find("14"), 2, "16");
    CHECK(*result == expected);
  }

  SUBCASE("JSON: a map that did not change keeps its text") {
    const std::string current =
        "{\"mcpServers\": {\"a\":   {\"command\": \"x\"}},"
        " \"projects\": {\"/p\": {\"mcpServers\": {}}}}";
    const std::string snapshot = "{\n  \"mcpServers\": {\n    \"a\": {\n"
                                 "      \"command\": \"x\"\n    }\n  }\n}\n";
    auto result = replace_mcp(current, snapshot, Format::json,
                              "mcpServers projects.*.mcpServers");
    REQUIRE(result.has_value());
    // The project's empty map stays too: it holds no server to take out.
    CHECK(*result == current);
  }

  SUBCASE("JSON: removing the first, a middle, the last and the only key") {
    const char *const locations = "a b c";
    CHECK(replace_mcp("{\n  \"a\": {\"x\": {}},\n  \"k\": 1,\n"
                      "  \"b\": {\"y\": {}},\n"
                      "  \"l\": 2,\n  \"c\": {\"z\": {}}\n}",
                      "{}", Format::json, locations)
              .value() == "{\n  \"k\": 1,\n  \"l\": 2\n}");
    CHECK(replace_mcp("{\"k\": 1, \"a\": {\"x\": {}}}", "{}", Format::json,
                      locations)
              .value() == "{\"k\": 1}");
    CHECK(replace_mcp("{ \"a\": {\"x\": {}} }", "{}", Format::json, locations)
              .value() == "{}");
    CHECK(replace_mcp("{\n  \"a\": {\"x\": {}}, // mine\n  \"k\": 1\n}", "{}",
                      Format::jsonc, locations)
              .value() == "{\n  \"k\": 1\n}");
  }

  SUBCASE("JSON: maps on the way are made, in the file's layout") {
    const std::string snapshot =
        R"({"mcp": {"servers": {"gh": {"type": "http"}}}})";
    CHECK(replace_mcp("{\n\t\"editor.fontSize\": 14\n}\n", snapshot,
                      Format::jsonc, "mcp.servers")
              .value() ==
          "{\n\t\"editor.fontSize\": 14,\n\t\"mcp\": {\n"
          "\t\t\"servers\": {\n\t\t\t\"gh\": {\n"
          "\t\t\t\t\"type\": \"http\"\n\t\t\t}\n\t\t}\n\t}\n}\n");
    CHECK(replace_mcp(R"({"a":1,"mcp":null})", snapshot, Format::json,
                      "mcp.servers")
              .value() ==
          R"({"a":1,"mcp":{"servers":{"gh": {"type": "http"}}}})");
    CHECK(replace_mcp("{\n  \"mcp\": {}\n}", snapshot, Format::json,
                      "mcp.servers")
              .value() ==
          "{\n  \"mcp\": {\n    \"servers\": {\n      \"gh\": "
          "{\n        \"type\": \"http\"\n      }\n    }\n  }\n}");
  }

  SUBCASE("JSON: an escaped key and a byte order mark") {
    const std::string current =
        "\xEF\xBB\xBF{\"m\\u0063pServers\": {\"a\": {}},"
        " \"x\": 1}";
    auto result = replace_mcp(current, R"({"mcpServers": {"b": {}}})",
                              Format::json, "mcpServers");
    REQUIRE(result.has_value());
    CHECK(*result ==
          "\xEF\xBB\xBF{\"m\\u0063pServers\": {\"b\": {}}, \"x\": 1}");
  }

  SUBCASE("TOML keeps model and project trust") {
    std::string current = "model = \"o3\"\n\n[mcp_servers.other]\n"
                          "command = \"x\"\n\n[projects.\"/home/u/proj\"]\n"
                          "trust_level = \"trusted\"\n";
    auto result =
        replace_mcp(current, k_codex_toml, Format::toml, "mcp_servers");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    McpView view = extract_mcp(*result, Format::toml, "mcp_servers");
    McpView expected = extract_mcp(k_codex_toml, Format::toml, "mcp_servers");
    CHECK(view.servers == expected.servers);
    CHECK(result->find("model = \"o3\"") != std::string::npos);
    CHECK(result->find("trust_level = \"trusted\"") != std::string::npos);
    CHECK(result->find("[mcp_servers.other]") == std::string::npos);
  }

  SUBCASE("YAML keeps other settings and quoted strings") {
    std::string current = "GOOSE_PROVIDER: openai\nversion: \"1.10\"\n"
                          "extensions:\n  old:\n    enabled: true\n";
    auto result =
        replace_mcp(current, k_goose_yaml, Format::yaml, "extensions");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    McpView view = extract_mcp(*result, Format::yaml, "extensions");
    McpView expected = extract_mcp(k_goose_yaml, Format::yaml, "extensions");
    CHECK(view.servers == expected.servers);
    CHECK(result->find("GOOSE_PROVIDER: openai") != std::string::npos);
    CHECK(result->find("version: \"1.10\"") != std::string::npos);
  }

  SUBCASE("YAML list locations (Continue)") {
    std::string current = "name: Mine\nmodels: []\n";
    auto result =
        replace_mcp(current, k_continue_yaml, Format::yaml, "mcpServers");
    REQUIRE(result.has_value());
    McpView view = extract_mcp(*result, Format::yaml, "mcpServers");
    CHECK(view.server_names() ==
          std::vector<std::string>{"2", "Browser", "SQLite"});
    CHECK(result->find("name: Mine") != std::string::npos);
  }

  SUBCASE("YAML: the map is replaced in place, comments stay") {
    const std::string snapshot = "# Goose settings\n"
                                 "GOOSE_MODEL: claude-sonnet\n"
                                 "extensions:\n"
                                 "  developer:\n"
                                 "    type: builtin\n"
                                 "  # fetching\n"
                                 "  fetch:\n"
                                 "    cmd: uvx  # from PyPI\n"
                                 "# trailing comment\n";
    const std::string current = "# Goose settings\n"
                                "GOOSE_MODEL: claude-opus   # newer\n"
                                "extensions:\n"
                                "  developer:\n"
                                "    type: builtin\n"
                                "# trailing comment\n";
    CHECK(replace_mcp(current, snapshot, Format::yaml, "extensions").value() ==
          "# Goose settings\n"
          "GOOSE_MODEL: claude-opus   # newer\n"
          "extensions:\n"
          "  developer:\n"
          "    type: builtin\n"
          "  # fetching\n"
          "  fetch:\n"
          "    cmd: uvx  # from PyPI\n"
          "# trailing comment\n");
    // Added after the last key, and taken out again, whole lines.
    const std::string bare = "# mine\nGOOSE_MODEL: x  # m\nother: 1\n";
    const std::string added =
        replace_mcp(bare, snapshot, Format::yaml, "extensions").value();
    CHECK(added == bare +
                       "extensions:\n  developer:\n    type: builtin\n"
                       "  # fetching\n  fetch:\n    cmd: uvx  # from PyPI\n");
    CHECK(replace_mcp(added, bare, Format::yaml, "extensions").value() == bare);
    // The only key of a map leaves it empty, not null.
    CHECK(replace_mcp("mcp:\n  servers:\n    a: 1\n", "mcp: {}\n", Format::yaml,
                      "mcp.servers")
              .value() == "mcp:\n  {}\n");
  }

  SUBCASE("YAML: the snapshot's map moves to the current file's indent") {
    CHECK(
        replace_mcp("mcp:  # tools\n    servers:\n        x: 1\n    on: yes\n",
                    "mcp:\n  servers:\n    y:\n      cmd: z\n", Format::yaml,
                    "mcp.servers")
            .value() ==
        "mcp:  # tools\n    servers:\n      y:\n        cmd: z\n"
        "    on: yes\n");
    // A key with no value written gets one.
    CHECK(replace_mcp("extensions:\nother: 1\n",
                      "extensions:\n  a:\n    cmd: x\n", Format::yaml,
                      "extensions")
              .value() == "extensions:\n  a:\n    cmd: x\nother: 1\n");
    // Continue's list, its comment included.
    CHECK(
        replace_mcp("name: Mine\nmcpServers:\n- name: x\n  command: y\n# end\n",
                    "mcpServers:\n  - name: SQLite\n    command: npx  # db\n",
                    Format::yaml, "mcpServers")
            .value() == "name: Mine\nmcpServers:\n  - name: SQLite\n"
                        "    command: npx  # db\n# end\n");
  }

  SUBCASE("TOML: the server tables are replaced, comments and order stay") {
    const std::string snapshot = "# Codex config\n"
                                 "model = \"o3\"  # the model\n"
                                 "\n"
                                 "# docs\n"
                                 "[mcp_servers.docs]\n"
                                 "command = 'docs-server'\n"
                                 "args = [\"--port\", \"4000\"]\n"
                                 "\n"
                                 "[mcp_servers.docs.env]\n"
                                 "X = \"1\"\n"
                                 "\n"
                                 "[profiles.fast]\n"
                                 "model = \"o4-mini\"\n";
    const std::string current = "# Codex config\n"
                                "model = \"gpt-5\"  # the model\n"
                                "\n"
                                "[mcp_servers.old]\n"
                                "command = \"old\"\n"
                                "\n"
                                "[profiles.fast]\n"
                                "model = \"o4-mini\" # quick\n";
    CHECK(replace_mcp(current, snapshot, Format::toml, "mcp_servers").value() ==
          "# Codex config\n"
          "model = \"gpt-5\"  # the model\n"
          "\n"
          "# docs\n"
          "[mcp_servers.docs]\n"
          "command = 'docs-server'\n"
          "args = [\"--port\", \"4000\"]\n"
          "\n"
          "[mcp_servers.docs.env]\n"
          "X = \"1\"\n"
          "\n"
          "[profiles.fast]\n"
          "model = \"o4-mini\" # quick\n");
    // Added at the end when the file has none; removed when the snapshot
    // has none.
    const std::string bare = "model = \"gpt-5\"\n\n[profiles.fast]\nx = 1\n";
    const std::string added =
        replace_mcp(bare, snapshot, Format::toml, "mcp_servers").value();
    CHECK(added == bare +
                       "\n# docs\n[mcp_servers.docs]\ncommand = 'docs-server'\n"
                       "args = [\"--port\", \"4000\"]\n\n"
                       "[mcp_servers.docs.env]\nX = \"1\"\n");
    CHECK(replace_mcp(current, bare, Format::toml, "mcp_servers").value() ==
          "# Codex config\nmodel = \"gpt-5\"  # the model\n\n"
          "[profiles.fast]\nmodel = \"o4-mini\" # quick\n");
  }

  SUBCASE("TOML: arrays of tables, inline servers, '[' in strings") {
    CHECK(replace_mcp("model = 'x'\n\n[mcp_servers.a]\ncommand = 'a'\n\n"
                      "[[mcp_servers.a.tools]]\nname = 't1'\n\n[notes]\n"
                      "text = \"\"\"\n[not a header]\n\"\"\"\n",
                      "[mcp_servers.b]\ncommand = 'b'\ndescription = '''\n"
                      "[also not]\n'''\n\n[[mcp_servers.b.tools]]\n"
                      "name = 't2'\n",
                      Format::toml, "mcp_servers")
              .value() == "model = 'x'\n\n[mcp_servers.b]\ncommand = 'b'\n"
                          "description = '''\n[also not]\n'''\n\n"
                          "[[mcp_servers.b.tools]]\nname = 't2'\n\n[notes]\n"
                          "text = \"\"\"\n[not a header]\n\"\"\"\n");
    CHECK(replace_mcp("[mcp_servers]\na = { command = 'a' }  # inline\n\n"
                      "[x]\ny = 1\n",
                      "[mcp_servers]\nb = { command = 'b' }\n", Format::toml,
                      "mcp_servers")
              .value() ==
          "[mcp_servers]\nb = { command = 'b' }\n\n[x]\ny = 1\n");
  }

  SUBCASE("no map differs: the file comes back as it is") {
    // Whatever the rest of either file holds (here a YAML scalar that runs
    // over two lines with bytes that are not UTF-8, and a snapshot libyaml
    // refuses; fuzz/regressions/fuzz_mcp/yaml-no-change-not-utf8-written-out).
    const std::string current = "model= p\"gt-5\"\n5-cod\xBB\xBF{\r";
    CHECK(replace_mcp(current, "\n  \"mci_\x86\" ", Format::yaml, "mcpServers")
              .value() == current);
    const std::string settings =
        "{\n  // mine\n  \"mcpServers\": {\"a\": {}}\n}";
    CHECK(replace_mcp(settings, R"({"mcpServers": {"a": {}}, "x": 1})",
                      Format::jsonc, "mcpServers")
              .value() == settings);
  }

  SUBCASE("layouts the text edits do not cover are written out whole") {
    // TOML servers set by keys outside their tables are written out whole
    // (the restore then warns that comments were not kept); a YAML map in
    // flow style is replaced where it is, in block style.
    const struct {
      const char *current;
      const char *snapshot;
      Format format;
      const char *locations;
      const char *kept;
      bool whole;
    } cases[] = {
        {"extensions: {old: {cmd: a}}  # flow\nb: 2\n", k_goose_yaml,
         Format::yaml, "extensions", "b: 2", false},
        {"a = 1\nmcp_servers.z.command = 'z'\n", k_codex_toml, Format::toml,
         "mcp_servers", "a = 1", true},
    };
    for (const auto &c : cases) {
      bool whole = !c.whole;
      auto result =
          replace_mcp(c.current, c.snapshot, c.format, c.locations, &whole);
      REQUIRE(result.has_value());
      CHECK(extract_mcp(*result, c.format, c.locations).servers ==
            extract_mcp(c.snapshot, c.format, c.locations).servers);
      CHECK(result->find(c.kept) != std::string::npos);
      CHECK(whole == c.whole);
    }
    // Edited in place, or a blank file (nothing of it to keep).
    bool whole = true;
    REQUIRE(replace_mcp("# c\nmodel = 'x'\n", k_codex_toml, Format::toml,
                        "mcp_servers", &whole));
    CHECK_FALSE(whole);
    whole = true;
    REQUIRE(
        replace_mcp("\n", k_codex_toml, Format::toml, "mcp_servers", &whole));
    CHECK_FALSE(whole);
  }

  SUBCASE("CRLF files keep their line ends, UTF-8 its bytes") {
    CHECK(replace_mcp("{\r\n  // c\r\n  \"a\": 1\r\n}\r\n",
                      R"({"mcpServers": {"x": {}}})", Format::jsonc,
                      "mcpServers")
              .value() == "{\r\n  // c\r\n  \"a\": 1,\r\n  \"mcpServers\": "
                          "{\r\n    \"x\": {}\r\n  }\r\n}\r\n");
    CHECK(replace_mcp("name: x\r\nz: 1\r\n", "extensions:\n  b:\n    cmd: w\n",
                      Format::yaml, "extensions")
              .value() == "name: x\r\nz: 1\r\nextensions:\r\n  b:\r\n"
                          "    cmd: w\r\n");
    CHECK(replace_mcp("# c\r\nmodel = \"x\"\r\n", "[mcp_servers.b]\ncmd = 1\n",
                      Format::toml, "mcp_servers")
              .value() == "# c\r\nmodel = \"x\"\r\n\r\n[mcp_servers.b]\r\n"
                          "cmd = 1\r\n");
    CHECK(replace_mcp("name: Caf\xC3\xA9 \xF0\x9F\x98\x80  # \xC3\xBC\n"
                      "extensions:\n  a:\n    cmd: \xC3\xA9\nz: 1\n",
                      "extensions:\n  b:\n    cmd: \xC3\xBC\n", Format::yaml,
                      "extensions")
              .value() == "name: Caf\xC3\xA9 \xF0\x9F\x98\x80  # \xC3\xBC\n"
                          "extensions:\n  b:\n    cmd: \xC3\xBC\nz: 1\n");
  }

  SUBCASE("an empty current file gets just the MCP part") {
    auto json = replace_mcp("", R"({"mcpServers":{"a":{"command":"x"}}})",
                            Format::json, "mcpServers");
    REQUIRE(json.has_value());
    CHECK(*json == "{\n  \"mcpServers\": {\n    \"a\": {\n      "
                   "\"command\": \"x\"\n    }\n  }\n}\n");
    auto yaml = replace_mcp("", "extensions:\n  a:\n    cmd: x\n", Format::yaml,
                            "extensions");
    REQUIRE(yaml.has_value());
    CHECK(*yaml == "extensions:\n  a:\n    cmd: x\n");
    auto toml = replace_mcp("", "[mcp_servers.a]\ncommand = \"x\"\n",
                            Format::toml, "mcp_servers");
    REQUIRE(toml.has_value());
    CHECK(extract_mcp(*toml, Format::toml, "mcp_servers").server_names() ==
          std::vector<std::string>{"a"});
  }

  SUBCASE("an unparseable current file is refused") {
    auto result = replace_mcp("{\n  \"a\": 1,\n  \"b\" 2\n}", k_claude_desktop,
                              Format::json, "mcpServers");
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::bad_request);
    CHECK(result.error().message.rfind(
              "the current file does not parse (line 3, column 7: ", 0) == 0);
    CHECK(result.error().message.find("); restore the whole file instead") !=
          std::string::npos);
  }

  SUBCASE("an unparseable snapshot is refused") {
    auto result =
        replace_mcp("a = 1\n", "[mcp_servers", Format::toml, "mcp_servers");
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::bad_request);
    CHECK(result.error().message.rfind("the snapshot does not parse (line 1",
                                       0) == 0);
  }

  SUBCASE("a file read two ways is refused, not restored inexactly") {
    // YAML takes this JSON text with its repeated key; which copy counts is
    // each reader's own choice.
    auto repeated = replace_mcp(
        R"({"mcpServers":{"a":{"command":"1"},"a":{"command":"2"}},)"
        R"("mcpServers":{}})",
        R"({"mcpServers":{"a":{"command":"3"}}})", Format::yaml, "mcpServers");
    REQUIRE_FALSE(repeated.has_value());
    CHECK(repeated.error().code == ErrorCode::bad_request);
    CHECK(repeated.error().message ==
          "the current file has the key \"mcpServers\" twice in one map; "
          "restore the whole file instead");
    // The same with a byte that is not UTF-8, which libyaml would refuse
    // and yaml-cpp reads (fuzz/regressions/fuzz_mcp/
    // yaml-repeated-key-not-utf8-restored-twice).
    CHECK(replace_mcp("{\"mcpServers\":{\"a\":{\"comman\xE4\":\"2\"}},"
                      "\"mcpServers\":{}}",
                      "{\"x\":1}", Format::yaml, "mcpServers")
              .error()
              .message ==
          "the current file has the key \"mcpServers\" twice in one map; "
          "restore the whole file instead");
    // Bytes that are not UTF-8 in a YAML snapshot: yaml-cpp reads them, its
    // writer does not give them back, so the result would hold another
    // server than the snapshot's.
    auto not_utf8 = replace_mcp(
        "{\"mcpServers\": {\"gh\": {\"args\": [\"a\"]}}, \"k\": 1}\n",
        "{\"mcpServers\": {\"gh\": {\"args\": [\"@m\x91\x91\x8b\"]}}}\n",
        Format::yaml, "mcpServers");
    REQUIRE_FALSE(not_utf8.has_value());
    CHECK(not_utf8.error().message ==
          "the snapshot's servers do not read back the same once put in "
          "the current file; restore the whole file instead");
  }

  SUBCASE("a non-map on the way is refused") {
    auto result = replace_mcp(R"({"projects": []})", k_claude_code,
                              Format::json, "projects.*.mcpServers");
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message ==
          "cannot place projects./home/u/alpha.mcpServers in the current "
          "file: projects is not a map; restore the whole file instead");
  }
}

// Generated JSONC for replace_mcp's property test: a settings-like object
// whose comments outside the server maps are numbered "keep N" (they must
// survive any restore --only-mcp), with server maps at "mcpServers",
// "mcp.servers" and "projects.*.mcpServers", each present or not.
class JsoncGen {
public:
  explicit JsoncGen(std::uint32_t seed) : m_random(seed) {}

  std::string document(bool pretty) {
    m_pretty = pretty;
    std::vector<std::pair<std::string, std::string>> members;
    members.emplace_back("\"theme\"", scalar());
    if (chance(2)) {
      members.emplace_back("\"mcpServers\"", server_map(1));
    }
    if (chance(2)) {
      std::vector<std::pair<std::string, std::string>> mcp;
      mcp.emplace_back("\"enabled\"", "true");
      if (chance(2)) {
        mcp.emplace_back("\"servers\"", server_map(2));
      }
      members.emplace_back("\"mcp\"", object(mcp, 1));
    }
    if (chance(2)) {
      std::vector<std::pair<std::string, std::string>> projects;
      for (int i = 0, n = pick(4); i < n; ++i) {
        std::vector<std::pair<std::string, std::string>> project;
        project.emplace_back("\"trusted\"", chance(2) ? "true" : "false");
        if (chance(2)) {
          project.emplace_back("\"mcpServers\"", server_map(3));
        }
        projects.emplace_back("\"/home/u/p" + std::to_string(i) + "\"",
                              object(project, 2));
      }
      members.emplace_back("\"projects\"", object(projects, 1));
    }
    members.emplace_back("\"fontSize\"", std::to_string(pick(30)));
    std::shuffle(members.begin(), members.end(), m_random);
    return object(members, 0) + (chance(2) ? "\n" : "");
  }

  // How many "keep" comments the last document has.
  int kept() const { return m_keep; }

private:
  bool chance(int n) { return pick(n) == 0; }
  int pick(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(m_random);
  }
  std::string scalar() {
    static const char *const k_values[] = {"\"dark\"", "1.5", "null", "[1, 2]",
                                           "\"a \\\"q\\\" b\""};
    return k_values[pick(5)];
  }
  std::string indent(int depth) const {
    return m_pretty ? std::string(2 * static_cast<std::size_t>(depth), ' ')
                    : std::string();
  }
  std::string comment(bool keep) {
    const std::string label = keep ? "keep " + std::to_string(m_keep++)
                                   : "map " + std::to_string(m_map++);
    if (m_pretty && chance(2)) {
      return "// " + label + "\n";
    }
    return "/* " + label + " */ ";
  }
  std::string object(const std::vector<std::pair<std::string, std::string>> &m,
                     int depth, bool in_map = false) {
    if (m.empty()) {
      return chance(2) ? "{}" : "{ }";
    }
    std::string out = "{";
    for (std::size_t i = 0; i < m.size(); ++i) {
      out += m_pretty ? "\n" + indent(depth + 1) : (i == 0 ? "" : " ");
      if (chance(3)) {
        out += comment(!in_map);
        out += m_pretty && out.back() == '\n' ? indent(depth + 1) : "";
      }
      out += m[i].first + ": " + m[i].second;
      if (i + 1 < m.size() || chance(3)) {
        out += ",";
      }
    }
    out += m_pretty ? "\n" + indent(depth) + "}" : "}";
    return out;
  }
  std::string server_map(int depth) {
    std::vector<std::pair<std::string, std::string>> servers;
    for (int i = 0, n = pick(3); i < n; ++i) {
      std::vector<std::pair<std::string, std::string>> entry;
      entry.emplace_back("\"command\"",
                         "\"cmd" + std::to_string(pick(3)) + "\"");
      servers.emplace_back("\"s" + std::to_string(pick(4)) + "\"",
                           object(entry, depth + 1, true));
    }
    std::sort(servers.begin(), servers.end());
    servers.erase(std::unique(servers.begin(), servers.end(),
                              [](const auto &a, const auto &b) {
                                return a.first == b.first;
                              }),
                  servers.end());
    return object(servers, depth, true);
  }

  std::mt19937 m_random;
  bool m_pretty = true;
  int m_keep = 0;
  int m_map = 0;
};

TEST_CASE("replace_mcp keeps everything outside the maps it changes "
          "(generated JSONC)") {
  const char *const locations = "mcpServers mcp.servers projects.*.mcpServers";
  for (std::uint32_t seed = 1; seed <= 400; ++seed) {
    JsoncGen gen(seed);
    const std::string snapshot = gen.document(seed % 3 != 0);
    JsoncGen current_gen(seed + 100000);
    const std::string current = current_gen.document(seed % 5 != 0);
    CAPTURE(seed);
    CAPTURE(current);
    CAPTURE(snapshot);
    auto result = replace_mcp(current, snapshot, Format::jsonc, locations);
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CAPTURE(*result);
    const McpView got = extract_mcp(*result, Format::jsonc, locations);
    const McpView want = extract_mcp(snapshot, Format::jsonc, locations);
    REQUIRE(got.parsed);
    CHECK(got.servers == want.servers);
    for (int i = 0; i < current_gen.kept(); ++i) {
      const std::string label = "keep " + std::to_string(i);
      const auto at = result->find(label);
      CHECK_MESSAGE(
          (at != std::string::npos && !std::isdigit(static_cast<unsigned char>(
                                          (*result)[at + label.size()]))),
          label);
    }
  }
}

// Generated YAML for the same property: block maps indented by 2 or 4,
// comments outside the server maps numbered "keep N" (a comment on a
// server map's key line goes with the map), server maps at "extensions"
// and "mcp.servers", each present, empty or absent.
class YamlGen {
public:
  explicit YamlGen(std::uint32_t seed) : m_random(seed) {}

  std::string document() {
    m_unit = chance(2) ? 2 : 4;
    std::vector<std::string> members;
    members.push_back("name: Mine" + trailing(true) + "\n");
    members.push_back("version: " + std::to_string(pick(9)) + "\n");
    if (chance(3) != 0) {
      const std::string map = servers(1);
      members.push_back(
          "extensions:" + (map.front() == '\n' ? trailing(false) : "") + map);
    }
    if (chance(2)) {
      std::string mcp = "mcp:\n" + pad(1) + "enabled: true\n";
      if (chance(2)) {
        const std::string map = servers(2);
        mcp += pad(1) +
               "servers:" + (map.front() == '\n' ? trailing(false) : "") + map;
      }
      members.push_back(mcp);
    }
    std::shuffle(members.begin(), members.end(), m_random);
    std::string out;
    for (const auto &member : members) {
      if (chance(3)) {
        out += "# keep " + std::to_string(m_keep++) + "\n";
      }
      out += member;
    }
    return out;
  }

  int kept() const { return m_keep; }

private:
  bool chance(int n) { return pick(n) == 0; }
  int pick(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(m_random);
  }
  std::string pad(int depth) const {
    return std::string(static_cast<std::size_t>(depth * m_unit), ' ');
  }
  std::string trailing(bool keep) {
    if (!chance(3)) {
      return "";
    }
    return keep ? "  # keep " + std::to_string(m_keep++) : "  # map";
  }
  std::string servers(int depth) {
    const int n = pick(4);
    if (n == 0) {
      return chance(2) ? "\n" : " {}\n";
    }
    std::string out = "\n";
    std::vector<int> names{0, 1, 2, 3, 4};
    std::shuffle(names.begin(), names.end(), m_random);
    for (int i = 0; i < n; ++i) {
      if (chance(4)) {
        out += pad(depth) + "# map\n";
      }
      out += pad(depth) + "s" +
             std::to_string(names[static_cast<std::size_t>(i)]) + ":\n";
      out += pad(depth + 1) + "cmd: x" + std::to_string(pick(3)) +
             trailing(false) + "\n";
      if (chance(2)) {
        out += pad(depth + 1) + "args: [a, \"b c\"]\n";
      }
    }
    return out;
  }

  std::mt19937 m_random;
  int m_unit = 2;
  int m_keep = 0;
};

TEST_CASE("replace_mcp keeps everything outside the maps it changes "
          "(generated YAML)") {
  const char *const locations = "extensions mcp.servers";
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    const std::string snapshot = YamlGen(seed).document();
    YamlGen current_gen(seed + 100000);
    const std::string current = current_gen.document();
    CAPTURE(seed);
    CAPTURE(current);
    CAPTURE(snapshot);
    auto result = replace_mcp(current, snapshot, Format::yaml, locations);
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CAPTURE(*result);
    const McpView got = extract_mcp(*result, Format::yaml, locations);
    REQUIRE(got.parsed);
    CHECK(got.servers ==
          extract_mcp(snapshot, Format::yaml, locations).servers);
    for (int i = 0; i < current_gen.kept(); ++i) {
      const std::string label = "keep " + std::to_string(i);
      const auto at = result->find(label);
      CHECK_MESSAGE(
          (at != std::string::npos && !std::isdigit(static_cast<unsigned char>(
                                          (*result)[at + label.size()]))),
          label);
    }
  }
}

TEST_CASE("is_secret_key") {
  for (const char *key :
       {"GITHUB_PERSONAL_ACCESS_TOKEN", "OPENAI_API_KEY", "apiKey", "x-api-key",
        "Authorization", "DB_PASSWORD", "client_secret",
        "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "passwd",
        "Cookie", "BEARER"}) {
    CHECK_MESSAGE(is_secret_key(key), key);
  }
  for (const char *key : {"PATH", "HOME", "NODE_ENV", "KEYBOARD_LAYOUT",
                          "LOG_LEVEL", "PWD", "Content-Type", "monkey"}) {
    CHECK_MESSAGE(!is_secret_key(key), key);
  }
}

TEST_CASE("mask_secrets_in_json") {
  SUBCASE("env token masked, PATH kept") {
    std::string masked = mask_secrets_in_json(
        R"({"command":"npx","env":{"GITHUB_TOKEN":"abcdefgh12345678","PATH":"/usr/bin:/bin","SHORT_KEY":"abc"}})");
    CHECK(masked == R"({"command":"npx","env":{"GITHUB_TOKEN":")" + k_mask +
                        R"(5678","PATH":"/usr/bin:/bin","SHORT_KEY":")" +
                        k_mask + R"("}})");
  }

  SUBCASE("headers, Bearer values and tokens in args") {
    std::string masked = mask_secrets_in_json(
        R"({"args":["--token","ghp_abcdefghijklmnopqrstuvwxyz0123"],"headers":{"Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig12345"},"url":"https://x.dev/mcp"})");
    CHECK(masked.find("ghp_") == std::string::npos);
    CHECK(masked.find(k_mask + "0123") != std::string::npos);
    CHECK(masked.find("eyJ") == std::string::npos);
    CHECK(masked.find("https://x.dev/mcp") != std::string::npos);
  }

  SUBCASE("secrets named in args and in URL queries") {
    // Values that follow no token format, given by name on a command
    // line or in a URL: the names stay, the values are masked.
    const std::string masked = mask_secrets_in_json(
        R"({"args":["--api-key","plainvalue1234","--port","8080",)"
        R"("--token=otherplain5678","--no-auth","server.js",)"
        R"("--api-key","--verbose"],)"
        R"("url":"https://x.dev/mcp?api_key=querysecret99&team=core#top",)"
        R"("env":{"URL":"https://y/?access_token=${TOKEN}"}})");
    CHECK(masked == R"({"args":["--api-key",")" + k_mask +
                        R"(1234","--port","8080",)" + R"("--token=)" + k_mask +
                        R"(5678","--no-auth","server.js",)" +
                        R"("--api-key","--verbose"],)" +
                        R"("env":{"URL":"https://y/?access_token=${TOKEN}"},)" +
                        R"("url":"https://x.dev/mcp?api_key=)" + k_mask +
                        R"(et99&team=core#top"})");
    // A text diff of the file finds the same values, and keeps the names.
    const std::string file =
        R"({"mcpServers": {"s": {"args": ["--api-key", "plainvalue1234",)"
        R"( "--token=otherplain5678"], "url": )"
        R"("https://x.dev/mcp?api_key=querysecret99&team=core"}}})";
    const McpView view = extract_mcp(file, Format::json, "mcpServers");
    const SecretWords words = secret_words({&view});
    CHECK(words.words == std::set<std::string>{"otherplain5678",
                                               "plainvalue1234",
                                               "querysecret99"});
    const std::string text =
        mask_secrets_in_text(file, MaskStyle::hint, &words);
    CHECK(text.find("\"--token=" + k_mask + "5678\"") != std::string::npos);
    CHECK(text.find("?api_key=" + k_mask + "et99&team") != std::string::npos);
    CHECK(text.find("plainvalue") == std::string::npos);
  }

  SUBCASE("a URL's password") {
    // Connection strings in args and env: the password goes, the user,
    // host and database stay. A user alone, or an '@' past the host, is no
    // password.
    const std::string masked = mask_secrets_in_json(
        R"({"args":["postgresql://admin:pgsecret99@db.local:5432/app",)"
        R"("--db=mysql://root:rootpw1234@localhost/db"],)"
        R"("env":{"CACHE":"redis://:redispw5678@cache:6379/0",)"
        R"("REPO":"https://someone@github.com/o/r","PAGE":"https://x/a:b@c",)"
        R"("GIT":"git@github.com:o/r.git"}})");
    CAPTURE(masked);
    for (const char *secret : {"pgsecret", "rootpw", "redispw"}) {
      CHECK(masked.find(secret) == std::string::npos);
    }
    CHECK(masked.find("postgresql://admin:" + k_mask +
                      "et99@db.local:5432/app") != std::string::npos);
    CHECK(masked.find("redis://:" + k_mask + "5678@cache") !=
          std::string::npos);
    for (const char *kept : {"https://someone@github.com/o/r",
                             "https://x/a:b@c", "git@github.com:o/r.git"}) {
      CHECK(masked.find(kept) != std::string::npos);
    }
    // The file's text, parsed and not.
    const std::string file =
        R"({"mcpServers": {"pg": {"command": "npx", "args": ["-y", "pg-mcp",)"
        R"( "postgres://admin:filesecret42@db/app"]}}})";
    const McpView view = extract_mcp(file, Format::json, "mcpServers");
    const SecretWords words = secret_words({&view});
    CHECK(words.words == std::set<std::string>{"filesecret42"});
    const std::string text =
        mask_secrets_in_text(file, MaskStyle::hint, &words);
    CHECK(text.find("filesecret") == std::string::npos);
    CHECK(text.find("postgres://admin:") != std::string::npos);
    CHECK(mask_secrets_in_text(R"(  "args": ["postgres://u:linepw1234@h/d"])")
              .find("linepw") == std::string::npos);
    // Redacted, the file still parses.
    CHECK(extract_mcp(mask_secrets_in_text(file, MaskStyle::redact, &words),
                      Format::json, "mcpServers")
              .parsed);
  }

  SUBCASE("a URL's password with '/', '?' or '#', and a port") {
    const std::string masked = mask_secrets_in_json(
        R"({"args":["postgres://user:PW_slash/abc@host/db",)"
        R"("postgres://user:PW_hash#abc@host/db","mysql://u:PW_q?abc@h/d",)"
        R"("https://host:8080/path?x=a@b","https://h:99/x#y@z"]})");
    CAPTURE(masked);
    CHECK(masked.find("PW_") == std::string::npos);
    CHECK(masked.find("postgres://user:" + k_mask + "/abc@host/db") !=
          std::string::npos);
    CHECK(masked.find("https://host:8080/path?x=a@b") != std::string::npos);
    CHECK(masked.find("https://h:99/x#y@z") != std::string::npos);
  }

  SUBCASE("a header given as one string") {
    // mcp-remote's --header: the scheme word stays, the value goes.
    const std::string masked = mask_secrets_in_json(
        R"({"args":["--header","Authorization: Basic dXNlcjpwYXNzd29yZA==",)"
        R"("--header","X-API-Key: HDR_value1","--header=X-Api-Key: HDR_value2",)"
        R"("--header","authorization: bearer HDR_value3",)"
        R"("--header","Accept: application/json"]})");
    CAPTURE(masked);
    CHECK(masked.find("HDR_value") == std::string::npos);
    CHECK(masked.find("dXNlcjpw") == std::string::npos);
    CHECK(masked.find("\"Authorization: Basic " + k_mask) != std::string::npos);
    CHECK(masked.find("\"X-API-Key: " + k_mask + "lue1\"") !=
          std::string::npos);
    CHECK(masked.find("Accept: application/json") != std::string::npos);
  }

  SUBCASE("options that only look like secret ones") {
    const std::string visible =
        R"({"args":["--pass-through","stdio","--sig-figs","3","--pass-fds",)"
        R"("3","--signature-version","v4","--credentials-profile","default",)"
        R"("--pat-scope","repo","--password-stdin","registry.example.com"]})";
    CHECK(mask_secrets_in_json(visible) == visible);
  }

  SUBCASE("a URL's password in a file that does not parse, unquoted") {
    // A YAML list item or a TOML multi-line string: no parsed value to
    // look for, and no quotes around it.
    for (const char *line :
         {"    - postgres://u:YW_yaml1@h/db",
          "args = [\"\"\"pg://u:YW_yaml2@h\"\"\"]",
          "  cmd: run mysql://root:YW_yaml3@db:3306/x --fast"}) {
      CAPTURE(line);
      const std::string text = mask_secrets_in_text(line);
      CHECK(text.find("YW_yaml") == std::string::npos);
      CHECK(mask_secrets_in_text(line, MaskStyle::redact).find("YW_yaml") ==
            std::string::npos);
    }
    // Masked once more, a masked password stays as it is.
    const std::string once = mask_secrets_in_text(R"("pg://u:abcdefgh@h")");
    CHECK(mask_secrets_in_text(once) == once);
  }

  SUBCASE("--pass, --passphrase and --creds name secrets") {
    const std::string masked = mask_secrets_in_json(
        R"({"args":["--pass","passvalue1234","--passphrase=phrasevalue5678",)"
        R"("--creds","credsvalue9012"]})");
    CAPTURE(masked);
    for (const char *secret : {"passvalue", "phrasevalue", "credsvalue"}) {
      CHECK(masked.find(secret) == std::string::npos);
    }
  }

  SUBCASE("options that name no secret value keep their arguments") {
    const std::string visible =
        R"({"args":["--max-tokens","409600","--token-file","/run/tok.txt",)"
        R"("--api-key-env","OPENAI_API_KEY_NAME","--auth-type","oauthflow",)"
        R"("--author","bobbybobby","--tokenizer","gpt2tokenizer",)"
        R"("--disable-auth","server-main.js"],)"
        R"("url":"https://x/?max_tokens=40960000&token_type=bearerish"})";
    CHECK(mask_secrets_in_json(visible) == visible);
    const std::string masked = mask_secrets_in_json(
        R"({"args":["--apiKey","camelvalue1234","--client-secret",)"
        R"("clientvalue5678","--access-token=accessvalue9012","--auth",)"
        R"("authvalue3456"],"url":"https://x/?id=1&apiKey=urlvalue7890;v=2"})");
    for (const char *value : {"camelvalue", "clientvalue", "accessvalue",
                              "authvalue", "urlvalue"}) {
      CAPTURE(value);
      CHECK(masked.find(value) == std::string::npos);
    }
    CHECK(masked.find("?id=1&apiKey=" + k_mask + "7890;v=2") !=
          std::string::npos);
    // A command line in one string.
    const std::string line = mask_secrets_in_json(
        R"({"command":"npx srv --token tokvalue1234 --port 80",)"
        R"("args":["-c","run --api-key=apivalue5678 --max-tokens 4096"]})");
    CHECK(line ==
          R"({"args":["-c","run --api-key=)" + k_mask +
              R"(5678 --max-tokens 4096"],"command":"npx srv --token )" +
              k_mask + R"(1234 --port 80"})");
    // Quoted values inside it: masked between their quotes; and in the
    // file's text, where a double quote is written \", the file still
    // parses and holds no secret.
    const std::string quoted_cmd =
        R"(srv --token 'sq1secretvalue' --api-key "dq1secretvalue" )"
        R"(--token="eqquotedsecret" --password='eq sq secret' --secret=w\"q12345)";
    const std::string shown =
        mask_secrets_in_json(nlohmann::json{{"command", quoted_cmd}}.dump());
    for (const char *secret :
         {"sq1secret", "dq1secret", "eqquoted", "eq sq", "w\\\"q1"}) {
      CAPTURE(secret);
      CHECK(shown.find(secret) == std::string::npos);
    }
    CHECK(shown.find("--token '" + k_mask + "alue' --api-key \\\"" + k_mask +
                     "alue\\\"") != std::string::npos);
    const std::string file =
        nlohmann::json{{"mcpServers", {{"s", {{"command", quoted_cmd}}}}}}.dump(
            2);
    const McpView file_view = extract_mcp(file, Format::json, "mcpServers");
    for (const MaskStyle style : {MaskStyle::hint, MaskStyle::redact}) {
      const SecretWords words = secret_words({&file_view}, style);
      const std::string text = mask_secrets_in_text(file, style, &words);
      CAPTURE(text);
      for (const char *secret :
           {"sq1secret", "dq1secret", "eqquoted", "eq sq", "q12345"}) {
        CHECK(text.find(secret) == std::string::npos);
      }
      CHECK(extract_mcp(text, Format::json, "mcpServers").parsed);
    }
    // An Azure SAS signature, a bare key.
    const std::string sas = mask_secrets_in_json(
        R"({"url":"https://a.blob/c?sv=2024&sig=sasvalue1234&key=keyvalue5678"})");
    CHECK(sas == R"({"url":"https://a.blob/c?sv=2024&sig=)" + k_mask +
                     "1234&key=" + k_mask + R"(5678"})");
  }

  SUBCASE("a Bearer prefix outside a secret map stays visible") {
    std::string masked = mask_secrets_in_json(
        R"({"http_headers":{"X-Trace":"Bearer abcdefghijkl"}})");
    CHECK(masked ==
          R"({"http_headers":{"X-Trace":"Bearer )" + k_mask + R"(ijkl"}})");
  }

  SUBCASE("Cline OAuth tokens") {
    std::string masked = mask_secrets_in_json(
        R"({"oauth":{"accessToken":"at-0123456789abcdef","expiresAt":5}})");
    CHECK(masked ==
          R"({"oauth":{"accessToken":")" + k_mask + R"(cdef","expiresAt":5}})");
  }

  SUBCASE("variable references are not secrets") {
    std::string masked = mask_secrets_in_json(
        R"({"env":{"API_KEY":"${API_KEY}","TOKEN":"{env:TOKEN}"}})");
    CHECK(masked ==
          R"({"env":{"API_KEY":"${API_KEY}","TOKEN":"{env:TOKEN}"}})");
  }

  SUBCASE("nested and other well-known formats") {
    std::string masked = mask_secrets_in_json(
        R"({"a":{"b":["sk-proj-abcdefghijklmnopqrstuv","AKIAABCDEFGHIJKLMNOP","xoxb-1234567890-abc","task-runner-with-a-long-name"]}})");
    CHECK(masked.find("sk-proj") == std::string::npos);
    CHECK(masked.find("AKIA") == std::string::npos);
    CHECK(masked.find("xoxb") == std::string::npos);
    CHECK(masked.find("task-runner-with-a-long-name") != std::string::npos);
  }
}

TEST_CASE("mask_secrets_in_text") {
  SUBCASE("names of variables and references hide nothing") {
    // Codex keeps the names of the variables that hold the token: diff
    // showed "••••OKEN" where show printed the name.
    const std::string kept =
        "bearer_token_env_var = \"FIGMA_OAUTH_TOKEN\"\n"
        "env_http_headers = { \"X-Api-Key\" = \"FIGMA_API_KEY_VAR\" }\n"
        "\"Authorization\": \"Bearer ${API_KEY}\",\n"
        "\"Authorization\": \"Bearer ${input:pat}\",\n";
    CHECK(mask_secrets_in_text(kept) == kept);
    CHECK(mask_secrets_in_json(R"({"env": {"API_KEY": "MY_KEY_VAR"}})") ==
          R"({"env":{"API_KEY":"MY_KEY_VAR"}})");
    // What only looks like one is masked: a single word, lower case, a
    // trailing or doubled '_', a scheme with a value.
    for (const std::string value :
         {"SECRETVALUE1", "ABCD_efgh_1234", "ABC__DEF", "ABC_DEF_",
          "Bearer abcdef123456", "Bearer ${A} x"}) {
      CAPTURE(value);
      CHECK(mask_secrets_in_text("\"API_KEY\": \"" + value + "\"") !=
            "\"API_KEY\": \"" + value + "\"");
    }
  }

  SUBCASE("JSON lines") {
    std::string text = "  \"env\": {\n    \"API_KEY\": \"supersecretvalue\",\n"
                       "    \"PATH\": \"/usr/bin\"\n  }\n";
    CHECK(mask_secrets_in_text(text) ==
          "  \"env\": {\n    \"API_KEY\": \"" + k_mask +
              "alue\",\n    \"PATH\": \"/usr/bin\"\n  }\n");
  }

  SUBCASE("secrets named in args and URLs, the file parsed or not") {
    // Line by line: a file that does not parse gives no values to look
    // for, and a truncated one ends inside a literal.
    CHECK(
        mask_secrets_in_text(
            R"(  "args": ["--api-key", "SECRET1111", "--token=SECRET2222"],)") ==
        R"(  "args": ["--api-key", ")" + k_mask + R"(1111", "--token=)" +
            k_mask + R"(2222"],)");
    CHECK(
        mask_secrets_in_text(R"("url": "https://h/?api_key=SECRET3333&a=1")") ==
        R"("url": "https://h/?api_key=)" + k_mask + R"(3333&a=1")");
    CHECK(mask_secrets_in_text(
              "    \"args\": [\"--api-key\", \"SECRETTRUNC1111") ==
          "    \"args\": [\"--api-key\", \"" + k_mask + "1111");
    CHECK(mask_secrets_in_text("args = ['--password', 'pass word 3333']") ==
          "args = ['--password', '" + k_mask + "3333']");
    // One item per line, the file cut short after the value.
    CHECK(mask_secrets_in_text("      \"args\": [\n        \"--api-key\",\n"
                               "        \"argsecretvalue1\",\n        \"--v") ==
          "      \"args\": [\n        \"--api-key\",\n        \"" + k_mask +
              "lue1\",\n        \"--v");
    // A key after an option is a key: its value is judged by its name.
    const std::string kept = R"({"a": ["--token"], "cmd": "npx-runner-x"})";
    CHECK(mask_secrets_in_text(kept) == kept);
  }

  SUBCASE("a value cut short: its quote not closed on the line") {
    // A file read while it was being written, or truncated.
    CHECK(mask_secrets_in_text("    \"API_KEY\": \"plainsecretvalue-987654") ==
          "    \"API_KEY\": \"" + k_mask + "7654");
    CHECK(mask_secrets_in_text("\"GITHUB_TOKEN\": \"ghp_SECRET12345\r\n") ==
          "\"GITHUB_TOKEN\": \"" + k_mask + "2345\r\n");
    CHECK(mask_secrets_in_text("api_key = 'abcdefgh1234", MaskStyle::redact) ==
          "api_key = '" + std::string(k_redacted));
    CHECK(mask_secrets_in_text("\"PATH\": \"/usr/bin") ==
          "\"PATH\": \"/usr/bin");
  }

  SUBCASE("minified JSON on one line") {
    CHECK(mask_secrets_in_text(
              R"({"env":{"DB_PASSWORD":"hunter2hunter2","USER":"bob"}})") ==
          R"({"env":{"DB_PASSWORD":")" + k_mask + R"(ter2","USER":"bob"}})");
  }

  SUBCASE("TOML pairs and inline tables") {
    CHECK(mask_secrets_in_text("API_TOKEN = \"abcdefgh1234\"\n") ==
          "API_TOKEN = \"" + k_mask + "1234\"\n");
    CHECK(mask_secrets_in_text(
              "env = { OPENAI_API_KEY = \"abcdefgh9999\", PATH = \"/bin\" }") ==
          "env = { OPENAI_API_KEY = \"" + k_mask + "9999\", PATH = \"/bin\" }");
  }

  SUBCASE("YAML, also in a unified diff") {
    CHECK(mask_secrets_in_text("    GITHUB_TOKEN: plainvalue1234 # mine\n") ==
          "    GITHUB_TOKEN: " + k_mask + "1234 # mine\n");
    CHECK(mask_secrets_in_text("+      api_key: 'quotedsecret'\n") ==
          "+      api_key: '" + k_mask + "cret'\n");
    CHECK(mask_secrets_in_text("-  - password: hunter2hunter2") ==
          "-  - password: " + k_mask + "ter2");
    CHECK(mask_secrets_in_text("    cmd: npx\n") == "    cmd: npx\n");
  }

  SUBCASE("literals under a secret-looking key are kept") {
    // ~/.claude.json's "passwordlessLogin": false showed as "••••".
    for (const std::string line :
         {"  \"passwordlessLogin\": false,\n", "  \"api_key\": null\n",
          "password: true\n", "token = false # off\n"}) {
      CHECK(mask_secrets_in_text(line) == line);
    }
    CHECK(mask_secrets_in_text("password: falsehood\n") ==
          "password: " + k_mask + "hood\n");
  }

  SUBCASE("tokens anywhere, rest of the line kept") {
    CHECK(mask_secrets_in_text("    \"args\": [\"--key\", "
                               "\"ghp_abcdefghijklmnopqrstuvwxyz0123\"],") ==
          "    \"args\": [\"--key\", \"" + k_mask + "0123\"],");
  }

  SUBCASE("non-secret lines unchanged") {
    std::string text = "{\n  \"url\": \"https://example.com:8080/mcp\",\n"
                       "  \"command\": \"npx\"\n}";
    CHECK(mask_secrets_in_text(text) == text);
  }

  SUBCASE("values the line rules cannot see, found by the parsed document") {
    struct Case {
      Format format;
      std::string text;
      std::vector<std::string> secrets;
    };
    const std::vector<Case> cases = {
        {Format::yaml,
         "extensions:\n  gh:\n    cmd: npx\n    envs:\n"
         "      GITHUB_TOKEN: |\n        blockvalue-1111\n"
         "      API_KEY: >-\n        foldedvalue-2222\n"
         "        secondline-2222b\n"
         "      DB_PASSWORD: &pw 'anchoredvalue-3333'\n"
         "      OTHER_SECRET: \"quoted-4444\n        continued-4444b\"\n",
         {"blockvalue-1111", "foldedvalue-2222", "secondline-2222b",
          "anchoredvalue-3333", "quoted-4444", "continued-4444b"}},
        {Format::toml,
         "[mcp_servers.gh]\ncommand = \"npx\"\n"
         "env = { GITHUB_TOKEN = \"\"\"triplevalue-5555\"\"\" }\n"
         "[mcp_servers.gh.http_headers]\n"
         "X-Auth-Token = '\''literalvalue-6666'\''\n"
         "Authorization = \"\"\"Bearer firstline-7777\n"
         "secondline-7777b\"\"\"\n",
         {"triplevalue-5555", "literalvalue-6666", "firstline-7777",
          "secondline-7777b"}},
        {Format::jsonc,
         "{\n  \"servers\": {\n    \"gh\": {\n      \"env\": {\n"
         "        \"GH_TOKEN\":\n          \"nextline-8888\",\n"
         "        \"PASSWORD\" // why\n          : \"commented-9999\",\n"
         "        \"API_KEY\": /* c */ \"inlinecomment-0000\",\n"
         "        \"SHORT_TOKEN\": /* c */ \"v\"\n      }\n    }\n  }\n}\n",
         {"nextline-8888", "commented-9999", "inlinecomment-0000", "\"v\""}},
    };
    for (const auto &c : cases) {
      CAPTURE(c.text);
      for (const MaskStyle style : {MaskStyle::hint, MaskStyle::redact}) {
        const McpView before =
            extract_mcp(c.text, c.format, "extensions servers mcp_servers");
        const SecretWords words = secret_words({&before}, style);
        const std::string masked = mask_secrets_in_text(c.text, style, &words);
        CAPTURE(masked);
        for (const auto &secret : c.secrets) {
          CHECK(masked.find(secret) == std::string::npos);
        }
        // Still a document of its format, with the same servers.
        const McpView after =
            extract_mcp(masked, c.format, "extensions servers mcp_servers");
        REQUIRE(before.parsed);
        CHECK(after.parsed);
        CHECK(after.servers.size() == before.servers.size());
      }
    }
    // The words are whole words: a longer word that holds one is kept.
    const auto words_of = [](const std::string &env) {
      const McpView view =
          extract_mcp(R"({"mcpServers": {"s": {"env": )" + env + "}}}",
                      Format::json, "mcpServers");
      return secret_words({&view});
    };
    const SecretWords words = words_of(R"({"API_KEY": "abcdefgh12"})");
    CHECK(words.words == std::set<std::string>{"abcdefgh12"});
    CHECK(mask_secrets_in_text("see abcdefgh12 and xabcdefgh12",
                               MaskStyle::hint, &words) ==
          "see " + k_mask + "gh12 and xabcdefgh12");
    // Every occurrence, next to each other or at the ends.
    CHECK(mask_secrets_in_text("abcdefgh12 abcdefgh12xabcdefgh12\n"
                               "abcdefgh12abcdefgh12 abcdefgh12",
                               MaskStyle::hint, &words) ==
          k_mask + "gh12 abcdefgh12xabcdefgh12\nabcdefgh12abcdefgh12 " +
              k_mask + "gh12");
    // Short words, references and words without a letter are not looked
    // for elsewhere (they could be anything in the file).
    CHECK(words_of(R"({"API_KEY": "${KEY} 12345678 short"})").words.empty());
    // A value of several words is looked for whole, and as the text
    // escapes it.
    const SecretWords spaced = words_of(R"({"PASSWORD": "pass word 12"})");
    CHECK(spaced.words == std::set<std::string>{"pass word 12"});
    CHECK(mask_secrets_in_text("  [\n    \"pass word 12\"\n  ]",
                               MaskStyle::hint, &spaced) ==
          "  [\n    \"" + k_mask + "d 12\"\n  ]");
    // Of a value masking left partly visible, only what it masked.
    const McpView header =
        extract_mcp(R"({"mcpServers": {"s": {"args": ["--header", )"
                    R"("Authorization: Bearer SECRET17171717"]}}})",
                    Format::json, "mcpServers");
    CHECK(secret_words({&header}).words ==
          std::set<std::string>{"SECRET17171717"});
    const SecretWords escaped = words_of(R"({"TOKEN": "abc\"def\\ghi1"})");
    CHECK(escaped.words ==
          std::set<std::string>{"abc\"def\\ghi1", "abc\\\"def\\\\ghi1"});
    CHECK(mask_secrets_in_text("x = \"abc\\\"def\\\\ghi1\"", MaskStyle::hint,
                               &escaped)
              .find("def") == std::string::npos);
  }
}

TEST_CASE("replace_mcp leaves a map with no servers on one side alone") {
  // Claude Code writes "mcpServers": {} into each project it opens; a
  // snapshot from before it opened one has no such key, and one the user
  // emptied has the empty map where the file now has servers.
  const std::string locations = "mcpServers projects.*.mcpServers";
  const std::string current = "{\n"
                              "  \"projects\": {\n"
                              "    \"/a\": {\n"
                              "      \"mcpServers\": {},\n"
                              "      \"history\": []\n"
                              "    },\n"
                              "    \"/b\": {\n"
                              "      \"history\": [1]\n"
                              "    },\n"
                              "    \"/c\": {\n"
                              "      \"mcpServers\": {\"x\": {\"command\": "
                              "\"x\"}}\n"
                              "    }\n"
                              "  }\n"
                              "}\n";
  const std::string snapshot =
      R"({"projects": {"/a": {"history": []},)"
      R"( "/b": {"mcpServers": {}, "history": [1]},)"
      R"( "/c": {"mcpServers": {}}}, "mcpServers": {}})";
  bool whole = true;
  auto result = replace_mcp(current, snapshot, Format::json, locations, &whole);
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  CHECK_FALSE(whole);
  // /a keeps its empty map, /b and the top level get none, /c's servers go.
  std::string expected = current;
  const std::string c_servers = "{\"x\": {\"command\": \"x\"}}";
  expected.replace(expected.find(c_servers), c_servers.size(), "{}");
  CHECK(*result == expected);

  SUBCASE("the same in TOML and YAML") {
    const std::string toml_current = "model = \"m\"\n\n[mcp_servers]\n";
    auto toml = replace_mcp(toml_current, "model = \"m\"\n", Format::toml,
                            "mcp_servers");
    REQUIRE_MESSAGE(toml.has_value(), toml.error().message);
    CHECK(*toml == toml_current);
    const std::string yaml_current = "a: 1\nextensions: {}\n";
    auto yaml = replace_mcp(yaml_current, "a: 1\n", Format::yaml, "extensions");
    REQUIRE_MESSAGE(yaml.has_value(), yaml.error().message);
    CHECK(*yaml == yaml_current);
  }
}

TEST_CASE("differs_outside_mcp") {
  const std::string locations = "mcpServers projects.*.mcpServers";
  const std::string base =
      R"({"theme": "dark", "projects": {"/a": {"mcpServers": {"x": {}},)"
      R"( "history": [1]}}, "mcpServers": {"gh": {"command": "gh"}}})";
  SUBCASE("servers only, in another layout and order") {
    const std::string other =
        "{\n  \"mcpServers\": {},\n  \"projects\": {\"/a\": {\"history\": "
        "[1], \"mcpServers\": {\"y\": {\"command\": \"y\"}}}},\n  "
        "\"theme\": \"dark\"\n}\n";
    CHECK(differs_outside_mcp(base, other, Format::json, locations) ==
          std::optional<bool>(false));
  }
  SUBCASE("a setting differs") {
    std::string other = base;
    other.replace(other.find("dark"), 4, "light");
    CHECK(differs_outside_mcp(base, other, Format::json, locations) ==
          std::optional<bool>(true));
    other = base;
    other.replace(other.find("[1]"), 3, "[1, 2]");
    CHECK(differs_outside_mcp(base, other, Format::json, locations) ==
          std::optional<bool>(true));
  }
  SUBCASE("a project that only held servers is no difference") {
    const std::string with_b =
        R"({"theme": "dark", "projects": {"/a": {"mcpServers": {},)"
        R"( "history": [1]}, "/b": {"mcpServers": {"z": {}}}}})";
    CHECK(differs_outside_mcp(base, with_b, Format::json, locations) ==
          std::optional<bool>(false));
  }
  SUBCASE("TOML and YAML compare values too") {
    CHECK(differs_outside_mcp("model = \"a\" # mine\n[mcp_servers.x]\n"
                              "command = \"x\"\n",
                              "model = 'a'\n", Format::toml,
                              "mcp_servers") == std::optional<bool>(false));
    CHECK(differs_outside_mcp("model = \"a\"\n", "model = \"b\"\n",
                              Format::toml,
                              "mcp_servers") == std::optional<bool>(true));
    CHECK(differs_outside_mcp("a: 1\nextensions:\n  x: {cmd: x}\n",
                              "a: 1  # one\n", Format::yaml,
                              "extensions") == std::optional<bool>(false));
  }
  SUBCASE("a file that does not parse: no answer") {
    CHECK_FALSE(differs_outside_mcp(base, "{oops", Format::json, locations)
                    .has_value());
  }
}

TEST_CASE("replace_mcp keeps TOML comments set apart below the last table") {
  // A note at the end of config.toml, or one about the tables that follow,
  // sits below a server table after a blank line: it is not the table's.
  const std::string current = "model = \"m\"\n"
                              "\n"
                              "[mcp_servers.a]\n"
                              "command = \"a\"\n"
                              "\n"
                              "[mcp_servers.b]\n"
                              "command = \"b\"\n"
                              "# args = [\"-v\"]\n"
                              "\n"
                              "# the end: keep this\n";
  SUBCASE("the table changes") {
    const std::string snapshot = "model = \"m\"\n\n[mcp_servers.a]\n"
                                 "command = \"a\"\n\n[mcp_servers.b]\n"
                                 "command = \"b2\"\n\n[profiles.x]\n";
    auto result = replace_mcp(current, snapshot, Format::toml, "mcp_servers");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    // The commented-out line right below the values was the table's.
    CHECK(*result == "model = \"m\"\n\n[mcp_servers.a]\ncommand = \"a\"\n\n"
                     "[mcp_servers.b]\ncommand = \"b2\"\n\n"
                     "# the end: keep this\n");
  }
  SUBCASE("the table goes") {
    const std::string snapshot =
        "model = \"m\"\n\n[mcp_servers.a]\ncommand = \"a\"\n";
    auto result = replace_mcp(current, snapshot, Format::toml, "mcp_servers");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CHECK(*result == "model = \"m\"\n\n[mcp_servers.a]\ncommand = \"a\"\n\n"
                     "# the end: keep this\n");
  }
  SUBCASE("a comment about the tables that follow") {
    const std::string with_profiles = "[mcp_servers.b]\r\n"
                                      "command = \"b\"\r\n"
                                      "\r\n"
                                      "# profiles\r\n"
                                      "\r\n"
                                      "[profiles.x]\r\n"
                                      "model = \"y\"\r\n";
    const std::string snapshot = "[mcp_servers.b]\r\ncommand = \"b2\"\r\n\r\n"
                                 "[profiles.x]\r\nmodel = \"y\"\r\n";
    auto result =
        replace_mcp(with_profiles, snapshot, Format::toml, "mcp_servers");
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    std::string expected = with_profiles;
    expected.replace(expected.find("\"b\""), 3, "\"b2\"");
    CHECK(*result == expected);
  }
}

TEST_CASE("replace_mcp edits YAML saved with CRLF line ends in place") {
  // Goose's config.yaml saved by a Windows editor: its comments stayed only
  // in LF files; a CRLF one was written out whole.
  const std::string lf_snapshot =
      "A: 1\nextensions:\n  x:\n    cmd: x\n    enabled: true\n";
  const std::string crlf_current = "# hi\r\nA: 2   # keep\r\nextensions:\r\n"
                                   "  y:\r\n    cmd: y\r\n    enabled: "
                                   "true\r\nB: 3\r\n";
  bool whole = true;
  auto result = replace_mcp(crlf_current, lf_snapshot, Format::yaml,
                            "extensions", &whole);
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  CHECK_FALSE(whole);
  CHECK(*result == "# hi\r\nA: 2   # keep\r\nextensions:\r\n  x:\r\n    cmd: "
                   "x\r\n    enabled: true\r\nB: 3\r\n");
  // A CRLF snapshot into an LF file: its lines take the file's ends.
  std::string crlf_snapshot;
  for (const char c : lf_snapshot) {
    crlf_snapshot += c == '\n' ? std::string("\r\n") : std::string(1, c);
  }
  std::string lf_current;
  for (const char c : crlf_current) {
    if (c != '\r') {
      lf_current += c;
    }
  }
  result = replace_mcp(lf_current, crlf_snapshot, Format::yaml, "extensions",
                       &whole);
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  CHECK_FALSE(whole);
  CHECK(*result == "# hi\nA: 2   # keep\nextensions:\n  x:\n    cmd: x\n    "
                   "enabled: true\nB: 3\n");
}

TEST_CASE("a NUL byte makes a file unparseable, wherever it is") {
  // A file cut short and padded with zeros (a crash, a power cut, a
  // truncate() to a larger size) or with garbage after a NUL: no host reads
  // it. nlohmann/json's lexer takes a NUL for the end of the input, so the
  // document before it looked whole.
  using namespace std::string_literals;
  const std::string json = R"({"mcpServers":{"b":{"command":"bad"}}})";
  for (const std::string &text :
       {json + "\n" + std::string(200, '\0'), json + "\0garbage{{{"s,
        json + "\0"s, R"({"mcpServers":)"s + "\0"s + R"({"b":{}}})",
        std::string(9, '\0')}) {
    CAPTURE(text.size());
    for (Format format : {Format::json, Format::jsonc}) {
      const McpView fast = extract_mcp(text, format, "mcpServers");
      const McpView reference =
          extract_mcp_reference(text, format, "mcpServers");
      for (const McpView *view : {&fast, &reference}) {
        CHECK_FALSE(view->parsed);
        CHECK(view->servers.empty());
        CHECK(view->parse_error.find("NUL byte") != std::string::npos);
        CHECK_FALSE(view->empty);
      }
      CHECK(fast.parse_error == reference.parse_error);
    }
  }
  // Where it is, as the other messages say it.
  CHECK(extract_mcp(json + "\n\n  " + std::string(3, '\0'), Format::json,
                    "mcpServers")
            .parse_error == "line 3, column 3: a NUL byte (a file cut short "
                            "and padded with zeros?)");
  // TOML and YAML alike.
  const std::string toml = "[mcp_servers.a]\ncommand = \"x\"\n";
  const McpView t =
      extract_mcp(toml + std::string(100, '\0'), Format::toml, "mcp_servers");
  CHECK_FALSE(t.parsed);
  const std::string yaml = "mcpServers:\n  a:\n    command: x\n";
  const McpView y =
      extract_mcp(yaml + std::string(100, '\0'), Format::yaml, "mcpServers");
  CHECK_FALSE(y.parsed);
}
