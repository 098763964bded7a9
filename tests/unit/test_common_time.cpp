#include <common/time.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

using namespace mcpbk;

namespace {

// 2026-11-21T10:00:00Z
constexpr Micros k_t = 1'795'255'200LL * k_micros_per_second;

// Sets TZ for the scope (parse_iso8601 reads zoneless times as local).
class LocalZone {
public:
  explicit LocalZone(const char *zone) {
    if (const char *old = std::getenv("TZ")) {
      m_old = old;
    }
    ::setenv("TZ", zone, 1);
    ::tzset();
  }
  ~LocalZone() {
    if (m_old) {
      ::setenv("TZ", m_old->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  LocalZone(const LocalZone &) = delete;
  LocalZone &operator=(const LocalZone &) = delete;

private:
  std::optional<std::string> m_old;
};

} // namespace

TEST_CASE("format_iso8601 and parse_iso8601") {
  CHECK(format_iso8601(k_t) == "2026-11-21T10:00:00.000000Z");
  CHECK(format_iso8601(k_t + 123'456) == "2026-11-21T10:00:00.123456Z");
  CHECK(format_iso8601(0) == "1970-01-01T00:00:00.000000Z");
  // Before the epoch, the day and the time of day still come out right.
  CHECK(format_iso8601(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_iso8601(-k_micros_per_day) == "1969-12-31T00:00:00.000000Z");

  SUBCASE("round trip, to the microsecond") {
    for (const Micros t : {k_t, k_t + 1, k_t + 999'999, Micros{0}, Micros{-1},
                           Micros{951'782'400} * k_micros_per_second}) {
      CHECK(parse_iso8601(format_iso8601(t)) == t);
    }
  }
  SUBCASE("zones and separators") {
    CHECK(parse_iso8601("2026-11-21T10:00:00Z") == k_t);
    CHECK(parse_iso8601("2026-11-21t10:00:00z") == k_t);
    CHECK(parse_iso8601("2026-11-21 11:00:00+01:00") == k_t);
    CHECK(parse_iso8601("2026-11-21T05:30-04:30") == k_t);
    CHECK(parse_iso8601("2026-11-21T10:00:00.5Z") == k_t + 500'000);
    CHECK(parse_iso8601("2026-11-21T10:00:00,25Z") == k_t + 250'000);
    // Digits past the microsecond are dropped.
    CHECK(parse_iso8601("2026-11-21T10:00:00.1234567Z") == k_t + 123'456);
    // A leap second is accepted (as the next minute's first second).
    CHECK(parse_iso8601("2016-12-31T23:59:60Z") ==
          parse_iso8601("2017-01-01T00:00:00Z"));
  }
  SUBCASE("a time without a zone is local time") {
    LocalZone zone("UTC+02"); // POSIX: two hours behind UTC
    CHECK(parse_iso8601("2026-11-21T08:00:00") == k_t);
    CHECK(parse_iso8601("2026-11-21") == parse_iso8601("2026-11-21T02:00:00Z"));
  }
  SUBCASE("malformed") {
    for (const char *bad : {"",
                            "2026",
                            "2026-11",
                            "2026-1-21",
                            "26-11-21",
                            "2026/11/21",
                            "2026-13-01",
                            "2026-02-30",
                            "2026-00-10",
                            "2026-11-21X10:00",
                            "2026-11-21T10",
                            "2026-11-21T1000",
                            "2026-11-21T24:00",
                            "2026-11-21T10:60",
                            "2026-11-21T10:00:61",
                            "2026-11-21T10:00:00.",
                            "2026-11-21T10:00:00+1:00",
                            "2026-11-21T10:00:00+01",
                            "2026-11-21T10:00:00Q",
                            "2026-11-21T10:00:00Z ",
                            " 2026-11-21",
                            "2026-11-21Z"}) {
      CAPTURE(bad);
      CHECK_FALSE(parse_iso8601(bad));
    }
    // 29 February only in leap years.
    CHECK(parse_iso8601("2024-02-29T00:00Z"));
    CHECK_FALSE(parse_iso8601("2026-02-29T00:00Z"));
  }
}

TEST_CASE("parse_duration") {
  CHECK(parse_duration("90s") == 90 * k_micros_per_second);
  CHECK(parse_duration("30m") == 1800 * k_micros_per_second);
  CHECK(parse_duration("2h") == 7200 * k_micros_per_second);
  CHECK(parse_duration("7d") == 7 * k_micros_per_day);
  CHECK(parse_duration("2w") == 14 * k_micros_per_day);
  CHECK(parse_duration("0s") == 0);
  CHECK(parse_duration("999999999h") == 999'999'999LL * 3600 * 1'000'000);
  // The longest that fits in the microseconds; one more day would overflow
  // (it gave a time in the future: `list --newer-than 999999999d` listed
  // nothing).
  CHECK(parse_duration("106751991d") == 106'751'991LL * k_micros_per_day);
  for (const char *bad :
       {"", "s", "5", "5y", "-5m", "+5m", "5 m", "1.5h", "1000000000s", "m5",
        "5mm", "106751992d", "999999999d", "15250285w", "999999999w"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad));
  }
}

TEST_CASE("relative_age") {
  const Micros s = k_micros_per_second;
  CHECK(relative_age(k_t, k_t) == "just now");
  CHECK(relative_age(k_t - 4 * s, k_t) == "just now");
  CHECK(relative_age(k_t - 5 * s, k_t) == "5s ago");
  CHECK(relative_age(k_t - 59 * s, k_t) == "59s ago");
  CHECK(relative_age(k_t - 60 * s, k_t) == "1m ago");
  CHECK(relative_age(k_t - 3599 * s, k_t) == "59m ago");
  CHECK(relative_age(k_t - 3600 * s, k_t) == "1h ago");
  CHECK(relative_age(k_t - k_micros_per_day, k_t) == "1d ago");
  CHECK(relative_age(k_t - 400 * k_micros_per_day, k_t) == "400d ago");
  // A snapshot dated ahead (a clock that was set wrong).
  CHECK(relative_age(k_t + 399 * k_micros_per_day, k_t) == "in 399d");
  CHECK(relative_age(k_t + 3 * 60 * s, k_t) == "in 3m");
}

TEST_CASE("format_local follows TZ") {
  LocalZone zone("UTC-01"); // POSIX: one hour ahead of UTC
  CHECK(format_local(k_t) == "2026-11-21 11:00:00");
  CHECK(format_local(k_t + 999'999) == "2026-11-21 11:00:00");
  CHECK(format_local(-1) == "1970-01-01 00:59:59");
}

TEST_CASE("calendar keys of the retention buckets (UTC)") {
  const auto at = [](const char *text) {
    const auto t = parse_iso8601(text);
    REQUIRE(t);
    return *t;
  };
  SUBCASE("days change at midnight UTC") {
    CHECK(utc_day_key(at("2026-11-21T23:59:59.999999Z")) + 1 ==
          utc_day_key(at("2026-11-22T00:00:00Z")));
    CHECK(utc_day_key(0) == 0);
    CHECK(utc_day_key(-1) == -1);
  }
  SUBCASE("ISO weeks start on Monday and belong to their Thursday's year") {
    // 2026-01-18 is a Sunday, 2026-01-19 a Monday.
    CHECK(utc_iso_week_key(at("2026-01-18T23:00:00Z")) == 202603);
    CHECK(utc_iso_week_key(at("2026-01-19T00:00:00Z")) == 202604);
    // 2026-01-01 is a Thursday: week 1 of 2026.
    CHECK(utc_iso_week_key(at("2026-01-01T00:00:00Z")) == 202601);
    CHECK(utc_iso_week_key(at("2025-12-29T00:00:00Z")) == 202601);
    // 2021-01-03 (a Sunday) is in week 53 of 2020.
    CHECK(utc_iso_week_key(at("2021-01-03T12:00:00Z")) == 202053);
    CHECK(utc_iso_week_key(at("2021-01-04T00:00:00Z")) == 202101);
    // Before the epoch: 1969-12-29 (a Monday) starts week 1 of 1970.
    CHECK(utc_iso_week_key(at("1969-12-29T00:00:00Z")) == 197001);
  }
  SUBCASE("months") {
    CHECK(utc_month_key(at("2026-01-31T23:59:59Z")) + 1 ==
          utc_month_key(at("2026-02-01T00:00:00Z")));
    CHECK(utc_month_key(at("2026-12-31T00:00:00Z")) + 1 ==
          utc_month_key(at("2027-01-01T00:00:00Z")));
    CHECK(utc_month_key(at("2026-03-15T00:00:00Z")) == 2026 * 12 + 2);
  }
}

TEST_CASE("wall_clock_offset_micros stays put while nobody sets the clock") {
  // The wall clock and the boot clock both advance in real time, so their
  // difference moves only by the few microseconds between the two reads
  // (and by NTP's slewing, far less than a second here).
  const Micros first = wall_clock_offset_micros();
  // The boot time it implies is in the past, after 1970.
  CHECK(first > 0);
  CHECK(first < now_micros());
  for (int i = 0; i < 1000; ++i) {
    const Micros again = wall_clock_offset_micros();
    CHECK(std::llabs(again - first) < k_micros_per_second);
  }
}
