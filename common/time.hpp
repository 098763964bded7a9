#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mcpbk {

// Microseconds since the Unix epoch, UTC. Every timestamp in the store and on
// the wire is one of these.
using Micros = std::int64_t;

constexpr Micros k_micros_per_second = 1'000'000;
constexpr Micros k_micros_per_day = 86'400 * k_micros_per_second;

// The current wall-clock time.
Micros now_micros();

// The wall clock minus the boot clock (which counts on through suspend):
// the same from one call to the next unless the wall clock is set, so a
// change of it is how far the clock was moved (ahead when positive).
Micros wall_clock_offset_micros();

// "2026-11-21T10:00:00.123456Z".
std::string format_iso8601(Micros t);

// Parses ISO 8601 dates and times: "2026-11-21", "2026-11-21T10:00",
// "2026-11-21T10:00:00Z", "2026-11-21 10:00:00.5+01:00". A time without a zone
// is local time. std::nullopt when malformed.
std::optional<Micros> parse_iso8601(std::string_view text);

// Parses a duration "90s", "30m", "2h", "7d", "2w"; std::nullopt when
// malformed.
std::optional<Micros> parse_duration(std::string_view text);

// "3m ago", "2h ago", "5d ago", "just now"; future times give "in 3m".
std::string relative_age(Micros t, Micros now);

// "2026-11-21 11:00:00" in the local time zone.
std::string format_local(Micros t);

// Calendar keys in UTC used by retention buckets.
std::int64_t utc_day_key(Micros t);
std::int64_t utc_iso_week_key(Micros t);
std::int64_t utc_month_key(Micros t);

} // namespace mcpbk
