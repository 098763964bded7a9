#include <common/config.hpp>
#include <common/default_config.hpp>
#include <common/yaml_load.hpp>

#include <doctest/doctest.h>
#include <tests/unit/scratch.hpp>

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

using namespace mcpbk;

namespace {

std::vector<std::string> messages(const ConfigErrors &errors) {
  std::vector<std::string> out;
  for (const auto &p : errors.problems) {
    out.push_back(p.to_string());
  }
  return out;
}

bool contains(const std::vector<std::string> &list, const std::string &item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Whether one of the messages has `part` in it.
bool mentions(const std::vector<std::string> &list, const std::string &part) {
  return std::any_of(list.begin(), list.end(), [&](const std::string &m) {
    return m.find(part) != std::string::npos;
  });
}

} // namespace

TEST_CASE("default_config") {
  const Config cfg = default_config();
  CHECK(cfg.store.dir.empty());
  CHECK(cfg.store.compression == Compression::zstd);
  CHECK(cfg.store.max_file_bytes == 16777216);
  CHECK(cfg.watch.backend == WatchBackend::automatic);
  CHECK(cfg.watch.debounce_ms == 200);
  CHECK(cfg.watch.max_delay_ms == 2000);
  CHECK(cfg.watch.rescan_interval_s == 600);
  CHECK(cfg.watch.paths.empty());
  CHECK(cfg.retention.max_count == 100);
  CHECK(cfg.retention.max_age_days == 90);
  CHECK(cfg.retention.min_keep == 10);
  CHECK(cfg.retention.keep_daily == 14);
  CHECK(cfg.retention.keep_weekly == 8);
  CHECK(cfg.retention.keep_monthly == 12);
  CHECK(cfg.prune_interval_s == 3600);
  CHECK(cfg.log.level == "info");
  CHECK(cfg.log.format == LogFormat::text);
  CHECK(cfg.notify.command.empty());
  // The embedded text is the shipped file without its whole-line comments
  // and blank lines; every other line is there, in order.
  const std::string shipped =
      test::read_file(std::filesystem::path(MCPBK_SOURCE_DIR) / "config.yaml");
  std::string expected;
  std::istringstream lines(shipped);
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] != '#') {
      expected += line + "\n";
    }
  }
  CHECK(embedded_default_config() == expected);
  CHECK(expected.find("max_file_bytes: 16777216") != std::string::npos);
  // The defaults the build parsed are what parsing the embedded text gives
  // now, field for field (default_config_gen writes each field by name).
  const auto parsed =
      parse_config_over(Config{}, embedded_default_config(), "embedded");
  REQUIRE(parsed);
  CHECK(cfg == *parsed);
  CHECK(parsed_default_config() == *parsed);
  Config changed = cfg;
  changed.hosts["cursor"].trigger = Trigger::mcp;
  CHECK_FALSE(changed == *parsed);
}

namespace mcpbk {
// tests/unit/full_config.yaml as written by default_config_gen.
Config full_config_for_test();
} // namespace mcpbk

TEST_CASE("default_config_gen writes every key") {
  const std::string text = test::read_file(
      std::filesystem::path(MCPBK_SOURCE_DIR) / "tests/unit/full_config.yaml");
  const auto parsed = parse_config_over(Config{}, text, "full_config.yaml");
  REQUIRE(parsed);
  const Config written = full_config_for_test();
  CHECK(written == *parsed);
  // The file sets every key away from its default.
  const Config d = default_config();
  CHECK(written.store != d.store);
  CHECK(written.watch.backend != d.watch.backend);
  CHECK(written.watch.paths.size() == 2);
  CHECK(written.watch.project_roots.size() == 2);
  CHECK(written.hosts.size() == 2);
  CHECK(written.hosts.at("claude-code").trigger == Trigger::any);
  CHECK(written.retention != d.retention);
  CHECK(written.prune_interval_s != d.prune_interval_s);
  CHECK(written.ipc.socket == "/run/\xc3\xa9.sock");
  CHECK(written.log != d.log);
  CHECK(written.notify.command.size() == 3);
  CHECK(written.store.dir == "/tmp/some \"dir\"\n");
}

TEST_CASE("parse_config") {
  SUBCASE("a subset keeps every other default") {
    auto cfg = parse_config("retention:\n  max_count: 5\nwatch:\n  "
                            "debounce_ms: 50\n",
                            "test.yaml");
    REQUIRE(cfg);
    CHECK(cfg->retention.max_count == 5);
    CHECK(cfg->retention.min_keep == 10);
    CHECK(cfg->watch.debounce_ms == 50);
    CHECK(cfg->watch.max_delay_ms == 2000);
  }
  SUBCASE("a map aliased inside itself is read in bounded time") {
    // Found by fuzz_config (a timeout): walking `&b {x: *b, y: *b}` for
    // repeated keys doubled at each of its 64 levels (2^64 visits: this
    // test did not end).
    auto cfg =
        parse_config("hosts:\n  cursor: &b {x: *b, y: *b}\n", "alias.yaml");
    CHECK_FALSE(cfg); // not a host's settings
  }
  SUBCASE("an empty file is the default") {
    auto cfg = parse_config("", "empty.yaml");
    REQUIRE(cfg);
    CHECK(cfg->retention.max_count == 100);
  }
  SUBCASE("wrong type names the field and the value") {
    auto cfg = parse_config("retention:\n  max_count: ten\n", "c.yaml");
    REQUIRE(!cfg);
    CHECK(messages(cfg.error()) ==
          std::vector<std::string>{
              "retention.max_count: expected a non-negative integer, got "
              "\"ten\""});
    CHECK(cfg.error().to_string() ==
          "c.yaml: retention.max_count: expected a non-negative integer, got "
          "\"ten\"\n");
  }
  SUBCASE("a key given twice is an error, wherever it is") {
    auto cfg = parse_config("log: {level: off}\nretention:\n  max_count: 5\n"
                            "  max_count: 6\nlog: {level: debug}\n"
                            "watch:\n  paths:\n    - {path: ~/a.json, host: "
                            "cursor, host: zed}\n",
                            "c");
    REQUIRE(!cfg);
    CHECK(messages(cfg.error()) ==
          std::vector<std::string>{
              "retention.max_count: given twice in one mapping (only one can "
              "apply)",
              "log: given twice in one mapping (only one can apply)",
              "watch.paths[0].host: given twice in one mapping (only one can "
              "apply)"});
  }
  SUBCASE("notify.command needs a program") {
    auto cfg = parse_config("notify:\n  command: [\"\", \"{message}\"]\n", "c");
    REQUIRE(!cfg);
    CHECK(messages(cfg.error()) ==
          std::vector<std::string>{
              "notify.command[0]: the program to run is empty"});
  }
  SUBCASE("unknown keys at every level") {
    auto cfg = parse_config("bogus_key: 1\nstore:\n  colour: red\n", "c");
    REQUIRE(!cfg);
    const auto m = messages(cfg.error());
    CHECK(contains(m, "bogus_key: unknown key"));
    CHECK(contains(m, "store.colour: unknown key"));
  }
  SUBCASE("several problems are all reported") {
    auto cfg = parse_config("store:\n  compression: lz4\nwatch:\n  backend: "
                            "fsevents\n  debounce_ms: -1\nlog:\n  format: "
                            "xml\nhosts:\n  notepad: {enabled: true}\n"
                            "  cursor: {trigger: sometimes}\n",
                            "c");
    REQUIRE(!cfg);
    const auto m = messages(cfg.error());
    CHECK(m.size() == 6);
    CHECK(contains(m, "store.compression: expected one of zstd, none, got "
                      "\"lz4\""));
    CHECK(contains(m, "watch.backend: expected one of auto, inotify, poll, got "
                      "\"fsevents\""));
    CHECK(contains(m, "watch.debounce_ms: expected a non-negative integer, "
                      "got \"-1\""));
    CHECK(contains(m, "log.format: expected one of text, json, got \"xml\""));
    CHECK(mentions(m, "hosts.notepad: unknown host (known: claude-desktop, "));
    CHECK(contains(m, "hosts.cursor.trigger: expected one of mcp, any, got "
                      "\"sometimes\""));
  }
  SUBCASE("numbers too large to mean what they say") {
    // max_age_days 106751992 and more wrapped round in microseconds and
    // deleted every snapshot but the newest; a duration of 10^17 seconds
    // overflows a timer.
    auto cfg = parse_config(
        "retention:\n  max_age_days: 106751992\n  prune_interval_s: "
        "100000000000000000\nwatch:\n  debounce_ms: 9999999999999999999\n",
        "c");
    REQUIRE(!cfg);
    const auto m = messages(cfg.error());
    CHECK(m.size() == 3);
    CHECK(contains(m, "retention.max_age_days: expected at most 1000000, got "
                      "\"106751992\""));
    CHECK(contains(m, "retention.prune_interval_s: expected at most 316224000, "
                      "got \"100000000000000000\""));
    CHECK(contains(m, "watch.debounce_ms: expected at most 316224000000, got "
                      "\"9999999999999999999\""));
    CHECK(parse_config("retention:\n  max_age_days: 1000000\n", "c"));
  }
  SUBCASE("hosts settings") {
    auto cfg = parse_config(
        "hosts:\n  cursor: {enabled: false}\n  claude-code: {trigger: any}\n",
        "c");
    REQUIRE(cfg);
    CHECK_FALSE(cfg->host("cursor").enabled);
    CHECK(cfg->host("claude-code").trigger == Trigger::any);
    CHECK(cfg->host("zed").enabled);
    CHECK_FALSE(cfg->host("zed").trigger.has_value());
  }
  SUBCASE("watch.paths entries are checked") {
    auto cfg = parse_config("watch:\n  paths:\n    - {path: \"~/x/*.json\", "
                            "host: cursor}\n    - {path: \"\", host: nope}\n"
                            "    - 7\n",
                            "c");
    REQUIRE(!cfg);
    const auto m = messages(cfg.error());
    CHECK(contains(m, "watch.paths[1].path: missing (a file path or glob is "
                      "required)"));
    CHECK(mentions(m, "watch.paths[1].host: unknown host \"nope\" (known: "));
    CHECK(contains(m, "watch.paths[2]: expected a mapping {path, host}, got "
                      "\"7\""));
  }
  SUBCASE("variables in paths are closed, and their defaults are places") {
    auto cfg =
        parse_config("watch:\n  paths:\n"
                     "    - {path: \"${HOME/work/mcp.json\", host: cursor}\n"
                     "    - {path: \"${NOPE:-work}/mcp.json\", host: cursor}\n"
                     "    - {path: \"${A:-${B:-/x}}/mcp.json\", host: cursor}\n"
                     "    - {path: \"${}/mcp.json\", host: cursor}\n"
                     "  project_roots: [\"${HOME/src\", \"\", \"~/a/**\"]\n",
                     "c");
    REQUIRE(!cfg);
    const auto m = messages(cfg.error());
    CHECK(mentions(m, "watch.paths[0].path: \"${HOME/work/mcp.json\": "
                      "expected ${NAME} or ${NAME:-default}"));
    CHECK(mentions(m, "watch.paths[1].path: must be absolute or start with "
                      "~/ or ${VAR}, got \"work\""));
    CHECK_FALSE(mentions(m, "watch.paths[2]"));
    CHECK(mentions(m, "watch.paths[3].path: \"${}/mcp.json\": expected"));
    CHECK(mentions(m, "watch.project_roots[0]: \"${HOME/src\": expected"));
    CHECK(contains(m, "watch.project_roots[1]: must not be empty"));
    CHECK(mentions(m, "(give each depth: ~/code/*, ~/code/*/*)"));
  }
  SUBCASE("paths must be absolute, and globs have no **") {
    auto cfg = parse_config(
        "store: {dir: state}\nipc: {socket: \"~/s.sock\"}\n"
        "watch:\n  paths:\n"
        "    - {path: \"code/*/.mcp.json\", host: claude-code}\n"
        "    - {path: \"~/**/.mcp.json\", host: claude-code}\n"
        "    - {path: \"${XDG_CONFIG_HOME}/x/mcp.json\", host: cursor}\n"
        "    - {path: \"/etc/mcp.json\", host: cursor}\n"
        "  project_roots: [\"~/src/*\", \"src\"]\n",
        "c");
    REQUIRE(!cfg);
    CHECK(messages(cfg.error()) ==
          std::vector<std::string>{
              "store.dir: must be absolute or start with ~/, got \"state\"",
              "watch.paths[0].path: must be absolute or start with ~/ or "
              "${VAR}, got \"code/*/.mcp.json\"",
              "watch.paths[1].path: \"**\" is not supported: * matches "
              "within one directory (give each depth: ~/code/*/.mcp.json, "
              "~/code/*/*/.mcp.json)",
              "watch.project_roots[1]: must be absolute or start with ~/ or "
              "${VAR}, got \"src\""});
    // What was valid applies; the store stays where it was.
    CHECK(cfg.error().applied.store.dir.empty());
    CHECK(cfg.error().applied.ipc.socket == "~/s.sock");
  }
  SUBCASE("a second document, and tabs, are named") {
    auto second =
        parse_config("log: {level: info}\n---\nlog: {level: x}\n", "c");
    REQUIRE(!second);
    CHECK(mentions(messages(second.error()), "a second YAML document"));
    // What follows an end marker is read too: its mistakes are errors.
    CHECK(!parse_config("log: {level: info}\n...\ngarbage: [\n", "c"));
    auto tabs = parse_config("log:\n\tlevel: debug\n", "c");
    REQUIRE(!tabs);
    CHECK(mentions(messages(tabs.error()),
                   "(a tab: YAML is indented with spaces)"));
    // One document with its markers is one.
    CHECK(parse_config("---\nlog: {level: info}\n...\n", "c"));
  }
  SUBCASE("one file given two hosts") {
    auto cfg = parse_config("watch:\n  paths:\n"
                            "    - {path: \"~/w/mcp.json\", host: cursor}\n"
                            "    - {path: \"~/w/mcp.json\", host: vscode}\n",
                            "c");
    REQUIRE(!cfg);
    CHECK(messages(cfg.error()) ==
          std::vector<std::string>{
              "watch.paths[1]: \"~/w/mcp.json\" is watch.paths[0] too, with "
              "host cursor; a file belongs to one host"});
  }
  SUBCASE("max_delay_ms below debounce_ms") {
    auto cfg =
        parse_config("watch: {debounce_ms: 500, max_delay_ms: 100}", "c");
    REQUIRE(!cfg);
    CHECK(messages(cfg.error()) ==
          std::vector<std::string>{
              "watch.max_delay_ms: is 100 but must be at least "
              "watch.debounce_ms (500): a change waits no longer than "
              "max_delay_ms; raise it, or lower debounce_ms"});
  }
  SUBCASE("YAML syntax errors carry the line") {
    auto cfg = parse_config("store:\n  dir: [unclosed\n", "c");
    REQUIRE(!cfg);
    REQUIRE(cfg.error().problems.size() == 1);
    CHECK(cfg.error().problems[0].field == "(syntax)");
    CHECK(cfg.error().problems[0].message.find("line ") == 0);
  }
  SUBCASE("a section of the wrong shape") {
    auto cfg =
        parse_config("retention: [1, 2]\nnotify: {command: echo}\n", "c");
    REQUIRE(!cfg);
    const auto m = messages(cfg.error());
    CHECK(contains(m, "retention: expected a mapping, got a list"));
    CHECK(contains(m, "notify.command: expected a list of strings, got "
                      "\"echo\""));
  }
}

TEST_CASE("load_config_file") {
  const auto dir = test::scratch_dir();
  SUBCASE("a missing file is a problem") {
    auto cfg = load_config_file(dir / "nope.yaml");
    REQUIRE(!cfg);
    CHECK(cfg.error().problems[0].field == "(file)");
  }
  SUBCASE("a real file") {
    test::write_file(dir / "c.yaml", "log: {level: debug, format: json}\n");
    auto cfg = load_config_file(dir / "c.yaml");
    REQUIRE(cfg);
    CHECK(cfg->log.level == "debug");
    CHECK(cfg->log.format == LogFormat::json);
  }
}

TEST_CASE("load_yaml reads the tree YAML::Load reads") {
  std::ifstream shipped(MCPBK_SOURCE_DIR "/config.yaml");
  std::ifstream full(MCPBK_SOURCE_DIR "/tests/unit/full_config.yaml");
  std::stringstream shipped_text;
  std::stringstream full_text;
  shipped_text << shipped.rdbuf();
  full_text << full.rdbuf();
  REQUIRE(shipped_text.str().size() > 1000);
  REQUIRE(full_text.str().size() > 100);
  const std::vector<std::string> texts = {
      shipped_text.str(),
      full_text.str(),
      "",
      "# only a comment\n",
      "store:\n",
      "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: 'null'\ng: \"~\"\nh: nul\n",
      "a: !!str null\nb: !!int 12\nc: !custom x\n",
      "list: [1, 'two', \"three\", [4, 5], {six: 6}]\nempty: []\nnone: {}\n",
      "- a\n- - b\n  - c\n- d: e\n  f: g\n-\n",
      "base: &b {x: 1, y: [1, 2]}\nuse: *b\nlist: [&s str, *s]\n",
      "dup: 1\ndup: 2\nother: {k: 1, k: 2}\n",
      "? [complex, key]\n: value\n? {a: 1}\n: other\n",
      "text: |\n  line one\n  # not a comment\n\n  line three\n"
      "keep: |+\n  kept\n\n# after\nfolded: >-\n  one\n  two\n",
      "plain: word1\n  word2\n\n  word3\nquoted: \"a\\tb\\u00e9\\\n  c\"\n",
      "first: 1\n---\nsecond: 2\n",
      "--- \nx: 1\n...\n",
      "%YAML 1.1\n---\nx: y\n",
      "key with spaces: 'it''s'\nnumbers: [0x1F, 1e3, -0, .5]\n",
      "\xef\xbb\xbf"
      "bom: yes\n",
      "unicode: \xc3\xa9t\xc3\xa9\n",
  };
  for (const auto &text : texts) {
    CAPTURE(text);
    const YAML::Node expected = YAML::Load(text);
    const YAML::Node got = load_yaml(text);
    CHECK(YAML::Dump(got) == YAML::Dump(expected));
    CHECK(got.Type() == expected.Type());
  }
  SUBCASE("aliases share their anchor's node") {
    const YAML::Node root = load_yaml("a: &x [1]\nb: *x\n");
    CHECK(root["b"].is(root["a"]));
  }
  SUBCASE("errors") {
    for (const char *bad : {"a: [unclosed\n", "a: b: c\n", "a: *undefined\n",
                            "{a: 1\n", "\tkey: value\n"}) {
      const std::string text = bad;
      CAPTURE(text);
      CHECK_THROWS_AS(YAML::Load(text), YAML::ParserException);
      CHECK_THROWS_AS(load_yaml(text), YAML::ParserException);
    }
    // yaml-cpp reads these without a word (the first stops after "- a",
    // the second ends the string at the end of the text); libyaml refuses
    // them, and a config that says more than is read is better refused.
    for (const char *bad : {"- a\nb: c\n", "a: 'unterminated\n"}) {
      const std::string text = bad;
      CAPTURE(text);
      CHECK_NOTHROW(YAML::Load(text));
      CHECK_THROWS_AS(load_yaml(text), YAML::ParserException);
    }
    try {
      load_yaml("ok: 1\nbad: [unclosed\n");
      FAIL("no exception");
    } catch (const YAML::ParserException &e) {
      CHECK(e.mark.line >= 1);
    }
    std::string deep(600, '[');
    deep += std::string(600, ']');
    CHECK_THROWS_AS(load_yaml(deep), YAML::ParserException);
    std::string fine(400, '[');
    fine += std::string(400, ']');
    CHECK(YAML::Dump(load_yaml(fine)) == YAML::Dump(YAML::Load(fine)));
  }
}

TEST_CASE("a config with mistakes still gives the keys that were valid") {
  auto loaded = parse_config("watch:\n  debounce_ms: 77\nretention:\n  "
                             "max_count: ten\nipc:\n  socket: /run/x.sock\n",
                             "c.yaml");
  REQUIRE_FALSE(loaded);
  CHECK(messages(loaded.error()) ==
        std::vector<std::string>{
            "retention.max_count: expected a non-negative integer, got "
            "\"ten\""});
  const Config &applied = loaded.error().applied;
  CHECK(applied.watch.debounce_ms == 77);
  CHECK(applied.ipc.socket == "/run/x.sock");
  CHECK(applied.retention.max_count == default_config().retention.max_count);

  auto broken = parse_config("watch: [\n", "c.yaml");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().applied.watch.debounce_ms ==
        default_config().watch.debounce_ms);

  auto missing = load_config_file(test::scratch_dir() / "none.yaml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().applied.retention.max_count ==
        default_config().retention.max_count);
}
