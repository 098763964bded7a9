#include <common/types.hpp>

#include <array>
#include <utility>

namespace mcpbk {

namespace {

template <typename E, std::size_t N>
const char *name_of(const std::array<std::pair<E, const char *>, N> &table,
                    E value) {
  for (const auto &[v, name] : table) {
    if (v == value) {
      return name;
    }
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E>
value_of(const std::array<std::pair<E, const char *>, N> &table,
         std::string_view text) {
  for (const auto &[v, name] : table) {
    if (text == name) {
      return v;
    }
  }
  return std::nullopt;
}

constexpr std::array<std::pair<Os, const char *>, 3> k_os = {{
    {Os::gnu_linux, "linux"},
    {Os::macos, "macos"},
    {Os::windows, "windows"},
}};
constexpr std::array<std::pair<Format, const char *>, 4> k_formats = {{
    {Format::json, "json"},
    {Format::jsonc, "jsonc"},
    {Format::toml, "toml"},
    {Format::yaml, "yaml"},
}};
constexpr std::array<std::pair<Trigger, const char *>, 2> k_triggers = {{
    {Trigger::mcp, "mcp"},
    {Trigger::any, "any"},
}};
constexpr std::array<std::pair<SnapshotTrigger, const char *>, 6>
    k_snapshot_triggers = {{
        {SnapshotTrigger::initial, "initial"},
        {SnapshotTrigger::change, "change"},
        {SnapshotTrigger::manual, "manual"},
        {SnapshotTrigger::pre_restore, "pre-restore"},
        {SnapshotTrigger::restore, "restore"},
        {SnapshotTrigger::imported, "import"},
    }};
constexpr std::array<std::pair<Risk, const char *>, 4> k_risks = {{
    {Risk::low, "low"},
    {Risk::medium, "medium"},
    {Risk::high, "high"},
    {Risk::critical, "critical"},
}};
constexpr std::array<std::pair<Severity, const char *>, 4> k_severities = {{
    {Severity::info, "info"},
    {Severity::warning, "warning"},
    {Severity::error, "error"},
    {Severity::critical, "critical"},
}};
constexpr std::array<std::pair<Compression, const char *>, 2> k_compressions = {
    {
        {Compression::none, "none"},
        {Compression::zstd, "zstd"},
    }};

} // namespace

Os current_os() {
#if defined(__APPLE__)
  return Os::macos;
#elif defined(_WIN32)
  return Os::windows;
#else
  return Os::gnu_linux;
#endif
}

const char *to_string(Os os) {
  return name_of(k_os, os);
}
const char *to_string(Format format) {
  return name_of(k_formats, format);
}
const char *to_string(Trigger trigger) {
  return name_of(k_triggers, trigger);
}
const char *to_string(SnapshotTrigger trigger) {
  return name_of(k_snapshot_triggers, trigger);
}
const char *to_string(Risk risk) {
  return name_of(k_risks, risk);
}
const char *to_string(Severity severity) {
  return name_of(k_severities, severity);
}
const char *to_string(Compression compression) {
  return name_of(k_compressions, compression);
}

std::optional<Format> format_from_string(std::string_view text) {
  return value_of(k_formats, text);
}
std::optional<Trigger> trigger_from_string(std::string_view text) {
  return value_of(k_triggers, text);
}
std::optional<SnapshotTrigger>
snapshot_trigger_from_string(std::string_view text) {
  return value_of(k_snapshot_triggers, text);
}
std::optional<Risk> risk_from_string(std::string_view text) {
  return value_of(k_risks, text);
}
std::optional<Severity> severity_from_string(std::string_view text) {
  return value_of(k_severities, text);
}
std::optional<Compression> compression_from_string(std::string_view text) {
  return value_of(k_compressions, text);
}

} // namespace mcpbk
