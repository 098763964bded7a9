#include <daemon/reader_lane.hpp>

#include <common/compress.hpp>
#include <common/ops/ops.hpp>
#include <common/store.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mcpbk::daemon {

ReaderLane::ReaderLane() = default;

ReaderLane::~ReaderLane() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
    m_queue.clear();
  }
  m_wake.notify_all();
  for (auto &worker : m_workers) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
}

void ReaderLane::submit(Job job) {
  {
    const std::lock_guard lock(m_mutex);
    if (m_stopping) {
      return;
    }
    m_queue.push_back(std::move(job));
    if (m_idle < m_queue.size() && m_workers.size() < k_max_threads) {
      auto &worker = *m_workers.emplace_back(std::make_unique<Worker>());
      ++m_live;
      worker.thread = std::thread([this, &worker] {
        run(worker);
        const std::lock_guard ended(m_mutex);
        --m_live;
        m_ended.notify_all();
      });
    }
  }
  m_wake.notify_one();
}

bool ReaderLane::stop(std::chrono::milliseconds wait) {
  std::unique_lock lock(m_mutex);
  m_stopping = true;
  m_queue.clear();
  m_wake.notify_all();
  for (const auto &worker : m_workers) {
    const std::lock_guard busy(worker->busy_mutex);
    if (worker->busy != nullptr) {
      worker->busy->interrupt();
    }
  }
  return m_ended.wait_for(lock, wait, [this] { return m_live == 0; });
}

std::vector<ReaderLane::Running> ReaderLane::running() const {
  const std::lock_guard lock(m_mutex);
  std::vector<Running> result;
  for (const auto &worker : m_workers) {
    if (worker->running) {
      result.push_back(*worker->running);
    }
  }
  return result;
}

std::size_t ReaderLane::waiting() const {
  const std::lock_guard lock(m_mutex);
  return m_queue.size();
}

std::unique_lock<std::mutex> ReaderLane::pause() {
  return std::unique_lock(m_open_mutex);
}

void ReaderLane::set_store(std::filesystem::path file,
                           std::pair<dev_t, ino_t> identity) {
  const std::lock_guard lock(m_mutex);
  m_store_file = std::move(file);
  m_store_identity = identity;
}

void ReaderLane::run(Worker &worker) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(m_mutex);
      ++m_idle;
      m_wake.wait(lock,
                  [this] { return m_stopping || next_job() != m_queue.end(); });
      --m_idle;
      if (m_stopping) {
        return;
      }
      const auto next = next_job();
      job = std::move(*next);
      m_queue.erase(next);
      if (job.long_op) {
        ++m_long;
      }
      worker.running = Running{job.request.value("op", std::string()),
                               std::chrono::steady_clock::now()};
    }
    std::optional<std::string> reply = answer(worker, job);
    // As the daemon does when idle: what a long request read is not kept
    // (the daemon's idle timer then trims the heap).
    if (worker.store) {
      worker.store->release_memory();
    }
    release_compression_memory();
    {
      const std::lock_guard lock(m_mutex);
      worker.running.reset();
      if (job.long_op) {
        --m_long;
      }
    }
    if (job.long_op) {
      // A long op waiting may now be taken.
      m_wake.notify_all();
    }
    job.done(std::move(reply));
  }
}

std::deque<ReaderLane::Job>::iterator ReaderLane::next_job() {
  return std::ranges::find_if(m_queue, [this](const Job &job) {
    return !job.long_op || m_long < k_max_long;
  });
}

std::optional<std::string> ReaderLane::answer(Worker &worker, Job &job) {
  auto &store = worker.store;
  const auto daemons = [this] {
    const std::lock_guard lock(m_mutex);
    return std::pair(m_store_file, m_store_identity);
  };
  if (store && store->identity() != daemons().second) {
    // The daemon has reopened its store since this connection was opened.
    store.reset();
  }
  if (!store) {
    const std::lock_guard opening(m_open_mutex);
    const auto [file, identity] = daemons();
    auto opened = Store::open_reader(file, job.config.store.compression);
    if (!opened) {
      spdlog::debug("reader: cannot open {}: {}", file.string(),
                    opened.error().message);
      return std::nullopt;
    }
    store = std::make_unique<Store>(std::move(*opened));
    if (store->identity() != identity) {
      // Another file than the daemon's own: it was deleted or replaced,
      // and the daemon has not reopened yet.
      store.reset();
      return std::nullopt;
    }
  }
  if (auto begun = store->begin_reading(); !begun) {
    spdlog::debug("reader: {}", begun.error().message);
    store.reset();
    return std::nullopt;
  }
  {
    const std::lock_guard busy(worker.busy_mutex);
    worker.busy = store.get();
  }
  {
    // A stop() between taking the job and the line above found nothing
    // to interrupt.
    const std::lock_guard lock(m_mutex);
    if (m_stopping) {
      store->interrupt();
    }
  }
  ops::Context context{*store,       job.config, job.env,
                       current_os(), nullptr,    std::move(job.targets),
                       {},           {}};
  std::string reply = ops::reply_line(context, job.request);
  ops::finish_after_reply(context);
  {
    const std::lock_guard busy(worker.busy_mutex);
    worker.busy = nullptr;
  }
  store->end_reading();
  return reply;
}

} // namespace mcpbk::daemon
