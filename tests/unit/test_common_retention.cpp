#include <common/retention.hpp>

#include <doctest/doctest.h>

using namespace mcpbk;

namespace {

// 2026-01-15T12:00:00Z
constexpr Micros k_base = 1'768'478'400LL * k_micros_per_second;
constexpr Micros k_hour = 3600LL * k_micros_per_second;

RetentionPolicy only(std::uint64_t max_count, std::uint64_t max_age_days = 0,
                     std::uint64_t min_keep = 0) {
  RetentionPolicy p;
  p.max_count = max_count;
  p.max_age_days = max_age_days;
  p.min_keep = min_keep;
  return p;
}

std::vector<std::int64_t> ids(const std::vector<RetentionDecision> &d) {
  std::vector<std::int64_t> out;
  for (const auto &x : d) {
    out.push_back(x.id);
  }
  return out;
}

// n snapshots one hour apart, ids 1..n, all good.
std::vector<RetentionItem> hourly(int n) {
  std::vector<RetentionItem> items;
  for (int i = 1; i <= n; ++i) {
    items.push_back({i, k_base + i * k_hour, false, true});
  }
  return items;
}

} // namespace

TEST_CASE("plan_retention") {
  SUBCASE("max_count keeps exactly the newest n") {
    auto d = plan_retention(hourly(5), only(3));
    CHECK(ids(d) == std::vector<std::int64_t>{1, 2});
    CHECK(d[0].rule == "max_count");
  }
  SUBCASE("at the boundary nothing goes") {
    CHECK(plan_retention(hourly(3), only(3)).empty());
  }
  SUBCASE("0 disables every rule") {
    CHECK(plan_retention(hourly(50), only(0)).empty());
  }
  SUBCASE("min_keep > max_count wins") {
    auto d = plan_retention(hourly(6), only(2, 0, 4));
    CHECK(ids(d) == std::vector<std::int64_t>{1, 2});
  }
  SUBCASE("pinned survive") {
    auto items = hourly(5);
    items[0].pinned = true;
    CHECK(ids(plan_retention(items, only(2))) ==
          std::vector<std::int64_t>{2, 3});
  }
  SUBCASE("the newest is never deleted, even with max_count 1 and bad data") {
    auto items = hourly(3);
    for (auto &i : items) {
      i.good = false;
    }
    CHECK(ids(plan_retention(items, only(1))) ==
          std::vector<std::int64_t>{1, 2});
  }
  SUBCASE("the newest good survives a storm of bad writes") {
    auto items = hourly(10);
    for (std::size_t i = 3; i < items.size(); ++i) {
      items[i].good = false; // ids 4..10 are corrupt
    }
    auto d = plan_retention(items, only(3));
    CHECK(ids(d) == std::vector<std::int64_t>{1, 2, 4, 5, 6, 7});
  }
  SUBCASE("age is measured from the newest, not the clock") {
    std::vector<RetentionItem> items = {
        {1, k_base, false, true},
        {2, k_base + 10 * k_micros_per_day, false, true},
        {3, k_base + 10 * k_micros_per_day + k_micros_per_day, false, true},
    };
    // 11 days between 1 and 3: max_age 10 deletes 1 only.
    auto d = plan_retention(items, only(0, 10));
    CHECK(ids(d) == std::vector<std::int64_t>{1});
    CHECK(d[0].rule == "max_age_days");
    // Exactly max_age old is kept.
    CHECK(plan_retention(items, only(0, 11)).empty());
  }
  SUBCASE("ties in time are ordered by id") {
    std::vector<RetentionItem> items = {{7, k_base, false, true},
                                        {8, k_base, false, true},
                                        {9, k_base, false, true}};
    CHECK(ids(plan_retention(items, only(1))) ==
          std::vector<std::int64_t>{7, 8});
  }
  SUBCASE("daily buckets keep the newest of each of the last n days") {
    // Four per day over 5 days: ids 1..20.
    std::vector<RetentionItem> items;
    std::int64_t id = 1;
    for (int day = 0; day < 5; ++day) {
      for (int k = 0; k < 4; ++k) {
        items.push_back(
            {id++, k_base + day * k_micros_per_day + k * k_hour, false, true});
      }
    }
    RetentionPolicy p = only(1);
    p.keep_daily = 3;
    auto d = plan_retention(items, p);
    // Kept: 20 (newest, day 4), 16 (day 3), 12 (day 2).
    std::vector<std::int64_t> expected;
    for (std::int64_t i = 1; i <= 20; ++i) {
      if (i != 20 && i != 16 && i != 12) {
        expected.push_back(i);
      }
    }
    CHECK(ids(d) == expected);
  }
  SUBCASE("empty days do not count as buckets") {
    std::vector<RetentionItem> items = {
        {1, k_base, false, true},
        {2, k_base + 30 * k_micros_per_day, false, true},
        {3, k_base + 30 * k_micros_per_day + k_hour, false, true}};
    RetentionPolicy p = only(1);
    p.keep_daily = 2;
    // Two non-empty days: the newest of each (3 and 1) are kept.
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{2});
  }
  SUBCASE("monthly buckets across a month end") {
    // 2026-01-31T23:00Z and 2026-02-01T01:00Z are different months.
    const Micros jan31 = 1'769'900'400LL * k_micros_per_second;
    std::vector<RetentionItem> items = {{1, jan31 - k_hour, false, true},
                                        {2, jan31, false, true},
                                        {3, jan31 + 2 * k_hour, false, true},
                                        {4, jan31 + 3 * k_hour, false, true}};
    RetentionPolicy p = only(1);
    p.keep_monthly = 2;
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{1, 3});
  }
  SUBCASE("weekly buckets use ISO weeks (Monday start, UTC)") {
    // 2026-01-18 is a Sunday, 2026-01-19 a Monday.
    const Micros sunday = 1'768'737'600LL * k_micros_per_second; // 12:00Z
    std::vector<RetentionItem> items = {
        {1, sunday - k_hour, false, true},
        {2, sunday, false, true},
        {3, sunday + k_micros_per_day, false, true},
        {4, sunday + k_micros_per_day + k_hour, false, true}};
    RetentionPolicy p = only(1);
    p.keep_weekly = 2;
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{1, 3});
  }
  SUBCASE("buckets are days of the calendar, whatever the list order") {
    // Recorded in this order: 11-30 (a clock behind), 12-02, 12-05 (a
    // clock ahead), 12-02 (put right). The three latest days are 12-05,
    // 12-02 and 11-30; 12-02 met twice was counted as two buckets, which
    // pushed 11-30's only snapshot out.
    const Micros d = k_micros_per_day;
    std::vector<RetentionItem> items = {{1, k_base, false, true},
                                        {2, k_base + 2 * d, false, true},
                                        {3, k_base + 5 * d, false, true},
                                        {4, k_base + 2 * d + 1, false, true}};
    RetentionPolicy p = only(1);
    p.keep_daily = 3;
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{2});
    // Two days kept: the latest two by the calendar, 12-05 and 12-02.
    p.keep_daily = 2;
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{1, 2});
  }
  SUBCASE("a clock set back does not make new snapshots old") {
    // Five recorded with the right time, then three after the clock went
    // back 400 days: ordered by time, the three were the oldest and went
    // at once.
    auto items = hourly(5);
    const Micros back = k_base - 400 * k_micros_per_day;
    for (int i = 6; i <= 8; ++i) {
      items.push_back({i, back + i * k_hour, false, true});
    }
    RetentionPolicy p = only(100, 90, 3);
    CHECK(plan_retention(items, p).empty());
    // Counted in the order they were recorded: the first ones go.
    p.max_count = 5;
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{1, 2, 3});
    // Once the clock is right again, age counts from the newest recorded,
    // so the three are as old as their times say.
    items.push_back({9, k_base + 9 * k_hour, false, true});
    // (8 and 7 are among the newest min_keep recorded.)
    p.max_count = 100;
    CHECK(ids(plan_retention(items, p)) == std::vector<std::int64_t>{6});
  }
  SUBCASE("a clock that jumped ahead and was put right wipes nothing") {
    // Ten a day apart, one with the clock 400 days ahead, then four after
    // it was put right. Measured from the one ahead, every other was "older
    // than 90 days".
    std::vector<RetentionItem> items;
    for (int i = 1; i <= 10; ++i) {
      items.push_back({i, k_base + i * k_micros_per_day, false, true});
    }
    items.push_back({11, k_base + 410 * k_micros_per_day, false, true});
    for (int i = 12; i <= 15; ++i) {
      items.push_back({i, k_base + i * k_micros_per_day, false, true});
    }
    CHECK(plan_retention(items, only(100, 90, 3)).empty());
    // max_count counts the one ahead where it was recorded.
    CHECK(ids(plan_retention(items, only(4))) ==
          std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  }
  SUBCASE("imported snapshots take their place by time") {
    // Five recorded here a day apart; five imported from another machine,
    // from before them; one imported that is newer than all. (sort_at:
    // the latest time recorded up to each, an import's own time.)
    std::vector<RetentionItem> items;
    for (int i = 1; i <= 5; ++i) {
      const Micros at = k_base + i * k_micros_per_day;
      items.push_back({i, at, false, true, false, at});
    }
    for (int i = 6; i <= 10; ++i) {
      const Micros at = k_base - (20 - i) * k_micros_per_day;
      items.push_back({i, at, false, true, true, at});
    }
    CHECK(ids(plan_retention(items, only(5))) ==
          std::vector<std::int64_t>{6, 7, 8, 9, 10});
    const Micros ahead = k_base + 30 * k_micros_per_day;
    items.push_back({11, ahead, false, true, true, ahead});
    // The newer import is the newest; what this store recorded last stays
    // too, and age counts from it (the import ahead of it is not old).
    CHECK(ids(plan_retention(items, only(1))) ==
          std::vector<std::int64_t>{1, 2, 3, 4, 6, 7, 8, 9, 10});
    CHECK(ids(plan_retention(items, only(0, 2))) ==
          std::vector<std::int64_t>{1, 2, 6, 7, 8, 9, 10});
  }
  SUBCASE("the newest good one recorded here survives a good import") {
    std::vector<RetentionItem> items = {
        {1, k_base, false, true, false, k_base},
        {2, k_base + k_hour, false, true, false, k_base + k_hour},
        // recorded last, broken
        {3, k_base + 2 * k_hour, false, false, false, k_base + 2 * k_hour},
        {4, k_base + 3 * k_hour, false, true, true, k_base + 3 * k_hour}};
    CHECK(ids(plan_retention(items, only(1))) == std::vector<std::int64_t>{1});
  }
  SUBCASE("an import goes after what was recorded before a clock set back") {
    // Recorded today, then with the clock a year back (its place in the
    // order stays after today's), then an import from yesterday: listed
    // after both, so it is the one max_count deletes.
    std::vector<RetentionItem> items = {
        {1, k_base, false, true, false, k_base},
        {2, k_base - 365 * k_micros_per_day, false, true, false, k_base},
        {3, k_base - k_micros_per_day, false, true, true,
         k_base - k_micros_per_day}};
    CHECK(ids(plan_retention(items, only(2))) == std::vector<std::int64_t>{3});
    // Without sort_at the same history would be read by id alone only
    // when nothing was imported.
    items[2].imported = false;
    CHECK(ids(plan_retention(items, only(2))) == std::vector<std::int64_t>{1});
  }
  SUBCASE("nothing to do on an empty path") {
    CHECK(plan_retention({}, only(1)).empty());
  }
}

TEST_CASE("retention_deletes: only max_count and max_age_days delete") {
  CHECK(retention_deletes(only(1)));
  CHECK(retention_deletes(only(0, 1)));
  CHECK_FALSE(retention_deletes(only(0, 0, 5)));
  CHECK_FALSE(retention_deletes(RetentionPolicy{}));

  // With both off, no mix of the protecting rules plans a deletion, over
  // histories spread from hours to months, pinned and bad ones among them:
  // Store::plan_prune_ids() then skips reading the path's history.
  std::vector<std::vector<RetentionItem>> histories;
  for (const Micros step : {k_hour, k_micros_per_day, 9 * k_micros_per_day}) {
    std::vector<RetentionItem> items;
    for (int i = 1; i <= 60; ++i) {
      items.push_back({i, k_base + i * step, i % 7 == 0, i % 3 != 0});
    }
    histories.push_back(std::move(items));
  }
  for (const std::uint64_t min_keep : {0, 1, 3}) {
    for (const std::uint64_t daily : {0, 2}) {
      for (const std::uint64_t weekly : {0, 2}) {
        for (const std::uint64_t monthly : {0, 2}) {
          RetentionPolicy p = only(0, 0, min_keep);
          p.keep_daily = daily;
          p.keep_weekly = weekly;
          p.keep_monthly = monthly;
          REQUIRE_FALSE(retention_deletes(p));
          for (const auto &items : histories) {
            CHECK(plan_retention(items, p).empty());
            // Either deleting rule alone does delete from these histories.
            RetentionPolicy counted = p;
            counted.max_count = 5;
            CHECK_FALSE(plan_retention(items, counted).empty());
            RetentionPolicy aged = p;
            aged.max_age_days = 1;
            CHECK_FALSE(plan_retention(items, aged).empty());
          }
        }
      }
    }
  }
}
