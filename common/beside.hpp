#pragma once

#include <functional>
#include <future>
#include <memory>
#include <utility>

namespace mcpbk {

// Hands one piece of work to the helper thread (below).
void run_beside(std::function<void()> work);

// Work a caller runs beside its own, on a helper thread kept for it (a
// restore hashes the file it replaces while it writes the new one).
//
// The thread is started on first use and then sleeps until work comes: it
// makes no wakeups of its own. A thread started for each piece of work
// would not help here: Linux puts a new thread on its creator's core, where
// it waits for the creator's time slice (1–2 ms) while the other core is
// idle; a sleeping thread woken is put on an idle core.
//
// The work runs in the order given, one piece at a time. A Beside<T> waits
// for its work when destroyed, so the work may use the caller's locals.
template <class T> class Beside {
public:
  template <class F>
  explicit Beside(F &&work)
      : m_task(
            std::make_shared<std::packaged_task<T()>>(std::forward<F>(work))),
        m_result(m_task->get_future()) {
    run_beside([task = m_task] { (*task)(); });
  }
  Beside(const Beside &) = delete;
  Beside &operator=(const Beside &) = delete;
  ~Beside() {
    if (m_result.valid()) {
      m_result.wait();
    }
  }

  // Waits for the work; its exception, if it threw, is thrown here.
  T get() { return m_result.get(); }

private:
  std::shared_ptr<std::packaged_task<T()>> m_task;
  std::future<T> m_result;
};

} // namespace mcpbk
