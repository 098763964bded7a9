#pragma once

#include <common/error.hpp>
#include <common/types.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk {

// A user-added file to protect: a path or glob (with ~) and its host.
struct WatchPathEntry {
  std::string path;
  std::string host;
  bool operator==(const WatchPathEntry &) const = default;
};

// Per-host settings; an unset trigger means the host's own default.
struct HostSettings {
  bool enabled = true;
  std::optional<Trigger> trigger;
  bool operator==(const HostSettings &) const = default;
};

// Retention rules of SPEC §7; 0 disables a rule.
struct RetentionPolicy {
  std::uint64_t max_count = 0;
  std::uint64_t max_age_days = 0;
  std::uint64_t min_keep = 0;
  std::uint64_t keep_daily = 0;
  std::uint64_t keep_weekly = 0;
  std::uint64_t keep_monthly = 0;
  bool operator==(const RetentionPolicy &) const = default;
};

enum class WatchBackend { automatic, inotify, poll };
enum class LogFormat { text, json };

// The whole configuration. Every value comes from the embedded default
// (config.yaml) unless a user file sets it.
struct Config {
  struct Store {
    std::string dir;
    Compression compression = Compression::zstd;
    std::uint64_t max_file_bytes = 0;
    bool operator==(const Store &) const = default;
  } store;
  struct Watch {
    WatchBackend backend = WatchBackend::automatic;
    std::uint64_t debounce_ms = 0;
    std::uint64_t max_delay_ms = 0;
    std::uint64_t rescan_interval_s = 0;
    std::uint64_t poll_interval_ms = 0;
    std::vector<WatchPathEntry> paths;
    std::vector<std::string> project_roots;
    bool operator==(const Watch &) const = default;
  } watch;
  std::map<std::string, HostSettings> hosts;
  RetentionPolicy retention;
  std::uint64_t prune_interval_s = 0;
  struct Ipc {
    std::string socket;
    bool operator==(const Ipc &) const = default;
  } ipc;
  struct Log {
    std::string level = "info";
    LogFormat format = LogFormat::text;
    bool operator==(const Log &) const = default;
  } log;
  struct Notify {
    std::vector<std::string> command;
    bool operator==(const Notify &) const = default;
  } notify;

  // The settings of a host, defaults when the config does not name it.
  HostSettings host(std::string_view name) const;
  bool operator==(const Config &) const = default;
};

// One problem found while loading a config: "retention.max_count: expected a
// non-negative integer, got \"ten\"".
struct ConfigProblem {
  std::string field;
  std::string message;
  std::string to_string() const { return field + ": " + message; }
};

// The outcome of a failed load: every problem, not just the first.
struct ConfigErrors {
  std::string source; // the file name, or "embedded default"
  std::vector<ConfigProblem> problems;
  // Every key that was valid applied over the base (the others keep the
  // base's values): for a reader that can go on without them, such as the
  // client, which needs little more than the socket's and store's paths.
  Config applied;
  std::string to_string() const;
};

// The embedded default: the shipped config.yaml, parsed when the programs
// were built (common/default_config_gen.cpp), so no program parses it again.
Config default_config();

// Loads YAML text over `base`: what each key sets replaces base's value.
// Unknown keys, wrong types and bad values are all reported.
tl::expected<Config, ConfigErrors> parse_config_over(Config base,
                                                     std::string_view yaml_text,
                                                     const std::string &source);

// Loads YAML text over the embedded default. Unknown keys, wrong types and
// bad values are all reported.
tl::expected<Config, ConfigErrors> parse_config(std::string_view yaml_text,
                                                std::string source_name);

// Loads a config file over the embedded default. A missing or unreadable file
// is a problem of its own.
tl::expected<Config, ConfigErrors>
load_config_file(const std::filesystem::path &file);

} // namespace mcpbk
