#pragma once

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/types.hpp>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk {

enum class Scope { user, project, custom };
const char *to_string(Scope scope);

// Bit mask of Os values a file rule applies to.
enum OsMask : unsigned {
  os_linux = 1u << 0,
  os_macos = 1u << 1,
  os_windows = 1u << 2,
  os_unix = os_linux | os_macos,
  os_all = os_linux | os_macos | os_windows,
};

// One user-level file of a host. `pattern` uses "~", "${VAR}" (the rule is
// skipped when VAR is unset) and "${VAR:-default}" (default may nest), and may
// end in a glob ("*" in a path component).
struct FileRule {
  unsigned os_mask;
  std::string_view pattern;
  Format format;
  // Where the server maps live, space separated; "*" matches any key:
  // "mcpServers projects.*.mcpServers".
  std::string_view mcp_locations;
};

// One project-level file, relative to a project root (".cursor/mcp.json").
struct ProjectRule {
  std::string_view relative_path;
  Format format;
  std::string_view mcp_locations;
};

// A known AI host application (shared/hosts.md).
struct HostDef {
  std::string_view name;         // "claude-desktop"
  std::string_view display_name; // "Claude Desktop"
  Trigger default_trigger;
  std::vector<FileRule> files;
  std::vector<ProjectRule> project_files;
  // Process names that show the application is running (restore warning).
  std::vector<std::string_view> process_names;
};

// The catalog: every host of shared/hosts.md, in a fixed order.
std::span<const HostDef> host_catalog();

// The host of that name, or nullptr.
const HostDef *find_host(std::string_view name);

// A concrete file to protect on this machine.
struct WatchTarget {
  std::string host;
  std::filesystem::path path; // absolute, lexically normal, links not resolved
  Format format = Format::json;
  std::vector<std::string> mcp_locations;
  Trigger trigger = Trigger::any;
  Scope scope = Scope::user;

  bool operator==(const WatchTarget &) const = default;
};

// Everything resolve_targets() needs besides the catalog.
struct ResolveInput {
  const Config *config = nullptr;
  Env env;
  Os os = current_os();
  // Project roots found in ~/.claude.json "projects" (absolute paths).
  std::vector<std::filesystem::path> claude_projects;
};

// The files to protect: every enabled host's user files for this OS (those
// that do not exist yet too, so their creation is seen; glob rules give only
// existing matches), project files under the Claude projects and
// watch.project_roots, and watch.paths. Sorted by path, one target per path
// (the first host in catalog order wins).
std::vector<WatchTarget> resolve_targets(const ResolveInput &input);

// A directory in which a new entry whose name matches `name` (a glob pattern
// for one path component, backslash escapes honoured, a leading dot matched
// only by a dot) can add files to protect: the entry may be a new match of a
// glob, or the missing directory of a project file. The directory itself may
// not exist yet.
struct DiscoveryDir {
  std::filesystem::path dir;
  std::string name;

  auto operator<=>(const DiscoveryDir &) const = default;
};

// Whether `entry`, a name in `d.dir`, is one `d` looks for.
bool discovers(const DiscoveryDir &d, const std::string &entry);

struct Resolution {
  std::vector<WatchTarget> targets;    // as resolve_targets()
  std::vector<DiscoveryDir> discovery; // sorted, unique
};

// The targets, and where new entries would change them: after a new entry in
// one of the discovery directories, resolving again may give more targets.
Resolution resolve_watch(const ResolveInput &input);

// A target for a file of `host` that the catalog does not list (watch.paths,
// a recorded path no longer resolved): format from the extension, MCP
// locations from the host's rule of that format family ("mcpServers" when
// none), the host's default trigger (`any` for an unknown host).
WatchTarget custom_target(std::string host, std::filesystem::path path);

// The MCP locations of a target as extract_mcp() takes them ("a b.*.c").
std::string locations_of(const WatchTarget &target);

// What restore --only-mcp puts back: the MCP locations and what the servers
// there depend on (VS Code's `inputs` beside its `servers`).
std::string restore_locations_of(const WatchTarget &target);

// Expands "~", "${VAR}" and "${VAR:-default}" in a pattern; std::nullopt when
// a variable without default is unset.
std::optional<std::string> expand_pattern(std::string_view pattern,
                                          const Env &env);

// watch.paths and watch.project_roots entries that watch nothing in `env`:
// they name an environment variable that is not set (${VAR} without a :-
// default), expand to a relative path, or (watch.paths) belong to a
// disabled host. One message each, naming the field.
std::vector<std::string> unset_variables_in(const Config &config,
                                            const Env &env, Os os);

// The Claude Code config file for env: $CLAUDE_CONFIG_DIR/.claude.json when
// that variable is set, else ~/.claude.json.
std::filesystem::path claude_code_config_path(const Env &env);

// Every Claude Code config file whose projects count: with CLAUDE_CONFIG_DIR
// set, which of $CLAUDE_CONFIG_DIR/.claude.json and ~/.claude.json Claude
// Code uses depends on its version (shared/hosts.md §3.2), so both are
// watched and the projects of both are protected. The first is
// claude_code_config_path().
std::vector<std::filesystem::path> claude_code_config_paths(const Env &env);

// The project directory a file of `host` is a project file of (one of the
// host's ProjectRule paths under it, such as <root>/.cursor/mcp.json), or
// nothing.
std::optional<std::filesystem::path>
project_root_of(std::string_view host, const std::filesystem::path &file);

} // namespace mcpbk
