#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

namespace mcpbk::daemon {

// Collects change notices per path and says when each path is ready to be
// read: once it has been quiet for `quiet`, and no later than `max_delay`
// after its first unsettled change. Time is passed in, so it is stepped
// deterministically in tests.
class Debouncer {
public:
  using Clock = std::chrono::steady_clock;

  Debouncer(std::chrono::milliseconds quiet,
            std::chrono::milliseconds max_delay)
      : m_quiet(quiet), m_max_delay(max_delay) {}

  void set_delays(std::chrono::milliseconds quiet,
                  std::chrono::milliseconds max_delay) {
    m_quiet = quiet;
    m_max_delay = max_delay;
  }

  // Notes a change of a path at `now`.
  void touch(const std::filesystem::path &path, Clock::time_point now);

  // Removes and returns the paths that are due at `now`, in path order.
  std::vector<std::filesystem::path> take_due(Clock::time_point now);

  // The earliest time a path becomes due; std::nullopt when nothing waits.
  std::optional<Clock::time_point> next_deadline() const;

  std::size_t pending() const { return m_pending.size(); }

private:
  struct Pending {
    Clock::time_point first;
    Clock::time_point last;
  };
  Clock::time_point deadline(const Pending &p) const;

  std::chrono::milliseconds m_quiet;
  std::chrono::milliseconds m_max_delay;
  std::map<std::filesystem::path, Pending> m_pending;
};

} // namespace mcpbk::daemon
