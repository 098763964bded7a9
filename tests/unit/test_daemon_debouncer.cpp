#include <daemon/debouncer.hpp>

#include <doctest/doctest.h>

using mcpbk::daemon::Debouncer;
using namespace std::chrono_literals;

TEST_CASE("Debouncer") {
  Debouncer d(200ms, 2000ms);
  const auto t0 = Debouncer::Clock::time_point{} + 1h;

  SUBCASE("a path is due once it has been quiet") {
    d.touch("/a", t0);
    d.touch("/a", t0 + 100ms);
    CHECK(d.next_deadline() == t0 + 300ms);
    CHECK(d.take_due(t0 + 299ms).empty());
    CHECK(d.take_due(t0 + 300ms) == std::vector<std::filesystem::path>{"/a"});
    CHECK(d.pending() == 0);
    CHECK_FALSE(d.next_deadline().has_value());
  }
  SUBCASE("a path rewritten forever is due after max_delay") {
    for (int i = 0; i < 100; ++i) {
      d.touch("/busy", t0 + i * 50ms);
      const auto due = d.take_due(t0 + i * 50ms);
      if (t0 + i * 50ms >= t0 + 2000ms) {
        CHECK(due == std::vector<std::filesystem::path>{"/busy"});
        return;
      }
      CHECK(due.empty());
    }
    FAIL("never became due");
  }
  SUBCASE("paths are independent") {
    d.touch("/a", t0);
    d.touch("/b", t0 + 150ms);
    CHECK(d.take_due(t0 + 200ms) == std::vector<std::filesystem::path>{"/a"});
    CHECK(d.next_deadline() == t0 + 350ms);
    CHECK(d.take_due(t0 + 350ms) == std::vector<std::filesystem::path>{"/b"});
  }
}
