#pragma once

#include <common/config.hpp>
#include <common/env.hpp>
#include <common/hosts.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

namespace mcpbk {
class Store;
} // namespace mcpbk

namespace mcpbk::daemon {

// Requests that only read (ops::reads_of: list, show, diff, verify...)
// answered on threads of their own, each with a second connection to the
// store, so that a long one (a verify of a large store, a diff of two very
// different 2 MB files) delays neither the daemon's captures nor other
// clients (SPEC §8). SQLite's WAL lets those connections read while the
// daemon writes.
//
// Up to k_max_threads threads, started as requests find the others busy;
// requests beyond that wait their turn. The ops that can take long (diff,
// verify) are answered by at most k_max_long threads at once, so that one
// is always free for the others. Idle, a thread waits on a condition
// variable: no wakeups.
class ReaderLane {
public:
  static constexpr std::size_t k_max_threads = 3;
  static constexpr std::size_t k_max_long = 2;

  // What a request needs of the daemon, copied on the daemon's thread as
  // it is submitted.
  struct Job {
    nlohmann::json request;
    Config config;
    Env env;
    // Shared, not copied: with thousands of projects a copy per request
    // cost milliseconds.
    std::shared_ptr<const std::vector<WatchTarget>> targets;
    // An op that can take long (ops::Reads::slow: diff, verify).
    bool long_op = false;
    // Called on the lane's thread with the reply line, or std::nullopt when
    // the lane cannot read the daemon's store (the caller then answers it
    // itself).
    std::function<void(std::optional<std::string>)> done;
  };

  // A request being answered, for status.
  struct Running {
    std::string op;
    std::chrono::steady_clock::time_point since;
  };

  ReaderLane();
  // Lets the requests in progress finish, drops those waiting (their done
  // is not called) and joins the threads.
  ~ReaderLane();
  ReaderLane(const ReaderLane &) = delete;
  ReaderLane &operator=(const ReaderLane &) = delete;

  // The daemon's store: its file and identity (Store::identity()). Readers
  // open that file and read only while it is that database. Set before the
  // first submit() (by IpcServer) and whenever the daemon has reopened its
  // store.
  void set_store(std::filesystem::path file, std::pair<dev_t, ino_t> identity);

  void submit(Job job);

  // For shutdown: drops the requests waiting, interrupts those being
  // answered (their SQLite statements fail) and waits up to `wait` for the
  // threads to end. False when one is still busy (a diff's own work cannot
  // be interrupted): the process should then exit without destroying the
  // lane, which would wait for it.
  bool stop(std::chrono::milliseconds wait);

  // The requests being answered, and how many wait for a thread.
  std::vector<Running> running() const;
  std::size_t waiting() const;

  // No reader opens a connection while the returned lock lives: taken
  // while the daemon replaces its own connection (Store::reopen_replaced
  // moves the old file's WAL aside, then opens whatever the file now is),
  // with set_store() before it is released. Waits only for a reader that
  // is opening one; readers go on reading through the connections they
  // have, and change to the new file at their next request.
  std::unique_lock<std::mutex> pause();

private:
  struct Worker {
    // Used by the worker's thread only.
    std::unique_ptr<Store> store;
    // The store while a request reads it, for stop() to interrupt.
    std::mutex busy_mutex;
    Store *busy = nullptr;
    // Guarded by the lane's m_mutex.
    std::optional<Running> running;
    std::thread thread;
  };

  void run(Worker &worker);
  // The first queued job a free thread may take (m_queue.end() if none).
  std::deque<Job>::iterator next_job();
  std::optional<std::string> answer(Worker &worker, Job &job);

  // Held by a reader while it opens a connection, and by pause().
  std::mutex m_open_mutex;
  // Guards the queue, m_workers (the vector), each worker's running,
  // m_store_file, m_store_identity and m_stopping.
  mutable std::mutex m_mutex;
  std::filesystem::path m_store_file;
  std::pair<dev_t, ino_t> m_store_identity;
  std::condition_variable m_wake;
  std::deque<Job> m_queue;
  std::vector<std::unique_ptr<Worker>> m_workers;
  std::size_t m_idle = 0; // workers waiting for a job
  std::size_t m_long = 0; // long ops being answered
  std::size_t m_live = 0; // threads that have not returned
  std::condition_variable m_ended;
  bool m_stopping = false;
};

} // namespace mcpbk::daemon
