#include <common/beside.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace mcpbk {

namespace {

class Helper {
public:
  Helper() : m_thread([this] { loop(); }) {}
  Helper(const Helper &) = delete;
  Helper &operator=(const Helper &) = delete;
  ~Helper() {
    {
      const std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_one();
    m_thread.join();
  }

  void post(std::function<void()> work) {
    {
      const std::lock_guard lock(m_mutex);
      m_queue.push_back(std::move(work));
    }
    m_wake.notify_one();
  }

private:
  void loop() {
    std::unique_lock lock(m_mutex);
    for (;;) {
      m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
      if (m_queue.empty()) {
        return; // stopping, with nothing left to run
      }
      std::function<void()> work = std::move(m_queue.front());
      m_queue.pop_front();
      lock.unlock();
      work(); // a packaged_task: keeps what it throws for its future
      lock.lock();
    }
  }

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<std::function<void()>> m_queue;
  bool m_stop = false;
  std::thread m_thread; // last: started once the members above exist
};

} // namespace

void run_beside(std::function<void()> work) {
  static Helper helper;
  helper.post(std::move(work));
}

} // namespace mcpbk
