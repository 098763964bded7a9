#include <common/hosts.hpp>
#include <common/mcp.hpp>
#include <common/process.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <tests/unit/scratch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

using namespace mcpbk;
namespace fs = std::filesystem;

namespace {

const WatchTarget *find_target(const std::vector<WatchTarget> &targets,
                               const fs::path &path) {
  for (const auto &target : targets) {
    if (target.path == path) {
      return &target;
    }
  }
  return nullptr;
}

std::vector<std::string> hosts_of(const std::vector<WatchTarget> &targets) {
  std::vector<std::string> out;
  for (const auto &target : targets) {
    if (std::find(out.begin(), out.end(), target.host) == out.end()) {
      out.push_back(target.host);
    }
  }
  return out;
}

bool any_path_contains(const std::vector<WatchTarget> &targets,
                       const std::string &part) {
  return std::any_of(targets.begin(), targets.end(), [&](const auto &t) {
    return t.path.string().find(part) != std::string::npos;
  });
}

} // namespace

TEST_CASE("host_catalog") {
  const std::vector<std::string> expected = {"claude-desktop",
                                             "claude-code",
                                             "vscode",
                                             "vscode-insiders",
                                             "cursor",
                                             "lmstudio",
                                             "gemini",
                                             "windsurf",
                                             "zed",
                                             "codex",
                                             "cline",
                                             "roo-code",
                                             "continue",
                                             "goose",
                                             "amazon-q",
                                             "kiro",
                                             "opencode",
                                             "junie",
                                             "copilot-cli",
                                             "copilot-jetbrains"};
  std::vector<std::string> names;
  for (const HostDef &host : host_catalog()) {
    names.emplace_back(host.name);
  }
  CHECK(names == expected);

  SUBCASE("every host has files on every OS and process names") {
    for (const HostDef &host : host_catalog()) {
      for (unsigned os : {os_linux, os_macos, os_windows}) {
        bool has =
            std::any_of(host.files.begin(), host.files.end(),
                        [os](const FileRule &r) { return r.os_mask & os; });
        CHECK_MESSAGE(has, host.name, " os bit ", os);
      }
      CHECK_MESSAGE(!host.process_names.empty(), host.name);
      CHECK_MESSAGE(!host.display_name.empty(), host.name);
      for (const FileRule &rule : host.files) {
        CHECK_MESSAGE(!rule.mcp_locations.empty(), rule.pattern);
      }
    }
  }

  SUBCASE("default triggers") {
    for (const char *name :
         {"claude-desktop", "claude-code", "vscode", "vscode-insiders",
          "gemini", "zed", "codex", "continue", "goose", "opencode"}) {
      CHECK_MESSAGE(find_host(name)->default_trigger == Trigger::mcp, name);
    }
    for (const char *name :
         {"cursor", "lmstudio", "windsurf", "cline", "roo-code", "amazon-q",
          "kiro", "junie", "copilot-cli", "copilot-jetbrains"}) {
      CHECK_MESSAGE(find_host(name)->default_trigger == Trigger::any, name);
    }
  }
}

TEST_CASE("restore_locations_of") {
  WatchTarget target;
  target.host = "vscode";
  target.mcp_locations = {"servers"};
  CHECK(restore_locations_of(target) == "servers inputs");
  target.host = "vscode-insiders";
  target.mcp_locations = {"mcp.servers"};
  CHECK(restore_locations_of(target) == "mcp.servers mcp.inputs");
  // Other hosts put back their server maps only.
  target.host = "copilot-jetbrains";
  target.mcp_locations = {"servers"};
  CHECK(restore_locations_of(target) == "servers");
  target.host = "claude-code";
  target.mcp_locations = {"mcpServers", "projects.*.mcpServers"};
  CHECK(restore_locations_of(target) == "mcpServers projects.*.mcpServers");
}

TEST_CASE("find_host") {
  REQUIRE(find_host("codex") != nullptr);
  CHECK(find_host("codex")->display_name == "OpenAI Codex");
  CHECK(find_host("codex")->files.front().format == Format::toml);
  CHECK(find_host("nope") == nullptr);
  CHECK(find_host("") == nullptr);
}

TEST_CASE("expand_pattern") {
  Env env = Env::from_map(
      {{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "/xdg"}, {"EMPTY", ""}});
  CHECK(expand_pattern("~/.cursor/mcp.json", env) ==
        "/home/u/.cursor/mcp.json");
  CHECK(expand_pattern("~", env) == "/home/u");
  CHECK(expand_pattern("a~/b", env) == "a~/b");
  CHECK(expand_pattern("${XDG_CONFIG_HOME:-~/.config}/zed", env) == "/xdg/zed");
  CHECK(expand_pattern("${NOPE:-~/.config}/zed", env) == "/home/u/.config/zed");
  CHECK(expand_pattern("${EMPTY:-/d}/x", env) == "/d/x");
  CHECK(expand_pattern("${A:-${B:-${XDG_CONFIG_HOME}/in}/mid}/end", env) ==
        "/xdg/in/mid/end");
  CHECK(expand_pattern("${NOPE}/x", env) == std::nullopt);
  CHECK(expand_pattern("${A:-${NOPE}}/x", env) == std::nullopt);
  CHECK(expand_pattern("/p/*/mcp.json", env) == "/p/*/mcp.json");
  CHECK(expand_pattern("${unclosed", env) == "${unclosed");
}

TEST_CASE("claude_code_config_path") {
  CHECK(claude_code_config_path(Env::from_map({{"HOME", "/h"}})) ==
        fs::path("/h/.claude.json"));
  CHECK(claude_code_config_path(
            Env::from_map({{"HOME", "/h"}, {"CLAUDE_CONFIG_DIR", "/c"}})) ==
        fs::path("/c/.claude.json"));
  // Both files count with CLAUDE_CONFIG_DIR set; the one meant first.
  CHECK(claude_code_config_paths(Env::from_map({{"HOME", "/h"}})) ==
        std::vector<fs::path>{"/h/.claude.json"});
  CHECK(claude_code_config_paths(
            Env::from_map({{"HOME", "/h"}, {"CLAUDE_CONFIG_DIR", "/c"}})) ==
        std::vector<fs::path>{"/c/.claude.json", "/h/.claude.json"});
  CHECK(claude_code_config_paths(
            Env::from_map({{"HOME", "/h"}, {"CLAUDE_CONFIG_DIR", "/h/"}})) ==
        std::vector<fs::path>{"/h/.claude.json"});
}

TEST_CASE("project_root_of") {
  CHECK(project_root_of("claude-code", "/w/p/.mcp.json") == fs::path("/w/p"));
  CHECK(project_root_of("cursor", "/w/p/.cursor/mcp.json") == fs::path("/w/p"));
  CHECK(project_root_of("cursor", "/w/p/./.cursor/../.cursor/mcp.json") ==
        fs::path("/w/p"));
  // Another host's project file, or no project file at all.
  CHECK(project_root_of("vscode", "/w/p/.cursor/mcp.json") == std::nullopt);
  CHECK(project_root_of("cursor", "/w/p/cursor/mcp.json") == std::nullopt);
  CHECK(project_root_of("cursor", "/w/p/.cursor/mcp.jsonc") == std::nullopt);
  CHECK(project_root_of("nope", "/w/p/.mcp.json") == std::nullopt);
  // Nothing is left for a root.
  CHECK(project_root_of("cursor", "/.cursor/mcp.json") == std::nullopt);
}

namespace {

// claude_projects_from(text), after checking that the capture's one parse
// of ~/.claude.json (extract_mcp_and_projects) lists the same projects and
// finds the same servers as extract_mcp.
std::vector<fs::path> projects_of(std::string_view text) {
  const std::string_view locations = "mcpServers projects.*.mcpServers";
  std::vector<fs::path> from_capture{"/left/over"};
  const McpView view = extract_mcp_and_projects(text, locations, from_capture);
  const McpView alone = extract_mcp(text, Format::json, locations);
  CHECK(view.parsed == alone.parsed);
  CHECK(view.servers == alone.servers);
  auto projects = claude_projects_from(text);
  CHECK(from_capture == projects);
  return projects;
}

} // namespace

TEST_CASE("claude_projects_from, and from the capture's parse") {
  CHECK(projects_of(R"({"projects": {"/a": {}, "rel/b": {},
      "/c/d": {"mcpServers": {}}}, "x": 1})") ==
        std::vector<fs::path>{"/a", "/c/d"});
  CHECK(projects_of(R"({"numStartups": 1})").empty());
  CHECK(projects_of(R"({"projects": []})").empty());
  CHECK(projects_of("{ truncated").empty());
  CHECK(projects_of("").empty());
  // Strict JSON, as Claude Code writes it: a comment makes it unreadable.
  CHECK(projects_of(R"({"projects": {"/a": {}}} // note)").empty());
  // Any value under a project, escapes in a key, and the key the reader's
  // location names (projects.*.\x01) inside a project.
  CHECK(projects_of(
            R"({"projects": {"/caf\u00e9": 3, "/n": null, "/l": [1, {}],)"
            R"( "/x": {"\u0001": [1, 2], "history": [{"display": "}"}]}}})") ==
        std::vector<fs::path>{"/caf\xC3\xA9", "/l", "/n", "/x"});

  // A number too large for 64 bits: strict JSON, read whichever reader
  // takes it.
  CHECK(
      projects_of(
          R"({"projects": {"/big": {"n": 123456789012345678901234567890}}})") ==
      std::vector<fs::path>{"/big"});

  SUBCASE("the same keys as reading the whole document") {
    nlohmann::json doc = {{"numStartups", 12},
                          {"projects", nlohmann::json::object()}};
    for (int i = 0; i < 300; ++i) {
      nlohmann::json history = nlohmann::json::array();
      for (int j = 0; j < 20; ++j) {
        history.push_back(
            {{"display", "prompt \"" + std::to_string(j) + "\" {"},
             {"pastedContents", nlohmann::json::object()}});
      }
      nlohmann::json project = {{"allowedTools", nlohmann::json::array()},
                                {"history", history}};
      if (i % 4 == 0) {
        project["mcpServers"] = {{"s", {{"command", "npx"}}}};
      }
      doc["projects"]
         [(i % 7 == 0 ? "rel/" : "/home/me/p") + std::to_string(i)] = project;
    }
    const std::string text = doc.dump(2);
    std::vector<fs::path> expected;
    const nlohmann::json whole = nlohmann::json::parse(text);
    for (const auto &item : whole["projects"].items()) {
      if (fs::path(item.key()).is_absolute()) {
        expected.emplace_back(item.key());
      }
    }
    REQUIRE(expected.size() > 200);
    CHECK(projects_of(text) == expected);
  }
}

TEST_CASE("to_string(Scope)") {
  CHECK(std::string(to_string(Scope::user)) == "user");
  CHECK(std::string(to_string(Scope::project)) == "project");
  CHECK(std::string(to_string(Scope::custom)) == "custom");
}

TEST_CASE("resolve_targets") {
  const fs::path root = test::scratch_dir();
  const fs::path home = root / "home";
  fs::create_directories(home);
  Config config;

  SUBCASE("Linux with XDG, CODEX_HOME and CLAUDE_CONFIG_DIR") {
    const fs::path xdg = root / "xdg";
    test::write_file(xdg / "Code/User/profiles/p1/mcp.json", "{}");
    test::write_file(home / ".gemini/extensions/ext1/gemini-extension.json",
                     "{}");
    test::write_file(home / ".kiro/agents/a.json", "{}");
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()},
                               {"XDG_CONFIG_HOME", xdg.string()},
                               {"CODEX_HOME", (root / "codex").string()},
                               {"CLAUDE_CONFIG_DIR", (root / "cc").string()}});
    auto targets = resolve_targets(input);

    CHECK(std::is_sorted(targets.begin(), targets.end(),
                         [](auto &a, auto &b) { return a.path < b.path; }));
    CHECK(hosts_of(targets).size() == host_catalog().size());

    const WatchTarget *desktop =
        find_target(targets, xdg / "Claude/claude_desktop_config.json");
    REQUIRE(desktop);
    CHECK(desktop->host == "claude-desktop");
    CHECK(desktop->format == Format::json);
    CHECK(desktop->mcp_locations == std::vector<std::string>{"mcpServers"});
    CHECK(desktop->trigger == Trigger::mcp);
    CHECK(desktop->scope == Scope::user);

    const WatchTarget *claude = find_target(targets, home / ".claude.json");
    REQUIRE(claude);
    CHECK(claude->mcp_locations ==
          std::vector<std::string>{"mcpServers", "projects.*.mcpServers"});
    CHECK(find_target(targets, root / "cc/.claude.json"));

    const WatchTarget *vscode =
        find_target(targets, xdg / "Code/User/mcp.json");
    REQUIRE(vscode);
    CHECK(vscode->host == "vscode");
    CHECK(vscode->format == Format::jsonc);
    CHECK(vscode->mcp_locations == std::vector<std::string>{"servers"});
    const WatchTarget *legacy =
        find_target(targets, xdg / "Code/User/settings.json");
    REQUIRE(legacy);
    CHECK(legacy->mcp_locations == std::vector<std::string>{"mcp.servers"});
    CHECK(find_target(targets, xdg / "Code/User/profiles/p1/mcp.json"));
    CHECK(find_target(targets, xdg / "Code - Insiders/User/mcp.json")->host ==
          "vscode-insiders");

    const WatchTarget *codex = find_target(targets, root / "codex/config.toml");
    REQUIRE(codex);
    CHECK(codex->format == Format::toml);
    CHECK(codex->mcp_locations == std::vector<std::string>{"mcp_servers"});
    CHECK_FALSE(find_target(targets, home / ".codex/config.toml"));

    CHECK(find_target(targets, xdg / "zed/settings.json")->mcp_locations ==
          std::vector<std::string>{"context_servers"});
    CHECK(find_target(targets, xdg / "goose/config.yaml")->format ==
          Format::yaml);
    CHECK(find_target(targets, home / ".continue/config.yaml")->host ==
          "continue");
    CHECK(find_target(targets, home / ".continue/config.json")->mcp_locations ==
          std::vector<std::string>{"experimental.modelContextProtocolServers"});
    CHECK(find_target(targets, xdg / "opencode/opencode.json")->mcp_locations ==
          std::vector<std::string>{"mcp"});
    CHECK(find_target(targets, home / ".lmstudio/mcp.json")->host ==
          "lmstudio");
    CHECK(find_target(targets,
                      home / ".cline/data/settings/cline_mcp_settings.json"));
    // Cline and Roo Code in VS Code's forks keep their own globalStorage.
    CHECK(find_target(targets, xdg / "Cursor/User/globalStorage/"
                                     "saoudrizwan.claude-dev/settings/"
                                     "cline_mcp_settings.json")
              ->host == "cline");
    CHECK(find_target(targets, xdg / "Windsurf/User/globalStorage/"
                                     "rooveterinaryinc.roo-cline/settings/"
                                     "mcp_settings.json")
              ->host == "roo-code");
    CHECK(find_target(targets,
                      home / ".gemini/extensions/ext1/gemini-extension.json"));
    CHECK(find_target(targets, home / ".kiro/agents/a.json")->host == "kiro");
    CHECK(find_target(targets, home / ".copilot/mcp-config.json")->host ==
          "copilot-cli");
    // Globs give only existing matches; env-only rules need their variable.
    CHECK_FALSE(any_path_contains(targets, "*"));
    CHECK_FALSE(any_path_contains(targets, "user-data"));
    CHECK_FALSE(any_path_contains(targets, "Library"));
    CHECK_FALSE(any_path_contains(targets, "AppData"));
    for (const auto &target : targets) {
      CHECK_MESSAGE(target.path.is_absolute(), target.path);
      CHECK_MESSAGE(target.path == target.path.lexically_normal(), target.path);
    }
  }

  SUBCASE("Linux defaults without XDG_CONFIG_HOME; host overrides") {
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env =
        Env::from_map({{"HOME", home.string()},
                       {"VSCODE_APPDATA", (root / "vsc").string()},
                       {"FLATPAK_XDG_CONFIG_HOME", (root / "flatpak").string()},
                       {"GEMINI_CLI_HOME", (root / "gem").string()},
                       {"CLINE_DIR", (root / "cline").string()},
                       {"CONTINUE_GLOBAL_DIR", (root / "cont").string()},
                       {"GOOSE_PATH_ROOT", (root / "goose").string()},
                       {"OPENCODE_CONFIG", (root / "oc/custom.jsonc").string()},
                       {"COPILOT_HOME", (root / "cop").string()},
                       {"VSCODE_PORTABLE", (root / "portable").string()}});
    auto targets = resolve_targets(input);
    CHECK(find_target(targets,
                      home / ".config/Claude/claude_desktop_config.json"));
    CHECK(find_target(targets, root / "vsc/Code/User/mcp.json"));
    CHECK(find_target(targets, root / "portable/user-data/User/mcp.json"));
    CHECK(find_target(targets, root / "flatpak/zed/settings.json"));
    CHECK(find_target(targets, root / "gem/.gemini/settings.json"));
    CHECK(find_target(targets,
                      root / "cline/data/settings/cline_mcp_settings.json"));
    CHECK(find_target(targets, root / "cont/config.yaml"));
    CHECK(find_target(targets, root / "goose/config/config.yaml"));
    CHECK(find_target(targets, root / "oc/custom.jsonc")->host == "opencode");
    CHECK(find_target(targets, root / "cop/mcp-config.json"));
    CHECK(find_target(targets, home / ".config/opencode/opencode.json"));
    CHECK(find_target(targets, root / "vsc/Code/User/globalStorage/"
                                      "rooveterinaryinc.roo-cline/settings/"
                                      "mcp_settings.json")
              ->host == "roo-code");
  }

  SUBCASE("CLINE_MCP_SETTINGS_PATH names the file") {
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map(
        {{"HOME", home.string()},
         {"CLINE_MCP_SETTINGS_PATH", (root / "c/mcp.json").string()},
         {"CLINE_DIR", (root / "ignored").string()}});
    auto targets = resolve_targets(input);
    CHECK(find_target(targets, root / "c/mcp.json")->host == "cline");
    CHECK_FALSE(any_path_contains(targets, "ignored"));
  }

  SUBCASE("macOS") {
    ResolveInput input;
    input.config = &config;
    input.os = Os::macos;
    input.env = Env::from_map({{"HOME", home.string()}});
    auto targets = resolve_targets(input);
    const fs::path support = home / "Library/Application Support";
    CHECK(find_target(targets, support / "Claude/claude_desktop_config.json"));
    CHECK(find_target(targets, support / "Code/User/mcp.json"));
    CHECK(find_target(targets, support / "Code - Insiders/User/mcp.json"));
    // Zed and Goose use ~/.config on macOS.
    CHECK(find_target(targets, home / ".config/zed/settings.json"));
    CHECK(find_target(targets, home / ".config/goose/config.yaml"));
    CHECK(find_target(targets, home / ".cursor/mcp.json"));
    CHECK(find_target(targets, home / ".codex/config.toml"));
    CHECK_FALSE(any_path_contains(targets, "AppData"));
    CHECK_FALSE(any_path_contains(targets, ".vscode-server"));
  }

  SUBCASE("Windows with APPDATA, LOCALAPPDATA and USERPROFILE") {
    const fs::path roaming = home / "AppData/Roaming";
    const fs::path local = home / "AppData/Local";
    const fs::path msix = local /
                          "Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/"
                          "Claude/claude_desktop_config.json";
    test::write_file(msix, "{}");
    ResolveInput input;
    input.config = &config;
    input.os = Os::windows;
    input.env = Env::from_map({{"HOME", (root / "msys-home").string()},
                               {"USERPROFILE", home.string()},
                               {"APPDATA", roaming.string()},
                               {"LOCALAPPDATA", local.string()}});
    auto targets = resolve_targets(input);
    CHECK(find_target(targets, roaming / "Claude/claude_desktop_config.json"));
    CHECK(find_target(targets, msix)->host == "claude-desktop");
    CHECK(find_target(targets, roaming / "Code/User/mcp.json"));
    CHECK(find_target(targets, roaming / "Zed/settings.json"));
    CHECK(find_target(targets, roaming / "Block/goose/config/config.yaml"));
    CHECK(find_target(targets, local / "github-copilot/intellij/mcp.json"));
    // "~" is %USERPROFILE% on Windows.
    CHECK(find_target(targets, home / ".claude.json"));
    CHECK(find_target(targets, home / ".cursor/mcp.json"));
    CHECK(find_target(targets, home / ".lmstudio/mcp.json"));
    CHECK_FALSE(any_path_contains(targets, "msys-home"));
    CHECK_FALSE(any_path_contains(targets, "Library"));
  }

  SUBCASE("Windows without APPDATA falls back under USERPROFILE") {
    ResolveInput input;
    input.config = &config;
    input.os = Os::windows;
    input.env = Env::from_map({{"USERPROFILE", home.string()}});
    auto targets = resolve_targets(input);
    CHECK(find_target(targets, home / "AppData/Roaming/Code/User/mcp.json"));
  }

  SUBCASE("disabled hosts produce nothing; trigger overrides apply") {
    config.hosts["cursor"] = HostSettings{false, std::nullopt};
    config.hosts["claude-code"] = HostSettings{true, Trigger::any};
    config.watch.paths.push_back({"~/x/.cursor/mcp.json", "cursor"});
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()}});
    fs::create_directories(home / "proj/.cursor");
    input.claude_projects = {home / "proj"};
    auto targets = resolve_targets(input);
    auto names = hosts_of(targets);
    CHECK(std::find(names.begin(), names.end(), "cursor") == names.end());
    CHECK(find_target(targets, home / ".claude.json")->trigger == Trigger::any);
    CHECK(find_target(targets, home / "proj/.mcp.json")->trigger ==
          Trigger::any);
  }

  SUBCASE("a null config means every host with its defaults") {
    ResolveInput input;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()}});
    auto targets = resolve_targets(input);
    CHECK(hosts_of(targets).size() == host_catalog().size());
  }

  SUBCASE("watch.paths globs, plain paths, formats and locations") {
    test::write_file(home / "code/a/.mcp.json", "{}");
    test::write_file(home / "code/b/.mcp.json", "{}");
    fs::create_directories(home / "code/c");
    test::write_file(home / "code/[odd]/.mcp.json", "{}");
    config.watch.paths = {
        {"~/code/*/.mcp.json", "claude-code"}, {"~/notes/mcp.toml", "codex"},
        {"~/ws/.vscode/mcp.json", "vscode"},   {"~/cfg/goose.yml", "goose"},
        {"~/misc/*.json", "claude-code"},      {"~/other.json", "no-such-host"},
    };
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()}});
    auto targets = resolve_targets(input);

    for (const char *dir : {"a", "b", "[odd]"}) {
      const WatchTarget *t =
          find_target(targets, home / "code" / dir / ".mcp.json");
      REQUIRE_MESSAGE(t, dir);
      CHECK(t->host == "claude-code");
      CHECK(t->scope == Scope::custom);
      CHECK(t->format == Format::json);
      CHECK(t->mcp_locations ==
            std::vector<std::string>{"mcpServers", "projects.*.mcpServers"});
    }
    CHECK_FALSE(find_target(targets, home / "code/c/.mcp.json"));

    const WatchTarget *toml = find_target(targets, home / "notes/mcp.toml");
    REQUIRE(toml);
    CHECK(toml->format == Format::toml);
    CHECK(toml->mcp_locations == std::vector<std::string>{"mcp_servers"});

    const WatchTarget *vsc = find_target(targets, home / "ws/.vscode/mcp.json");
    REQUIRE(vsc);
    CHECK(vsc->format == Format::jsonc);
    CHECK(vsc->mcp_locations == std::vector<std::string>{"servers"});

    const WatchTarget *goose = find_target(targets, home / "cfg/goose.yml");
    REQUIRE(goose);
    CHECK(goose->format == Format::yaml);
    CHECK(goose->mcp_locations == std::vector<std::string>{"extensions"});

    CHECK_FALSE(any_path_contains(targets, "misc"));
    CHECK_FALSE(find_target(targets, home / "other.json"));
  }

  SUBCASE("project files under Claude projects and watch.project_roots") {
    const fs::path p1 = root / "p1";
    test::write_file(p1 / ".mcp.json", "{}");
    fs::create_directories(p1 / ".cursor");
    test::write_file(p1 / ".codex/config.toml", "");
    test::write_file(home / "src/x/.vscode/mcp.json", "{}");
    fs::create_directories(home / "src/y");
    test::write_file(home / "src/file.txt", "");
    config.watch.project_roots = {"~/src/*", "~/missing"};
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()}});
    input.claude_projects = {p1, root / "gone", "relative/p"};
    auto targets = resolve_targets(input);

    const WatchTarget *mcp = find_target(targets, p1 / ".mcp.json");
    REQUIRE(mcp);
    CHECK(mcp->host == "claude-code");
    CHECK(mcp->scope == Scope::project);
    CHECK(mcp->trigger == Trigger::mcp);
    // The directory exists, so a new file is seen when created.
    CHECK(find_target(targets, p1 / ".cursor/mcp.json")->host == "cursor");
    CHECK(find_target(targets, p1 / ".codex/config.toml")->format ==
          Format::toml);
    CHECK(find_target(targets, p1 / "opencode.json")->host == "opencode");
    CHECK_FALSE(find_target(targets, p1 / ".vscode/mcp.json"));
    CHECK_FALSE(any_path_contains(targets, "gone"));
    CHECK_FALSE(any_path_contains(targets, "relative"));

    const WatchTarget *vsc =
        find_target(targets, home / "src/x/.vscode/mcp.json");
    REQUIRE(vsc);
    CHECK(vsc->host == "vscode");
    CHECK(vsc->format == Format::jsonc);
    CHECK(find_target(targets, home / "src/y/.mcp.json"));
    CHECK_FALSE(any_path_contains(targets, "file.txt"));
  }

  SUBCASE("a project root at home keeps the user scope of user files") {
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()}});
    fs::create_directories(home / ".gemini");
    input.claude_projects = {home};
    auto targets = resolve_targets(input);
    const WatchTarget *gemini =
        find_target(targets, home / ".gemini/settings.json");
    REQUIRE(gemini);
    CHECK(gemini->scope == Scope::user);
    CHECK(std::count_if(targets.begin(), targets.end(), [&](auto &t) {
            return t.path == home / ".gemini/settings.json";
          }) == 1);
    CHECK(find_target(targets, home / ".mcp.json")->scope == Scope::project);
  }

  SUBCASE("LM Studio home") {
    ResolveInput input;
    input.config = &config;
    input.os = Os::gnu_linux;
    input.env = Env::from_map({{"HOME", home.string()}});

    auto lms_path = [&]() -> fs::path {
      for (const auto &t : resolve_targets(input)) {
        if (t.host == "lmstudio") {
          return t.path;
        }
      }
      return {};
    };
    CHECK(lms_path() == home / ".lmstudio/mcp.json");
    fs::create_directories(home / ".cache/lm-studio");
    CHECK(lms_path() == home / ".cache/lm-studio/mcp.json");
    test::write_file(home / ".lmstudio-home-pointer",
                     "  " + (root / "models/lms").string() + "\n");
    CHECK(lms_path() == root / "models/lms/mcp.json");
  }
}

TEST_CASE("running_processes") {
#if defined(__linux__)
  // This test's own process, by its comm (at most 15 characters).
  std::ifstream in("/proc/self/comm");
  std::string self;
  std::getline(in, self);
  REQUIRE_FALSE(self.empty());
  const std::string_view names[] = {"no-such-process-mcpbk", self, self};
  const auto running = running_processes(names);
  REQUIRE(running.size() == 1);
  CHECK(running[0] == self);
  const std::string_view none[] = {"no-such-process-mcpbk"};
  CHECK(running_processes(none).empty());
#endif
}

TEST_CASE("resolve_watch: where new files to protect can appear") {
  const fs::path root = test::scratch_dir();
  // Glob characters in the home directory match only themselves.
  const fs::path home = root / "h[1]*";
  const fs::path xdg = root / "xdg";
  test::write_file(home / "code/a/.mcp.json", "{}");
  fs::create_directories(home / "code/c");
  test::write_file(home / "code/file.txt", "");
  test::write_file(xdg / "Code/User/profiles/p1/settings.json", "{}");
  const fs::path p1 = root / "p1";
  fs::create_directories(p1 / ".cursor");
  fs::create_directories(home / "src/y");
  Config config;
  config.watch.paths = {{"~/code/*/.mcp.json", "claude-code"}};
  config.watch.project_roots = {"~/src/*", "~/missing/deeper", "~/work/"};
  ResolveInput input;
  input.config = &config;
  input.os = Os::gnu_linux;
  input.env = Env::from_map(
      {{"HOME", home.string()}, {"XDG_CONFIG_HOME", xdg.string()}});
  input.claude_projects = {p1};

  const Resolution resolved = resolve_watch(input);
  CHECK(resolved.targets == resolve_targets(input));
  const auto &d = resolved.discovery;
  CHECK(std::is_sorted(d.begin(), d.end()));
  CHECK(std::adjacent_find(d.begin(), d.end()) == d.end());
  auto has = [&](const fs::path &dir, const std::string &name) {
    return std::find(d.begin(), d.end(), DiscoveryDir{dir, name}) != d.end();
  };
  // watch.paths: the directory before the glob, and each existing match.
  CHECK(has(home / "code", "*"));
  CHECK(has(home / "code/a", ".mcp.json"));
  CHECK(has(home / "code/c", ".mcp.json"));
  CHECK_FALSE(has(home / "code/file.txt", ".mcp.json"));
  // Host rules: a VS Code profile, Continue's directory not made yet.
  CHECK(has(xdg / "Code/User/profiles", "*"));
  CHECK(has(xdg / "Code/User/profiles/p1", "mcp.json"));
  CHECK(has(home / ".continue/mcpServers", "*.yaml"));
  // Project roots: new roots, a missing root, a host directory not made yet
  // (one that exists gives a target instead).
  CHECK(has(home / "src", "*"));
  CHECK(has(home / "missing", "deeper"));
  CHECK(has(home, "work"));
  CHECK(has(p1, ".vscode"));
  CHECK(has(home / "src/y", ".vscode"));
  CHECK_FALSE(has(p1, ".cursor"));
  CHECK(
      std::any_of(resolved.targets.begin(), resolved.targets.end(),
                  [&](auto &t) { return t.path == p1 / ".cursor/mcp.json"; }));

  SUBCASE("discovers") {
    const DiscoveryDir any{home / "src", "*"};
    CHECK(discovers(any, "app"));
    CHECK_FALSE(discovers(any, ".hidden"));
    const DiscoveryDir yaml{home / ".continue/mcpServers", "*.yaml"};
    CHECK(discovers(yaml, "s.yaml"));
    CHECK_FALSE(discovers(yaml, "s.yaml.tmp"));
    const DiscoveryDir dot{p1, ".vscode"};
    CHECK(discovers(dot, ".vscode"));
    CHECK_FALSE(discovers(dot, ".vscode2"));
    CHECK(discovers({root, "\\[odd\\]"}, "[odd]"));
    CHECK_FALSE(discovers({root, "\\[odd\\]"}, "o"));
  }
}
