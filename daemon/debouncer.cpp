#include <daemon/debouncer.hpp>

#include <algorithm>

namespace mcpbk::daemon {

void Debouncer::touch(const std::filesystem::path &path,
                      Clock::time_point now) {
  auto [it, inserted] = m_pending.try_emplace(path, Pending{now, now});
  if (!inserted) {
    it->second.last = now;
  }
}

Debouncer::Clock::time_point Debouncer::deadline(const Pending &p) const {
  return std::min(p.last + m_quiet, p.first + m_max_delay);
}

std::vector<std::filesystem::path> Debouncer::take_due(Clock::time_point now) {
  std::vector<std::filesystem::path> due;
  for (auto it = m_pending.begin(); it != m_pending.end();) {
    if (deadline(it->second) <= now) {
      due.push_back(it->first);
      it = m_pending.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

std::optional<Debouncer::Clock::time_point> Debouncer::next_deadline() const {
  std::optional<Clock::time_point> best;
  for (const auto &[path, p] : m_pending) {
    const auto d = deadline(p);
    if (!best || d < *best) {
      best = d;
    }
  }
  return best;
}

} // namespace mcpbk::daemon
