#include <common/retention.hpp>

#include <algorithm>
#include <functional>
#include <optional>

namespace mcpbk {

namespace {

// Marks the newest item (in list order) of each of the `keep` most recent
// non-empty buckets, most recent by the calendar: where times are out of
// list order (a clock put right, an import dated ahead), a day met twice
// is still one bucket, and the days kept are the latest ones.
void protect_buckets(const std::vector<const RetentionItem *> &newest_first,
                     std::uint64_t keep,
                     const std::function<std::int64_t(Micros)> &key_of,
                     std::vector<bool> &protected_flags) {
  if (keep == 0) {
    return;
  }
  // (key, index) of each item, latest bucket first and, within one, in
  // list order; a history recorded in order is so already.
  std::vector<std::pair<std::int64_t, std::size_t>> keyed;
  keyed.reserve(newest_first.size());
  for (std::size_t i = 0; i < newest_first.size(); ++i) {
    keyed.emplace_back(key_of(newest_first[i]->taken_at), i);
  }
  const auto later = [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  if (!std::is_sorted(keyed.begin(), keyed.end(), later)) {
    std::sort(keyed.begin(), keyed.end(), later);
  }
  std::uint64_t buckets = 0;
  std::optional<std::int64_t> last_key;
  for (const auto &[key, index] : keyed) {
    if (buckets == keep) {
      break;
    }
    if (!last_key || key != *last_key) {
      protected_flags[index] = true;
      last_key = key;
      ++buckets;
    }
  }
}

} // namespace

std::vector<RetentionDecision>
plan_retention(std::span<const RetentionItem> items,
               const RetentionPolicy &policy) {
  // Newest first. Without imports that is the order of the ids; with
  // them, (sort_at, id): those recorded here keep the order of their ids
  // (sort_at never decreases with them, even after a clock set back), and
  // an import goes among them by its time.
  if (items.empty()) {
    return {};
  }
  std::vector<const RetentionItem *> order;
  order.reserve(items.size());
  const RetentionItem *last_recorded = nullptr;
  bool any_imported = false;
  for (const auto &item : items) {
    order.push_back(&item);
    any_imported = any_imported || item.imported;
    if (!item.imported && (!last_recorded || item.id > last_recorded->id)) {
      last_recorded = &item;
    }
  }
  const auto newer = [any_imported](const auto *a, const auto *b) {
    if (any_imported && a->sort_at != b->sort_at) {
      return a->sort_at > b->sort_at;
    }
    return a->id > b->id;
  };
  std::reverse(order.begin(), order.end()); // the store's come in id order
  if (!std::is_sorted(order.begin(), order.end(), newer)) {
    std::sort(order.begin(), order.end(), newer);
  }

  std::vector<bool> keep(order.size(), false);
  keep[0] = true; // the newest
  // What this store recorded last is kept too: age counts from it.
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i < policy.min_keep || order[i]->pinned || order[i] == last_recorded) {
      keep[i] = true;
    }
  }
  // The newest good one, and the newest good one recorded here (an import
  // of another machine's copy may be ahead of it).
  for (const bool recorded_only : {false, true}) {
    for (std::size_t k = 0; k < order.size(); ++k) {
      if (order[k]->good && !(recorded_only && order[k]->imported)) {
        keep[k] = true;
        break;
      }
    }
  }
  protect_buckets(order, policy.keep_daily, utc_day_key, keep);
  protect_buckets(order, policy.keep_weekly, utc_iso_week_key, keep);
  protect_buckets(order, policy.keep_monthly, utc_month_key, keep);

  const Micros newest =
      last_recorded ? last_recorded->taken_at : order[0]->taken_at;
  const Micros max_age =
      static_cast<Micros>(policy.max_age_days) * k_micros_per_day;
  std::vector<RetentionDecision> out;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (keep[i]) {
      continue;
    }
    if (policy.max_age_days > 0 && newest - order[i]->taken_at > max_age) {
      out.push_back({order[i]->id, "max_age_days"});
    } else if (policy.max_count > 0 && i >= policy.max_count) {
      out.push_back({order[i]->id, "max_count"});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto &a, const auto &b) { return a.id < b.id; });
  return out;
}

} // namespace mcpbk
