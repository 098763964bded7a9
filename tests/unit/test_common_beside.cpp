#include <common/beside.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace mcpbk;

TEST_CASE("beside: the work's result, from another thread") {
  const std::string text(1 << 20, 'x');
  Beside<std::size_t> job([&text] { return text.size(); });
  Beside<std::thread::id> where([] { return std::this_thread::get_id(); });
  CHECK(job.get() == text.size());
  CHECK(where.get() != std::this_thread::get_id());
}

TEST_CASE("beside: what the work throws is thrown by get") {
  Beside<int> job([]() -> int { throw std::runtime_error("no"); });
  CHECK_THROWS_WITH_AS(job.get(), "no", std::runtime_error);
  // The helper goes on after a throw.
  Beside<int> next([] { return 7; });
  CHECK(next.get() == 7);
}

TEST_CASE("beside: pieces run in the order given, one at a time") {
  std::vector<int> order;
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  {
    std::vector<std::unique_ptr<Beside<int>>> jobs;
    for (int i = 0; i < 20; ++i) {
      jobs.push_back(std::make_unique<Beside<int>>([&, i] {
        if (running.fetch_add(1) != 0) {
          overlapped = true;
        }
        order.push_back(i);
        running.fetch_sub(1);
        return i;
      }));
    }
    for (int i = 0; i < 20; ++i) {
      CHECK(jobs[static_cast<std::size_t>(i)]->get() == i);
    }
  }
  CHECK_FALSE(overlapped);
  REQUIRE(order.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(order[static_cast<std::size_t>(i)] == i);
  }
}

TEST_CASE("beside: destroyed unasked, it waits for its work") {
  std::atomic<bool> done{false};
  {
    // The work outlives a scope left without get() (an exception in the
    // caller) only if the destructor waits: it writes the caller's local.
    Beside<int> job([&done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      done = true;
      return 0;
    });
  }
  CHECK(done);
}
