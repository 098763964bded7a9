#include <common/retention.hpp>

#include <algorithm>
#include <functional>

namespace mcpbk {

namespace {

// Marks the newest item of each of the `keep` most recent non-empty buckets.
void protect_buckets(const std::vector<const RetentionItem *> &newest_first,
                     std::uint64_t keep,
                     const std::function<std::int64_t(Micros)> &key_of,
                     std::vector<bool> &protected_flags) {
  if (keep == 0) {
    return;
  }
  std::uint64_t buckets = 0;
  std::optional<std::int64_t> last_key;
  for (std::size_t i = 0; i < newest_first.size() && buckets < keep; ++i) {
    const std::int64_t key = key_of(newest_first[i]->taken_at);
    if (!last_key || key != *last_key) {
      protected_flags[i] = true;
      last_key = key;
      ++buckets;
    }
  }
}

} // namespace

std::vector<RetentionDecision>
plan_retention(std::span<const RetentionItem> items,
               const RetentionPolicy &policy) {
  // Newest first: those recorded here by id, the imported ones by time.
  // An import goes before the first one recorded here that is not later
  // than it, a recorded one's time being the latest of it and everything
  // recorded before it (after a clock set back, the times recorded do not
  // decrease with the ids; this keeps an import from passing those recorded
  // since).
  std::vector<const RetentionItem *> recorded;
  std::vector<const RetentionItem *> imported;
  for (const auto &item : items) {
    (item.imported ? imported : recorded).push_back(&item);
  }
  if (items.empty()) {
    return {};
  }
  const auto by_id = [](const auto *a, const auto *b) {
    return a->id < b->id;
  };
  if (!std::is_sorted(recorded.begin(), recorded.end(), by_id)) {
    std::sort(recorded.begin(), recorded.end(), by_id); // the store's are
  }
  std::vector<Micros> latest_so_far;
  if (!imported.empty()) {
    latest_so_far.resize(recorded.size());
    for (std::size_t r = 0; r < recorded.size(); ++r) {
      latest_so_far[r] =
          r == 0 ? recorded[r]->taken_at
                 : std::max(latest_so_far[r - 1], recorded[r]->taken_at);
    }
  }
  std::sort(imported.begin(), imported.end(), [](const auto *a, const auto *b) {
    if (a->taken_at != b->taken_at) {
      return a->taken_at > b->taken_at;
    }
    return a->id > b->id;
  });
  std::vector<const RetentionItem *> order;
  order.reserve(items.size());
  std::size_t r = recorded.size(); // recorded[r - 1] is the next one
  std::size_t m = 0;
  while (r > 0 || m < imported.size()) {
    if (m < imported.size() &&
        (r == 0 || imported[m]->taken_at > latest_so_far[r - 1] ||
         (imported[m]->taken_at == latest_so_far[r - 1] &&
          imported[m]->id > recorded[r - 1]->id))) {
      order.push_back(imported[m++]);
    } else {
      order.push_back(recorded[--r]);
    }
  }

  std::vector<bool> keep(order.size(), false);
  keep[0] = true; // the newest
  // What this store recorded last is kept too: a capture compares the file
  // with it.
  const RetentionItem *last_recorded =
      recorded.empty() ? nullptr : recorded.back();
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
