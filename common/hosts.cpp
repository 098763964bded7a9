#include <common/hosts.hpp>

#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <system_error>

namespace fs = std::filesystem;

namespace mcpbk {

namespace {

// The VS Code-family user directory (<VSC> of shared/hosts.md §3.3) per OS.
// VSCODE_PORTABLE has rules of its own: it redirects to
// "<dir>/user-data/User", which a ${VAR:-default} cannot express.
#define MCPBK_VSC_LINUX "${VSCODE_APPDATA:-${XDG_CONFIG_HOME:-~/.config}}"
#define MCPBK_VSC_MACOS "${VSCODE_APPDATA:-~/Library/Application Support}"
#define MCPBK_VSC_WINDOWS "${VSCODE_APPDATA:-${APPDATA:-~/AppData/Roaming}}"
#define MCPBK_APPDATA "${APPDATA:-~/AppData/Roaming}"
#define MCPBK_LOCALAPPDATA "${LOCALAPPDATA:-~/AppData/Local}"

// Lower-case ${...} names are not read from the environment: resolve_targets
// computes them (see computed_env). ${lmstudio_home} is LM Studio's home,
// found through its pointer file (shared/hosts.md §3.5).
constexpr std::string_view k_lmstudio_home_var = "lmstudio_home";

// A path under the <VSC> directory of a VS Code-family product ("Code",
// "Code - Insiders"), as one string literal.
#define MCPBK_VSC(dir, product, relative) dir "/" product "/User/" relative

// Extension files in VS Code's globalStorage, of each VS Code-family
// product (forks such as Cursor and Windsurf too: shared/hosts.md §3.10).
#define MCPBK_CLINE_LEGACY                                                     \
  "globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
#define MCPBK_ROO_GLOBAL                                                       \
  "globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json"

std::vector<std::string_view> jetbrains_processes() {
  return {"idea",  "idea64",   "pycharm",  "webstorm", "goland", "clion",
          "rider", "phpstorm", "rubymine", "datagrip", "studio", "fleet"};
}

std::vector<HostDef> build_catalog() {
  std::vector<HostDef> hosts;

  hosts.push_back(HostDef{
      "claude-desktop",
      "Claude Desktop",
      Trigger::mcp,
      {
          {os_linux,
           "${XDG_CONFIG_HOME:-~/.config}/Claude/claude_desktop_config.json",
           Format::json, "mcpServers"},
          {os_macos,
           "~/Library/Application Support/Claude/claude_desktop_config.json",
           Format::json, "mcpServers"},
          {os_windows, MCPBK_APPDATA "/Claude/claude_desktop_config.json",
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_LOCALAPPDATA "/Packages/Claude_*/LocalCache/Roaming/Claude/"
                              "claude_desktop_config.json",
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_LOCALAPPDATA
           "/Claude-Data/claude_*/claude_desktop_config.json",
           Format::json, "mcpServers"},
      },
      {},
      {"Claude", "claude-desktop", "Claude.exe"},
  });

  // Where .claude.json lives with CLAUDE_CONFIG_DIR set depends on the Claude
  // Code version (shared/hosts.md §3.2), so both places are protected.
  hosts.push_back(HostDef{
      "claude-code",
      "Claude Code",
      Trigger::mcp,
      {
          {os_all, "~/.claude.json", Format::json,
           "mcpServers projects.*.mcpServers"},
          {os_all, "${CLAUDE_CONFIG_DIR}/.claude.json", Format::json,
           "mcpServers projects.*.mcpServers"},
      },
      {{".mcp.json", Format::json, "mcpServers"}},
      {"claude", "claude.exe"},
  });

  hosts.push_back(HostDef{
      "vscode",
      "VS Code",
      Trigger::mcp,
      {
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Code", "mcp.json"),
           Format::jsonc, "servers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Code", "profiles/*/mcp.json"),
           Format::jsonc, "servers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Code", "settings.json"),
           Format::jsonc, "mcp.servers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Code", "mcp.json"),
           Format::jsonc, "servers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Code", "profiles/*/mcp.json"),
           Format::jsonc, "servers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Code", "settings.json"),
           Format::jsonc, "mcp.servers"},
          {os_windows, MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code", "mcp.json"),
           Format::jsonc, "servers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code", "profiles/*/mcp.json"),
           Format::jsonc, "servers"},
          {os_windows, MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code", "settings.json"),
           Format::jsonc, "mcp.servers"},
          {os_all, "${VSCODE_PORTABLE}/user-data/User/mcp.json", Format::jsonc,
           "servers"},
          {os_all, "${VSCODE_PORTABLE}/user-data/User/profiles/*/mcp.json",
           Format::jsonc, "servers"},
          {os_all, "${VSCODE_PORTABLE}/user-data/User/settings.json",
           Format::jsonc, "mcp.servers"},
          {os_linux, "~/.vscode-server/data/User/mcp.json", Format::jsonc,
           "servers"},
      },
      {{".vscode/mcp.json", Format::jsonc, "servers"}},
      {"code", "Code", "Code.exe"},
  });

  hosts.push_back(HostDef{
      "vscode-insiders",
      "VS Code Insiders",
      Trigger::mcp,
      {
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Code - Insiders", "mcp.json"),
           Format::jsonc, "servers"},
          {os_linux,
           MCPBK_VSC(MCPBK_VSC_LINUX, "Code - Insiders", "profiles/*/mcp.json"),
           Format::jsonc, "servers"},
          {os_linux,
           MCPBK_VSC(MCPBK_VSC_LINUX, "Code - Insiders", "settings.json"),
           Format::jsonc, "mcp.servers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Code - Insiders", "mcp.json"),
           Format::jsonc, "servers"},
          {os_macos,
           MCPBK_VSC(MCPBK_VSC_MACOS, "Code - Insiders", "profiles/*/mcp.json"),
           Format::jsonc, "servers"},
          {os_macos,
           MCPBK_VSC(MCPBK_VSC_MACOS, "Code - Insiders", "settings.json"),
           Format::jsonc, "mcp.servers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code - Insiders", "mcp.json"),
           Format::jsonc, "servers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code - Insiders",
                     "profiles/*/mcp.json"),
           Format::jsonc, "servers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code - Insiders", "settings.json"),
           Format::jsonc, "mcp.servers"},
          {os_linux, "~/.vscode-server-insiders/data/User/mcp.json",
           Format::jsonc, "servers"},
      },
      {},
      {"code-insiders", "Code - Insiders", "Code - Insiders.exe"},
  });

  hosts.push_back(HostDef{
      "cursor",
      "Cursor",
      Trigger::any,
      {{os_all, "~/.cursor/mcp.json", Format::json, "mcpServers"}},
      {{".cursor/mcp.json", Format::json, "mcpServers"}},
      {"cursor", "Cursor", "Cursor.exe"},
  });

  hosts.push_back(HostDef{
      "lmstudio",
      "LM Studio",
      Trigger::any,
      {{os_all, "${lmstudio_home}/mcp.json", Format::json, "mcpServers"}},
      {},
      {"lm-studio", "LM Studio", "LM Studio.exe", "lms"},
  });

  hosts.push_back(HostDef{
      "gemini",
      "Gemini CLI",
      Trigger::mcp,
      {
          {os_all, "${GEMINI_CLI_HOME:-~}/.gemini/settings.json", Format::jsonc,
           "mcpServers"},
          {os_all,
           "${GEMINI_CLI_HOME:-~}/.gemini/extensions/*/gemini-extension.json",
           Format::json, "mcpServers"},
      },
      {{".gemini/settings.json", Format::jsonc, "mcpServers"}},
      {"gemini"},
  });

  hosts.push_back(HostDef{
      "windsurf",
      "Windsurf",
      Trigger::any,
      {
          {os_all, "~/.codeium/windsurf/mcp_config.json", Format::json,
           "mcpServers"},
          {os_all, "~/.codeium/windsurf-next/mcp_config.json", Format::json,
           "mcpServers"},
          {os_all, "~/.codeium/mcp_config.json", Format::json, "mcpServers"},
      },
      {},
      {"windsurf", "Windsurf", "Windsurf.exe", "windsurf-next"},
  });

  hosts.push_back(HostDef{
      "zed",
      "Zed",
      Trigger::mcp,
      {
          {os_linux,
           "${FLATPAK_XDG_CONFIG_HOME:-${XDG_CONFIG_HOME:-~/.config}}/zed/"
           "settings.json",
           Format::jsonc, "context_servers"},
          {os_macos, "~/.config/zed/settings.json", Format::jsonc,
           "context_servers"},
          {os_windows, MCPBK_APPDATA "/Zed/settings.json", Format::jsonc,
           "context_servers"},
      },
      {{".zed/settings.json", Format::jsonc, "context_servers"}},
      {"zed", "zed-editor", "zeditor", "Zed", "zed.exe"},
  });

  hosts.push_back(HostDef{
      "codex",
      "OpenAI Codex",
      Trigger::mcp,
      {{os_all, "${CODEX_HOME:-~/.codex}/config.toml", Format::toml,
        "mcp_servers"}},
      {{".codex/config.toml", Format::toml, "mcp_servers"}},
      {"codex", "codex.exe", "Codex"},
  });

  hosts.push_back(HostDef{
      "cline",
      "Cline",
      Trigger::any,
      {
          {os_all,
           "${CLINE_MCP_SETTINGS_PATH:-${CLINE_DATA_DIR:-${CLINE_DIR:-~/"
           ".cline}/data}/settings/cline_mcp_settings.json}",
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Code", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_linux,
           MCPBK_VSC(MCPBK_VSC_LINUX, "Code - Insiders", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "VSCodium", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Cursor", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Windsurf", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Code", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_macos,
           MCPBK_VSC(MCPBK_VSC_MACOS, "Code - Insiders", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "VSCodium", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Cursor", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Windsurf", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_windows, MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code - Insiders", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "VSCodium", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Cursor", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Windsurf", MCPBK_CLINE_LEGACY),
           Format::json, "mcpServers"},
          {os_all, "${VSCODE_PORTABLE}/user-data/User/" MCPBK_CLINE_LEGACY,
           Format::json, "mcpServers"},
          {os_all, "~/Documents/Cline/MCP/cline_mcp_settings.json",
           Format::json, "mcpServers"},
      },
      {},
      {"cline", "code", "Code.exe"},
  });

  hosts.push_back(HostDef{
      "roo-code",
      "Roo Code",
      Trigger::any,
      {
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Code", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_linux,
           MCPBK_VSC(MCPBK_VSC_LINUX, "Code - Insiders", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "VSCodium", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Cursor", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_linux, MCPBK_VSC(MCPBK_VSC_LINUX, "Windsurf", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Code", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_macos,
           MCPBK_VSC(MCPBK_VSC_MACOS, "Code - Insiders", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "VSCodium", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Cursor", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_macos, MCPBK_VSC(MCPBK_VSC_MACOS, "Windsurf", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_windows, MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Code - Insiders", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "VSCodium", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_windows, MCPBK_VSC(MCPBK_VSC_WINDOWS, "Cursor", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_windows,
           MCPBK_VSC(MCPBK_VSC_WINDOWS, "Windsurf", MCPBK_ROO_GLOBAL),
           Format::json, "mcpServers"},
          {os_all, "${VSCODE_PORTABLE}/user-data/User/" MCPBK_ROO_GLOBAL,
           Format::json, "mcpServers"},
      },
      {{".roo/mcp.json", Format::json, "mcpServers"}},
      {"code", "Code.exe"},
  });

  hosts.push_back(HostDef{
      "continue",
      "Continue",
      Trigger::mcp,
      {
          {os_all, "${CONTINUE_GLOBAL_DIR:-~/.continue}/config.yaml",
           Format::yaml, "mcpServers"},
          {os_all, "${CONTINUE_GLOBAL_DIR:-~/.continue}/config.json",
           Format::json, "experimental.modelContextProtocolServers"},
          {os_all, "${CONTINUE_GLOBAL_DIR:-~/.continue}/mcpServers/*.yaml",
           Format::yaml, "mcpServers"},
          {os_all, "${CONTINUE_GLOBAL_DIR:-~/.continue}/mcpServers/*.yml",
           Format::yaml, "mcpServers"},
          {os_all, "${CONTINUE_GLOBAL_DIR:-~/.continue}/mcpServers/*.json",
           Format::json, "mcpServers"},
      },
      {},
      {"cn", "code", "Code.exe"},
  });

  // GOOSE_PATH_ROOT redirects to "<root>/config/config.yaml", which a
  // ${VAR:-default} cannot express: both rules apply.
  hosts.push_back(HostDef{
      "goose",
      "Goose",
      Trigger::mcp,
      {
          {os_all, "${GOOSE_PATH_ROOT}/config/config.yaml", Format::yaml,
           "extensions"},
          {os_unix, "${XDG_CONFIG_HOME:-~/.config}/goose/config.yaml",
           Format::yaml, "extensions"},
          {os_windows, MCPBK_APPDATA "/Block/goose/config/config.yaml",
           Format::yaml, "extensions"},
      },
      {},
      {"goose", "Goose", "goosed", "Goose.exe"},
  });

  hosts.push_back(HostDef{
      "amazon-q",
      "Amazon Q Developer",
      Trigger::any,
      {
          {os_all, "~/.aws/amazonq/mcp.json", Format::json, "mcpServers"},
          {os_all, "~/.aws/amazonq/cli-agents/*.json", Format::json,
           "mcpServers"},
          {os_all, "~/.aws/amazonq/agents/default.json", Format::json,
           "mcpServers"},
      },
      {{".amazonq/mcp.json", Format::json, "mcpServers"}},
      {"q", "qchat", "amazon-q"},
  });

  hosts.push_back(HostDef{
      "kiro",
      "Kiro",
      Trigger::any,
      {
          {os_all, "~/.kiro/settings/mcp.json", Format::json, "mcpServers"},
          {os_all, "~/.kiro/agents/*.json", Format::json, "mcpServers"},
      },
      {{".kiro/settings/mcp.json", Format::json, "mcpServers"}},
      {"kiro", "Kiro", "kiro-cli", "Kiro.exe"},
  });

  // opencode accepts comments in all its files, so they are read as JSONC.
  hosts.push_back(HostDef{
      "opencode",
      "opencode",
      Trigger::mcp,
      {
          {os_all, "${OPENCODE_CONFIG}", Format::jsonc, "mcp"},
          {os_all, "${OPENCODE_CONFIG_DIR}/opencode.json", Format::jsonc,
           "mcp"},
          {os_all, "${OPENCODE_CONFIG_DIR}/opencode.jsonc", Format::jsonc,
           "mcp"},
          {os_all, "${XDG_CONFIG_HOME:-~/.config}/opencode/opencode.json",
           Format::jsonc, "mcp"},
          {os_all, "${XDG_CONFIG_HOME:-~/.config}/opencode/opencode.jsonc",
           Format::jsonc, "mcp"},
          {os_all, "${XDG_CONFIG_HOME:-~/.config}/opencode/config.json",
           Format::jsonc, "mcp"},
      },
      {
          {"opencode.json", Format::jsonc, "mcp"},
          {"opencode.jsonc", Format::jsonc, "mcp"},
      },
      {"opencode"},
  });

  hosts.push_back(HostDef{
      "junie",
      "JetBrains Junie",
      Trigger::any,
      {{os_all, "~/.junie/mcp/mcp.json", Format::json, "mcpServers"}},
      {{".junie/mcp/mcp.json", Format::json, "mcpServers"}},
      jetbrains_processes(),
  });

  hosts.push_back(HostDef{
      "copilot-cli",
      "GitHub Copilot CLI",
      Trigger::any,
      {{os_all, "${COPILOT_HOME:-~/.copilot}/mcp-config.json", Format::json,
        "mcpServers"}},
      {},
      {"copilot"},
  });

  hosts.push_back(HostDef{
      "copilot-jetbrains",
      "GitHub Copilot for JetBrains",
      Trigger::any,
      {
          {os_unix, "~/.config/github-copilot/intellij/mcp.json", Format::json,
           "servers"},
          {os_windows, MCPBK_LOCALAPPDATA "/github-copilot/intellij/mcp.json",
           Format::json, "servers"},
      },
      {},
      jetbrains_processes(),
  });

  return hosts;
}

#undef MCPBK_ROO_GLOBAL
#undef MCPBK_CLINE_LEGACY
#undef MCPBK_VSC
#undef MCPBK_LOCALAPPDATA
#undef MCPBK_APPDATA
#undef MCPBK_VSC_WINDOWS
#undef MCPBK_VSC_MACOS
#undef MCPBK_VSC_LINUX

// Backslash-escapes the characters glob() treats specially, so that a home
// directory or variable value containing them matches literally.
std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// The end of the "${...}" starting at `open` (the index of '$'): the index of
// its closing brace, or npos when unbalanced.
std::size_t closing_brace(std::string_view pattern, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < pattern.size(); ++i) {
    if (pattern[i] == '$' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (pattern[i] == '}') {
      if (--depth == 0) {
        return i;
      }
    }
  }
  return std::string_view::npos;
}

enum class GlobEscape { no, yes };

std::optional<std::string> expand(std::string_view pattern, const Env &env,
                                  GlobEscape escape) {
  auto value_text = [escape](std::string_view v) {
    return escape == GlobEscape::yes ? glob_escape(v) : std::string(v);
  };
  std::string out;
  std::size_t i = 0;
  if (!pattern.empty() && pattern[0] == '~' &&
      (pattern.size() == 1 || pattern[1] == '/' || pattern[1] == '\\')) {
    out += value_text(env.home().string());
    i = 1;
  }
  while (i < pattern.size()) {
    if (pattern[i] == '$' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      std::size_t close = closing_brace(pattern, i);
      if (close != std::string_view::npos) {
        std::string_view body = pattern.substr(i + 2, close - i - 2);
        std::size_t sep = body.find(":-");
        std::string_view name = body.substr(0, sep);
        if (auto value = env.get(name)) {
          out += value_text(*value);
        } else if (sep != std::string_view::npos) {
          auto fallback = expand(body.substr(sep + 2), env, escape);
          if (!fallback) {
            return std::nullopt;
          }
          out += *fallback;
        } else {
          return std::nullopt;
        }
        i = close + 1;
        continue;
      }
    }
    out += pattern[i];
    ++i;
  }
  return out;
}

bool has_glob_chars(std::string_view text) {
  return text.find_first_of("*?[") != std::string_view::npos;
}

// Existing paths matching a glob pattern (backslash escapes honoured).
std::vector<fs::path> glob_paths(const std::string &pattern) {
  std::vector<fs::path> out;
  glob_t result{};
  if (::glob(pattern.c_str(), 0, nullptr, &result) == 0) {
    for (std::size_t i = 0; i < result.gl_pathc; ++i) {
      out.emplace_back(result.gl_pathv[i]);
    }
  }
  ::globfree(&result);
  return out;
}

// Whether a component of an escaped pattern has a glob character that no
// backslash escapes.
bool has_unescaped_glob(std::string_view component) {
  for (std::size_t i = 0; i < component.size(); ++i) {
    if (component[i] == '\\') {
      ++i;
    } else if (component[i] == '*' || component[i] == '?' ||
               component[i] == '[') {
      return true;
    }
  }
  return false;
}

// An escaped pattern without glob characters as the path it names.
std::string glob_unescape(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      ++i;
    }
    out += pattern[i];
  }
  return out;
}

// Where a new entry could add a match to an absolute escaped glob pattern:
// the directory before its first glob component, and every existing
// directory matching a longer prefix of it, each with the pattern of the
// component that follows.
void add_glob_discovery(std::string_view pattern,
                        std::vector<DiscoveryDir> &out) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = pattern.find('/', start);
    parts.emplace_back(pattern.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  std::size_t first = 0;
  while (first < parts.size() && !has_unescaped_glob(parts[first])) {
    ++first;
  }
  if (first == 0 || first == parts.size() || !parts[0].empty()) {
    return; // not an absolute glob
  }
  std::string prefix;
  for (std::size_t i = 1; i < first; ++i) {
    prefix += "/" + parts[i];
  }
  const fs::path literal =
      prefix.empty() ? fs::path("/") : fs::path(glob_unescape(prefix));
  out.push_back({literal.lexically_normal(), parts[first]});
  for (std::size_t i = first; i + 1 < parts.size(); ++i) {
    prefix += "/" + parts[i];
    for (const fs::path &match : glob_paths(prefix)) {
      std::error_code ec;
      if (fs::is_directory(match, ec)) {
        out.push_back({match.lexically_normal(), parts[i + 1]});
      }
    }
  }
}

// Existence without following a final symlink: a dangling link is a file to
// protect too.
bool path_exists(const fs::path &path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

bool dir_exists(const fs::path &path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string trim(std::string text) {
  const char *ws = " \t\r\n";
  auto first = text.find_first_not_of(ws);
  if (first == std::string::npos) {
    return {};
  }
  auto last = text.find_last_not_of(ws);
  return text.substr(first, last - first + 1);
}

// LM Studio's home (shared/hosts.md §3.5): the path in ~/.lmstudio-home-pointer
// if that file exists, else ~/.cache/lm-studio if it is a directory, else
// ~/.lmstudio.
fs::path lmstudio_home(const Env &env) {
  fs::path home = env.home();
  std::ifstream pointer(home / ".lmstudio-home-pointer", std::ios::binary);
  std::string target;
  // The pointer file holds one path; leading blank lines are tolerated.
  while (pointer && std::getline(pointer, target)) {
    target = trim(std::move(target));
    if (!target.empty()) {
      return expand_home(target, env);
    }
  }
  if (dir_exists(home / ".cache" / "lm-studio")) {
    return home / ".cache" / "lm-studio";
  }
  return home / ".lmstudio";
}

// The environment patterns are expanded in: the caller's, with "~" meaning
// %USERPROFILE% on Windows, plus the computed lower-case variables.
Env computed_env(const Env &env, Os os) {
  Env out = env;
  if (os == Os::windows) {
    if (auto profile = env.get("USERPROFILE")) {
      out = out.with("HOME", *profile);
    }
  }
  out = out.with(std::string(k_lmstudio_home_var), lmstudio_home(out).string());
  return out;
}

unsigned os_bit(Os os) {
  switch (os) {
  case Os::gnu_linux:
    return os_linux;
  case Os::macos:
    return os_macos;
  case Os::windows:
    return os_windows;
  }
  return 0;
}

std::vector<std::string> split_locations(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > i) {
      out.emplace_back(text.substr(i, end - i));
    }
    i = end + 1;
  }
  return out;
}

bool json_family(Format format) {
  return format == Format::json || format == Format::jsonc;
}

Format format_from_extension(const fs::path &path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  if (ext == ".toml") {
    return Format::toml;
  }
  if (ext == ".yaml" || ext == ".yml") {
    return Format::yaml;
  }
  if (ext == ".jsonc") {
    return Format::jsonc;
  }
  return Format::json;
}

// Settles format and MCP locations of a user-added file of `host`: the first
// rule of the host in the same format family gives the locations (and JSONC
// when the host writes comments in its JSON files).
void apply_host_format(const HostDef &host, WatchTarget &target) {
  auto adopt = [&target](Format format, std::string_view locations) {
    if (json_family(target.format) && json_family(format)) {
      if (format == Format::jsonc) {
        target.format = Format::jsonc;
      }
    } else if (format != target.format) {
      return false;
    }
    target.mcp_locations = split_locations(locations);
    return true;
  };
  for (const FileRule &rule : host.files) {
    if (adopt(rule.format, rule.mcp_locations)) {
      return;
    }
  }
  for (const ProjectRule &rule : host.project_files) {
    if (adopt(rule.format, rule.mcp_locations)) {
      return;
    }
  }
  target.mcp_locations = {"mcpServers"};
}

struct EnabledHost {
  const HostDef *def;
  Trigger trigger;
};

std::vector<EnabledHost> enabled_hosts(const Config *config) {
  std::vector<EnabledHost> out;
  for (const HostDef &host : host_catalog()) {
    Trigger trigger = host.default_trigger;
    if (config) {
      auto it = config->hosts.find(std::string(host.name));
      if (it != config->hosts.end()) {
        if (!it->second.enabled) {
          continue;
        }
        trigger = it->second.trigger.value_or(host.default_trigger);
      }
    }
    out.push_back({&host, trigger});
  }
  return out;
}

// Every existing directory named by watch.project_roots ("~" and globs
// allowed); with `discovery`, also where a new root would appear.
std::vector<fs::path>
configured_project_roots(const Config *config, const Env &env,
                         std::vector<DiscoveryDir> *discovery) {
  std::vector<fs::path> out;
  if (!config) {
    return out;
  }
  for (const std::string &root : config->watch.project_roots) {
    auto expanded = expand(root, env, GlobEscape::yes);
    if (!expanded) {
      continue;
    }
    std::string literal = expand(root, env, GlobEscape::no).value_or("");
    const bool glob = has_glob_chars(root);
    if (discovery && glob) {
      add_glob_discovery(*expanded, *discovery);
    } else if (discovery && fs::path(literal).is_absolute() &&
               !dir_exists(literal)) {
      fs::path missing = fs::path(literal).lexically_normal();
      if (missing.filename().empty()) {
        missing = missing.parent_path(); // "~/work/"
      }
      discovery->push_back(
          {missing.parent_path(), glob_escape(missing.filename().string())});
    }
    std::vector<fs::path> candidates =
        glob ? glob_paths(*expanded) : std::vector<fs::path>{fs::path(literal)};
    for (const fs::path &candidate : candidates) {
      if (candidate.is_absolute() && dir_exists(candidate)) {
        out.push_back(candidate.lexically_normal());
      }
    }
  }
  return out;
}

} // namespace

const char *to_string(Scope scope) {
  switch (scope) {
  case Scope::user:
    return "user";
  case Scope::project:
    return "project";
  case Scope::custom:
    return "custom";
  }
  return "?";
}

std::span<const HostDef> host_catalog() {
  static const std::vector<HostDef> catalog = build_catalog();
  return catalog;
}

const HostDef *find_host(std::string_view name) {
  for (const HostDef &host : host_catalog()) {
    if (host.name == name) {
      return &host;
    }
  }
  return nullptr;
}

std::optional<std::string> expand_pattern(std::string_view pattern,
                                          const Env &env) {
  return expand(pattern, env, GlobEscape::no);
}

std::vector<std::string> unset_variables_in(const Config &config,
                                            const Env &env, Os os) {
  const Env full = computed_env(env, os);
  std::vector<std::string> out;
  const auto check = [&](const std::string &field, const std::string &text) {
    const auto expanded = expand(text, full, GlobEscape::no);
    if (!expanded) {
      out.push_back(field + ": \"" + text +
                    "\" names an environment variable that is not set "
                    "(in the daemon's environment); it is not watched");
    } else if (!fs::path(*expanded).is_absolute()) {
      out.push_back(field + ": \"" + text + "\" is \"" + *expanded +
                    "\" in the daemon's environment, not an absolute path; "
                    "it is not watched");
    }
  };
  for (std::size_t i = 0; i < config.watch.paths.size(); ++i) {
    const std::string field = "watch.paths[" + std::to_string(i) + "]";
    check(field + ".path", config.watch.paths[i].path);
    if (!config.watch.paths[i].host.empty() &&
        !config.host(config.watch.paths[i].host).enabled) {
      out.push_back(field + ": its host " + config.watch.paths[i].host +
                    " is disabled (hosts." + config.watch.paths[i].host +
                    ".enabled: false); it is not watched");
    }
  }
  for (std::size_t i = 0; i < config.watch.project_roots.size(); ++i) {
    check("watch.project_roots[" + std::to_string(i) + "]",
          config.watch.project_roots[i]);
  }
  return out;
}

fs::path claude_code_config_path(const Env &env) {
  if (auto dir = env.get("CLAUDE_CONFIG_DIR")) {
    return fs::path(*dir) / ".claude.json";
  }
  return env.home() / ".claude.json";
}

std::vector<fs::path> claude_code_config_paths(const Env &env) {
  std::vector<fs::path> paths{claude_code_config_path(env)};
  const fs::path home = env.home() / ".claude.json";
  if (paths.front().lexically_normal() != home.lexically_normal()) {
    paths.push_back(home);
  }
  return paths;
}

std::optional<fs::path> project_root_of(std::string_view host,
                                        const fs::path &file) {
  const fs::path normal = file.lexically_normal();
  if (const HostDef *def = find_host(host)) {
    for (const ProjectRule &rule : def->project_files) {
      // The file's last components are the rule's, and something is left.
      fs::path root = normal;
      bool match = true;
      const fs::path relative(rule.relative_path);
      std::vector<fs::path> parts(relative.begin(), relative.end());
      for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
        if (root.filename() != *part || !root.has_parent_path()) {
          match = false;
          break;
        }
        root = root.parent_path();
      }
      if (match && root.has_relative_path()) {
        return root;
      }
    }
  }
  return std::nullopt;
}

WatchTarget custom_target(std::string host, fs::path path) {
  WatchTarget target;
  target.host = std::move(host);
  target.format = format_from_extension(path);
  target.path = std::move(path).lexically_normal();
  target.scope = Scope::custom;
  target.trigger = Trigger::any;
  if (const HostDef *def = find_host(target.host)) {
    target.trigger = def->default_trigger;
    apply_host_format(*def, target);
  } else {
    target.mcp_locations = {"mcpServers"};
  }
  return target;
}

std::string locations_of(const WatchTarget &target) {
  std::string joined;
  for (const auto &location : target.mcp_locations) {
    joined += joined.empty() ? "" : " ";
    joined += location;
  }
  return joined;
}

std::string restore_locations_of(const WatchTarget &target) {
  std::string joined = locations_of(target);
  if (target.host != "vscode" && target.host != "vscode-insiders") {
    return joined;
  }
  // VS Code's `inputs`, beside `servers`, define the prompts its servers'
  // ${input:id} values come from: servers restored without them would refer
  // to nothing.
  for (const auto &location : target.mcp_locations) {
    if (location == "servers") {
      joined += " inputs";
    } else if (location.ends_with(".servers")) {
      joined += " " + location.substr(0, location.size() - 7) + "inputs";
    }
  }
  return joined;
}

namespace {

// Whether `path` is strictly inside `dir` (both lexically normal).
bool inside(const fs::path &path, const fs::path &dir) {
  auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end() && p != path.end();
}

// Where a project file whose directory is missing would appear: the deepest
// existing directory on its way under the root, and the name to look for.
void add_project_discovery(const fs::path &root, const fs::path &file,
                           std::vector<DiscoveryDir> &out) {
  fs::path missing = file.parent_path();
  while (missing.has_parent_path() && missing.parent_path() != root &&
         !dir_exists(missing.parent_path())) {
    missing = missing.parent_path();
  }
  if (dir_exists(missing.parent_path())) {
    out.push_back(
        {missing.parent_path(), glob_escape(missing.filename().string())});
  }
}

// resolve_targets(), and where new entries could add targets when
// `discovery` is given.
std::vector<WatchTarget> resolve(const ResolveInput &input,
                                 std::vector<DiscoveryDir> *discovery) {
  const Env env = computed_env(input.env, input.os);
  const unsigned os = os_bit(input.os);
  const std::vector<EnabledHost> hosts = enabled_hosts(input.config);
  std::vector<WatchTarget> targets;

  auto add = [&targets](const EnabledHost &host, fs::path path, Format format,
                        std::string_view locations, Scope scope) {
    if (!path.is_absolute()) {
      return;
    }
    targets.push_back(
        WatchTarget{std::string(host.def->name), path.lexically_normal(),
                    format, split_locations(locations), host.trigger, scope});
  };

  // User-level files of each host.
  for (const EnabledHost &host : hosts) {
    for (const FileRule &rule : host.def->files) {
      if (!(rule.os_mask & os)) {
        continue;
      }
      if (rule.pattern.find('*') != std::string_view::npos) {
        auto pattern = expand(rule.pattern, env, GlobEscape::yes);
        if (pattern) {
          if (discovery) {
            add_glob_discovery(*pattern, *discovery);
          }
          for (fs::path &match : glob_paths(*pattern)) {
            add(host, std::move(match), rule.format, rule.mcp_locations,
                Scope::user);
          }
        }
      } else if (auto path = expand(rule.pattern, env, GlobEscape::no)) {
        add(host, fs::path(*path), rule.format, rule.mcp_locations,
            Scope::user);
      }
    }
  }

  // LM Studio's home moves when its pointer file appears (or is replaced),
  // or when ~/.cache/lm-studio does (lmstudio_home()): resolving again then
  // finds its mcp.json.
  if (discovery && std::any_of(hosts.begin(), hosts.end(), [](auto &h) {
        return h.def->name == "lmstudio";
      })) {
    const fs::path home = input.env.home();
    if (home.is_absolute()) {
      discovery->push_back({home, ".lmstudio-home-pointer"});
      discovery->push_back({home / ".cache", "lm-studio"});
    }
  }

  // Project files: those that exist, and those whose directory exists so
  // that a new one is seen when created.
  std::vector<fs::path> roots;
  for (const fs::path &root : input.claude_projects) {
    if (root.is_absolute()) {
      roots.push_back(root.lexically_normal());
    }
  }
  for (fs::path &root :
       configured_project_roots(input.config, env, discovery)) {
    roots.push_back(std::move(root));
  }
  fs::path home = input.env.home().lexically_normal();
  if (!home.has_filename()) {
    home = home.parent_path(); // "/home/u/" ends in an empty element
  }
  // A home reached through a link (/home -> /data/home): Claude Code lists
  // projects by the real path getcwd() gives.
  std::error_code real_ec;
  fs::path real_home = fs::weakly_canonical(home, real_ec);
  if (real_ec) {
    real_home = home;
  }
  for (const fs::path &root : roots) {
    if (!dir_exists(root)) {
      // A project not there yet (cloned again, or a ~/.claude.json brought
      // from another machine): its first missing directory is looked for
      // from the nearest existing one, and its files are resolved once it
      // appears. Only under the home directory: a temporary directory a
      // project once was in would have /tmp watched, waking the daemon
      // for every file made there.
      if (discovery && home.has_relative_path() &&
          (inside(root, home) || inside(root, real_home))) {
        fs::path missing = root;
        while (missing.has_relative_path() &&
               !dir_exists(missing.parent_path())) {
          missing = missing.parent_path();
        }
        if (missing.has_relative_path()) {
          discovery->push_back({missing.parent_path(),
                                glob_escape(missing.filename().string())});
        }
      }
      continue;
    }
    for (const EnabledHost &host : hosts) {
      for (const ProjectRule &rule : host.def->project_files) {
        fs::path path = (root / rule.relative_path).lexically_normal();
        if (path_exists(path) || dir_exists(path.parent_path())) {
          add(host, std::move(path), rule.format, rule.mcp_locations,
              Scope::project);
        } else if (discovery && dir_exists(root)) {
          add_project_discovery(root, path, *discovery);
        }
      }
    }
  }

  // User-added files (watch.paths).
  if (input.config) {
    for (const WatchPathEntry &entry : input.config->watch.paths) {
      auto host = std::find_if(hosts.begin(), hosts.end(), [&](auto &h) {
        return h.def->name == entry.host;
      });
      if (host == hosts.end()) {
        continue;
      }
      std::vector<fs::path> paths;
      if (has_glob_chars(entry.path)) {
        auto pattern = expand(entry.path, env, GlobEscape::yes);
        if (pattern) {
          paths = glob_paths(*pattern);
          if (discovery) {
            add_glob_discovery(*pattern, *discovery);
          }
        }
      } else if (auto path = expand(entry.path, env, GlobEscape::no)) {
        paths.emplace_back(*path);
      }
      for (fs::path &path : paths) {
        if (!path.is_absolute()) {
          continue;
        }
        WatchTarget target = custom_target(std::string(host->def->name), path);
        target.trigger = host->trigger;
        targets.push_back(std::move(target));
      }
    }
  }

  std::stable_sort(targets.begin(), targets.end(),
                   [](const WatchTarget &a, const WatchTarget &b) {
                     return a.path < b.path;
                   });
  targets.erase(std::unique(targets.begin(), targets.end(),
                            [](const WatchTarget &a, const WatchTarget &b) {
                              return a.path == b.path;
                            }),
                targets.end());
  return targets;
}

} // namespace

std::vector<WatchTarget> resolve_targets(const ResolveInput &input) {
  return resolve(input, nullptr);
}

Resolution resolve_watch(const ResolveInput &input) {
  Resolution out;
  out.targets = resolve(input, &out.discovery);
  std::sort(out.discovery.begin(), out.discovery.end());
  out.discovery.erase(std::unique(out.discovery.begin(), out.discovery.end()),
                      out.discovery.end());
  return out;
}

bool discovers(const DiscoveryDir &d, const std::string &entry) {
  return ::fnmatch(d.name.c_str(), entry.c_str(), FNM_PERIOD) == 0;
}

} // namespace mcpbk
