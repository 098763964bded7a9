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
// min_keep, or the newest of a kept daily/weekly/monthly bucket. Ties in
// taken_at are ordered by id.
std::vector<RetentionDecision>
plan_retention(std::span<const RetentionItem> items,
               const RetentionPolicy &policy);

} // namespace mcpbk
