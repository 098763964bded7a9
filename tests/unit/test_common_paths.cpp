#include <common/paths.hpp>

#include <doctest/doctest.h>
#include <tests/unit/scratch.hpp>

#include <cstdlib>
#include <pwd.h>
#include <unistd.h>

using namespace mcpbk;
namespace fs = std::filesystem;

TEST_CASE("resolve_config_file") {
  const auto dir = test::scratch_dir();
  const Env env = Env::from_map({{"HOME", (dir / "home").string()}});
  SUBCASE("embedded default when no file exists") {
    CHECK_FALSE(resolve_config_file({}, env, Os::gnu_linux).has_value());
  }
  SUBCASE("the XDG file when it exists") {
    test::write_file(dir / "home/.config/mcpbk/config.yaml", "");
    CHECK(resolve_config_file({}, env, Os::gnu_linux) ==
          dir / "home/.config/mcpbk/config.yaml");
  }
  SUBCASE("XDG_CONFIG_HOME moves it") {
    const Env xdg = env.with("XDG_CONFIG_HOME", (dir / "cfg").string());
    test::write_file(dir / "cfg/mcpbk/config.yaml", "");
    CHECK(resolve_config_file({}, xdg, Os::gnu_linux) ==
          dir / "cfg/mcpbk/config.yaml");
  }
  SUBCASE("MCPBK_CONFIG beats the file, the flag beats both") {
    test::write_file(dir / "home/.config/mcpbk/config.yaml", "");
    const Env e = env.with("MCPBK_CONFIG", "/etc/x.yaml");
    CHECK(resolve_config_file({}, e, Os::gnu_linux) == "/etc/x.yaml");
    PathOverrides o;
    o.config_file = "/flag.yaml";
    CHECK(resolve_config_file(o, e, Os::gnu_linux) == "/flag.yaml");
  }
  SUBCASE("macOS location") {
    CHECK(default_config_file(env, Os::macos) ==
          dir / "home/Library/Application Support/mcpbk/config.yaml");
  }
}

TEST_CASE("resolve_state_paths") {
  Config cfg = default_config();
  const Env env = Env::from_map({{"HOME", "/h"}});
  SUBCASE("XDG defaults") {
    auto p = resolve_state_paths({}, cfg, env, Os::gnu_linux);
    CHECK(p.state_dir == "/h/.local/state/mcpbk");
    CHECK(p.store_file == "/h/.local/state/mcpbk/store.db");
    CHECK(p.socket == "/h/.local/state/mcpbk/mcpbkd.sock");
  }
  SUBCASE("XDG_STATE_HOME and XDG_RUNTIME_DIR") {
    auto e = env.with("XDG_STATE_HOME", "/s").with("XDG_RUNTIME_DIR", "/run/u");
    auto p = resolve_state_paths({}, cfg, e, Os::gnu_linux);
    CHECK(p.state_dir == "/s/mcpbk");
    CHECK(p.socket == "/run/u/mcpbk/mcpbkd.sock");
  }
  SUBCASE("config beats XDG, env beats config, flag beats env") {
    cfg.store.dir = "~/st";
    cfg.ipc.socket = "~/sock";
    auto p = resolve_state_paths({}, cfg, env, Os::gnu_linux);
    CHECK(p.state_dir == "/h/st");
    CHECK(p.socket == "/h/sock");
    auto e = env.with("MCPBK_SOCKET", "/e/sock").with("MCPBK_STATE_DIR", "/e");
    p = resolve_state_paths({}, cfg, e, Os::gnu_linux);
    CHECK(p.state_dir == "/e");
    CHECK(p.socket == "/e/sock");
    PathOverrides o;
    o.state_dir = "/f";
    o.socket = "/f/s";
    p = resolve_state_paths(o, cfg, e, Os::gnu_linux);
    CHECK(p.state_dir == "/f");
    CHECK(p.socket == "/f/s");
  }
  SUBCASE("macOS and Windows") {
    auto p = resolve_state_paths({}, cfg, env, Os::macos);
    CHECK(p.state_dir == "/h/Library/Application Support/mcpbk");
    auto w = Env::from_map({{"USERPROFILE", "/u"}, {"LOCALAPPDATA", "/la"}});
    p = resolve_state_paths({}, cfg, w, Os::windows);
    CHECK(p.state_dir == "/la/mcpbk");
  }
}

TEST_CASE("Env::from_process without HOME uses the account's home") {
  // `env -i mcpbkctl import ...` made a store at /.local/state/mcpbk.
  const char *saved = std::getenv("HOME");
  const std::string home = saved != nullptr ? saved : "";
  ::unsetenv("HOME");
  const Env env = Env::from_process();
  if (!home.empty()) {
    ::setenv("HOME", home.c_str(), 1);
  }
  const passwd *entry = ::getpwuid(::getuid());
  REQUIRE(entry != nullptr);
  CHECK(env.home() == fs::path(entry->pw_dir));
  // Set, it is what it says.
  CHECK(Env::from_map({{"HOME", "/somewhere"}}).home() == "/somewhere");
}

TEST_CASE("Env::from_process leaves out relative base directories") {
  // XDG_STATE_HOME=relstate put the store under the directory a program
  // was started in: another one for a daemon systemd starts in /.
  std::map<std::string, std::optional<std::string>> saved;
  for (const char *name : {"XDG_STATE_HOME", "XDG_RUNTIME_DIR", "HOME"}) {
    const char *value = std::getenv(name);
    saved[name] =
        value != nullptr ? std::optional<std::string>(value) : std::nullopt;
  }
  ::setenv("XDG_STATE_HOME", "relstate", 1);
  ::setenv("XDG_RUNTIME_DIR", "/abs/run", 1);
  ::setenv("HOME", "relhome", 1);
  const Env env = Env::from_process();
  for (const auto &[name, value] : saved) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  CHECK(env.get("XDG_STATE_HOME") == std::nullopt);
  CHECK(env.get("XDG_RUNTIME_DIR") == "/abs/run");
  const passwd *entry = ::getpwuid(::getuid());
  REQUIRE(entry != nullptr);
  CHECK(env.home() == fs::path(entry->pw_dir)); // the account's, not relhome
}
