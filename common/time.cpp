#include <common/time.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <time.h>

namespace mcpbk {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}

bool all_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) {
    v = v * 10 + (c - '0');
  }
  return v;
}

} // namespace

Micros now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch())
      .count();
}

Micros wall_clock_offset_micros() {
#if defined(CLOCK_BOOTTIME)
  constexpr clockid_t boot = CLOCK_BOOTTIME;
#else
  constexpr clockid_t boot = CLOCK_MONOTONIC; // macOS: counts through sleep
#endif
  timespec wall{};
  timespec since_boot{};
  ::clock_gettime(CLOCK_REALTIME, &wall);
  ::clock_gettime(boot, &since_boot);
  const auto micros = [](const timespec &t) {
    return static_cast<Micros>(t.tv_sec) * k_micros_per_second +
           t.tv_nsec / 1000;
  };
  return micros(wall) - micros(since_boot);
}

std::string format_iso8601(Micros t) {
  using namespace std::chrono;
  const sys_days day{days{floor_div(t, k_micros_per_day)}};
  const year_month_day ymd{day};
  const Micros in_day = t - floor_div(t, k_micros_per_day) * k_micros_per_day;
  const auto secs = in_day / k_micros_per_second;
  const auto frac = in_day % k_micros_per_second;
  char buf[64];
  std::snprintf(
      buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
      static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
      static_cast<unsigned>(ymd.day()), static_cast<long long>(secs / 3600),
      static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
      static_cast<long long>(frac));
  return buf;
}

std::optional<Micros> parse_iso8601(std::string_view s) {
  using namespace std::chrono;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' ||
      !all_digits(s.substr(0, 4)) || !all_digits(s.substr(5, 2)) ||
      !all_digits(s.substr(8, 2))) {
    return std::nullopt;
  }
  const year_month_day ymd{year{to_int(s.substr(0, 4))},
                           month{static_cast<unsigned>(to_int(s.substr(5, 2)))},
                           day{static_cast<unsigned>(to_int(s.substr(8, 2)))}};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  s.remove_prefix(10);
  int hh = 0, mm = 0, ss = 0;
  Micros frac = 0;
  bool has_zone = false;
  Micros zone_offset = 0;
  if (!s.empty()) {
    if (s[0] != 'T' && s[0] != 't' && s[0] != ' ') {
      return std::nullopt;
    }
    s.remove_prefix(1);
    if (s.size() < 5 || s[2] != ':' || !all_digits(s.substr(0, 2)) ||
        !all_digits(s.substr(3, 2))) {
      return std::nullopt;
    }
    hh = to_int(s.substr(0, 2));
    mm = to_int(s.substr(3, 2));
    s.remove_prefix(5);
    if (!s.empty() && s[0] == ':') {
      if (s.size() < 3 || !all_digits(s.substr(1, 2))) {
        return std::nullopt;
      }
      ss = to_int(s.substr(1, 2));
      s.remove_prefix(3);
      if (!s.empty() && (s[0] == '.' || s[0] == ',')) {
        s.remove_prefix(1);
        std::size_t n = 0;
        Micros scale = 100000;
        while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
          frac += (s[n] - '0') * scale;
          scale /= 10;
          ++n;
        }
        if (n == 0) {
          return std::nullopt;
        }
        s.remove_prefix(n);
      }
    }
    if (hh > 23 || mm > 59 || ss > 60) {
      return std::nullopt;
    }
    if (!s.empty()) {
      if (s == "Z" || s == "z") {
        has_zone = true;
      } else if ((s[0] == '+' || s[0] == '-') && s.size() == 6 && s[3] == ':' &&
                 all_digits(s.substr(1, 2)) && all_digits(s.substr(4, 2))) {
        has_zone = true;
        zone_offset =
            (to_int(s.substr(1, 2)) * 3600LL + to_int(s.substr(4, 2)) * 60LL) *
            k_micros_per_second;
        if (s[0] == '-') {
          zone_offset = -zone_offset;
        }
      } else {
        return std::nullopt;
      }
    }
  }
  const Micros days_since = sys_days{ymd}.time_since_epoch().count();
  const Micros wall = days_since * k_micros_per_day +
                      (hh * 3600LL + mm * 60LL + ss) * k_micros_per_second +
                      frac;
  if (has_zone) {
    return wall - zone_offset;
  }
  // Local time: let mktime find the offset.
  std::tm tm{};
  tm.tm_year = static_cast<int>(ymd.year()) - 1900;
  tm.tm_mon = static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
  tm.tm_mday = static_cast<int>(static_cast<unsigned>(ymd.day()));
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  tm.tm_isdst = -1;
  const std::time_t local = std::mktime(&tm);
  if (local == static_cast<std::time_t>(-1)) {
    return std::nullopt;
  }
  return static_cast<Micros>(local) * k_micros_per_second + frac;
}

std::optional<Micros> parse_duration(std::string_view s) {
  if (s.size() < 2) {
    return std::nullopt;
  }
  const char unit = s.back();
  const std::string_view digits = s.substr(0, s.size() - 1);
  if (!all_digits(digits) || digits.size() > 9) {
    return std::nullopt;
  }
  Micros unit_micros = 0;
  switch (unit) {
  case 's':
    unit_micros = k_micros_per_second;
    break;
  case 'm':
    unit_micros = 60 * k_micros_per_second;
    break;
  case 'h':
    unit_micros = 3600 * k_micros_per_second;
    break;
  case 'd':
    unit_micros = k_micros_per_day;
    break;
  case 'w':
    unit_micros = 7 * k_micros_per_day;
    break;
  default:
    return std::nullopt;
  }
  // Nine digits of days or weeks would overflow the microseconds.
  const Micros n = to_int(digits);
  if (n > std::numeric_limits<Micros>::max() / unit_micros) {
    return std::nullopt;
  }
  return n * unit_micros;
}

std::string relative_age(Micros t, Micros now) {
  Micros d = now - t;
  const bool future = d < 0;
  if (future) {
    d = -d;
  }
  const Micros s = d / k_micros_per_second;
  std::string text;
  if (s < 5) {
    return "just now";
  }
  if (s < 60) {
    text = std::to_string(s) + "s";
  } else if (s < 3600) {
    text = std::to_string(s / 60) + "m";
  } else if (s < 86400) {
    text = std::to_string(s / 3600) + "h";
  } else {
    text = std::to_string(s / 86400) + "d";
  }
  return future ? "in " + text : text + " ago";
}

std::string format_local(Micros t) {
  const std::time_t secs =
      static_cast<std::time_t>(floor_div(t, k_micros_per_second));
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::int64_t utc_day_key(Micros t) {
  return floor_div(t, k_micros_per_day);
}

std::int64_t utc_iso_week_key(Micros t) {
  using namespace std::chrono;
  const std::int64_t day = utc_day_key(t);
  // 1970-01-01 was a Thursday; ISO weeks start on Monday.
  const std::int64_t weekday = ((day + 3) % 7 + 7) % 7; // 0 = Monday
  const std::int64_t thursday = day - weekday + 3;
  const year_month_day ymd{sys_days{days{thursday}}};
  const std::int64_t jan1 =
      sys_days{ymd.year() / January / 1}.time_since_epoch().count();
  const std::int64_t week = (thursday - jan1) / 7 + 1;
  return static_cast<int>(ymd.year()) * 100 + week;
}

std::int64_t utc_month_key(Micros t) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{utc_day_key(t)}}};
  return static_cast<int>(ymd.year()) * 12 +
         static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
}

} // namespace mcpbk
