#pragma once

#include <common/config.hpp>
#include <common/time.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mcpbk {

// What retention needs to know of one snapshot of a path.
struct RetentionItem {
  std::int64_t id = 0;
  Micros taken_at = 0;
  bool pinned = false;
  bool good = false; // parseable with at least one MCP server
  // Recorded by `import` with the time of another store. The others were
  // recorded here, in id order, with this machine's clock at the time.
  bool imported = false;
  // Its place in the store's order (Store::list, by (sort_at, id)): an
  // import's own time; for one recorded here, its time or the latest
  // sort_at in the store when it was recorded, if later. Needed only when
  // some item is imported: without imports the order is the ids'.
  Micros sort_at = 0;
};

// A snapshot retention deletes, and the rule that deletes it.
struct RetentionDecision {
  std::int64_t id = 0;
  std::string rule; // "max_count" or "max_age_days"
  bool operator==(const RetentionDecision &) const = default;
};

// Whether the policy can delete anything: only max_count and max_age_days
// delete, every other rule protects. With both off (0) retention keeps
// every snapshot, and need not read a path's history to find that out.
constexpr bool retention_deletes(const RetentionPolicy &policy) {
  return policy.max_count > 0 || policy.max_age_days > 0;
}

// The snapshots of one path that the policy deletes (SPEC §7), in id order.
// Age is measured from the path's newest snapshot, not from the clock. Never
// deletes the newest, the newest good, a pinned one, one of the newest
// min_keep, or the newest of a kept daily/weekly/monthly bucket.
//
// "Newest" is the order in which this store recorded them (ids), not their
// times, so that a clock set back, or set ahead and put right, does not
// wipe history. After the clock went back, new snapshots carry older times
// than those before them; after it jumped ahead and was put right, one
// snapshot carries a time far ahead of the rest. Ordered by time, either
// made retention delete history: the new snapshots as they were recorded,
// or everything "older" than the one ahead. Age is counted back from the
// time of the newest recorded snapshot, and a snapshot with a later time
// than that is not old. Imported snapshots keep their place in time among
// those recorded here: items are ordered by (sort_at, id), the order
// Store::list() shows.
std::vector<RetentionDecision>
plan_retention(std::span<const RetentionItem> items,
               const RetentionPolicy &policy);

} // namespace mcpbk
