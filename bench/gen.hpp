#pragma once

// Deterministic, realistic MCP configs for the benchmarks. Every generated
// document holds one revision marker, `"BENCH_REV": "00000000"`, in the env
// of an MCP server; with_rev() rewrites it in place. A "small edit" is thus
// an eight-byte change of one server's env: a real MCP change that every
// tool (mcpbk with trigger any or mcp, cp, git) records, and the file keeps
// its size.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mcpbk::bench {

inline constexpr std::string_view k_rev_marker = "\"BENCH_REV\": \"";

// A small linear congruential generator: the same documents on every run.
class Lcg {
public:
  explicit Lcg(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    m_state = m_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return m_state >> 33;
  }
  std::size_t below(std::size_t n) { return next() % n; }

private:
  std::uint64_t m_state;
};

inline std::string words(Lcg &rng, std::size_t n) {
  static const char *const k_words[] = {
      "refactor", "the",      "session", "handler", "add",      "tests",
      "for",      "parser",   "why",     "does",    "build",    "fail",
      "on",       "macos",    "explain", "this",    "function", "migrate",
      "database", "schema",   "update",  "docs",    "and",      "changelog",
      "fix",      "flaky",    "timeout", "in",      "ci",       "rename",
      "module",   "to",       "match",   "api",     "review",   "pull",
      "request",  "optimize", "query",   "cache"};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += i ? " " : "";
    out += k_words[rng.below(std::size(k_words))];
  }
  return out;
}

inline std::string hex(Lcg &rng, std::size_t n) {
  static const char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += k_hex[rng.below(16)];
  }
  return out;
}

inline nlohmann::ordered_json server(Lcg &rng, int i, bool with_rev) {
  static const char *const k_packages[] = {
      "@modelcontextprotocol/server-filesystem",
      "@modelcontextprotocol/server-github",
      "@modelcontextprotocol/server-postgres",
      "@modelcontextprotocol/server-slack",
      "@modelcontextprotocol/server-memory",
      "@modelcontextprotocol/server-puppeteer",
      "@modelcontextprotocol/server-brave-search",
      "@sentry/mcp-server",
      "@notionhq/notion-mcp-server",
      "mcp-server-kubernetes"};
  nlohmann::ordered_json s;
  if (i % 3 == 2) {
    s["command"] = "uvx";
    s["args"] = {"mcp-server-" + words(rng, 1), "--root",
                 "/home/user/src/" + words(rng, 1)};
  } else {
    s["command"] = "npx";
    s["args"] = {"-y", k_packages[rng.below(std::size(k_packages))],
                 "/home/user/Documents/" + words(rng, 1)};
  }
  nlohmann::ordered_json env = nlohmann::ordered_json::object();
  env["API_TOKEN"] = "tok_" + hex(rng, 40);
  env["LOG_LEVEL"] = "info";
  if (with_rev) {
    env["BENCH_REV"] = "00000000";
  }
  s["env"] = env;
  return s;
}

// A Claude Desktop style claude_desktop_config.json of about 5 KB: a dozen
// servers with args and env, plus preferences.
inline std::string desktop_config(std::uint64_t seed = 1) {
  Lcg rng(seed);
  nlohmann::ordered_json doc;
  nlohmann::ordered_json servers = nlohmann::ordered_json::object();
  for (int i = 0; i < 18; ++i) {
    servers[words(rng, 1) + "-" + std::to_string(i)] = server(rng, i, i == 3);
  }
  doc["mcpServers"] = servers;
  doc["globalShortcut"] = "Ctrl+Alt+Space";
  doc["preferences"] = {{"menuBarEnabled", true},
                        {"quickEntryShortcut", "double-tap-option"},
                        {"sidebarMode", "chat"}};
  return doc.dump(2) + "\n";
}

// A ~/.claude.json style file of about `target_bytes` (2 MB by default):
// top-level settings and servers, then hundreds of projects with prompt
// history, allowed tools and, for one in four, their own mcpServers.
inline std::string claude_config(std::size_t target_bytes = 2'000'000,
                                 std::uint64_t seed = 2) {
  Lcg rng(seed);
  nlohmann::ordered_json doc;
  doc["numStartups"] = 412;
  doc["installMethod"] = "npm-global";
  doc["autoUpdates"] = true;
  doc["userID"] = hex(rng, 64);
  doc["tipsHistory"] = {{"memory-command", 12},
                        {"theme-command", 40},
                        {"prompt-queue", 88},
                        {"shift-tab", 101}};
  nlohmann::ordered_json top = nlohmann::ordered_json::object();
  for (int i = 0; i < 5; ++i) {
    top[words(rng, 1) + "-" + std::to_string(i)] = server(rng, i, i == 1);
  }
  doc["mcpServers"] = top;
  nlohmann::ordered_json projects = nlohmann::ordered_json::object();
  std::size_t approx = 4000;
  for (int p = 0; approx < target_bytes; ++p) {
    nlohmann::ordered_json proj;
    proj["allowedTools"] = {"Bash(npm test:*)", "Bash(git diff:*)", "Edit"};
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    for (int h = 0; h < 30; ++h) {
      history.push_back({{"display", words(rng, 8 + rng.below(20))},
                         {"pastedContents", nlohmann::ordered_json::object()}});
    }
    proj["history"] = history;
    proj["mcpContextUris"] = nlohmann::ordered_json::array();
    nlohmann::ordered_json ps = nlohmann::ordered_json::object();
    if (p % 4 == 0) {
      ps[words(rng, 1) + "-p" + std::to_string(p)] = server(rng, p, false);
    }
    proj["mcpServers"] = ps;
    proj["enabledMcpjsonServers"] = nlohmann::ordered_json::array();
    proj["disabledMcpjsonServers"] = nlohmann::ordered_json::array();
    proj["hasTrustDialogAccepted"] = true;
    proj["projectOnboardingSeenCount"] = 1 + rng.below(4);
    proj["lastCost"] = static_cast<double>(rng.below(100000)) / 1000.0;
    proj["lastAPIDuration"] = rng.below(900000);
    proj["lastDuration"] = rng.below(9000000);
    proj["lastSessionId"] = hex(rng, 8) + "-" + hex(rng, 4) + "-" +
                            hex(rng, 4) + "-" + hex(rng, 4) + "-" +
                            hex(rng, 12);
    const std::string name =
        "/home/user/src/" + words(rng, 1) + "-" + std::to_string(p);
    approx += proj.dump(2).size() + name.size() + 8;
    projects[name] = proj;
  }
  doc["projects"] = projects;
  return doc.dump(2) + "\n";
}

// The document with its revision marker set to `rev` (eight digits).
inline std::string with_rev(std::string doc, std::uint64_t rev) {
  const auto at = doc.find(k_rev_marker);
  if (at == std::string::npos) {
    throw std::runtime_error("no revision marker");
  }
  char digits[16];
  std::snprintf(digits, sizeof digits, "%08llu",
                static_cast<unsigned long long>(rev % 100000000));
  doc.replace(at + k_rev_marker.size(), 8, digits);
  return doc;
}

} // namespace mcpbk::bench
