#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mcpbk {

// Operating systems whose host paths the catalog knows.
enum class Os { gnu_linux, macos, windows };

// The OS this binary runs on.
Os current_os();

// File formats of host configuration files.
enum class Format { json, jsonc, toml, yaml };

// When a change to a watched file makes a snapshot (SPEC §5).
enum class Trigger { mcp, any };

// Why a snapshot was taken (SPEC §6).
enum class SnapshotTrigger {
  initial,
  change,
  manual,
  pre_restore,
  restore,
  imported
};

// Risk of a change against the previous snapshot of its path (SPEC §5).
enum class Risk { low, medium, high, critical };

enum class Severity { info, warning, error, critical };

enum class Compression { none, zstd };

const char *to_string(Os os);
const char *to_string(Format format);
const char *to_string(Trigger trigger);
const char *to_string(SnapshotTrigger trigger);
const char *to_string(Risk risk);
const char *to_string(Severity severity);
const char *to_string(Compression compression);

// Parsers for the spellings above; std::nullopt for an unknown spelling.
std::optional<Format> format_from_string(std::string_view text);
std::optional<Trigger> trigger_from_string(std::string_view text);
std::optional<SnapshotTrigger>
snapshot_trigger_from_string(std::string_view text);
std::optional<Risk> risk_from_string(std::string_view text);
std::optional<Severity> severity_from_string(std::string_view text);
std::optional<Compression> compression_from_string(std::string_view text);

} // namespace mcpbk
