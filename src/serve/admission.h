// The server's worker pool, with the time each connection waited for a worker.
//
// cpp-httplib hands every accepted connection to a task queue, and a worker then serves that
// connection until it closes (keep-alive). With more connections than workers the rest wait in
// the queue. Two rules bound that wait (issue 15, overload):
//  - a connection serves at most ServerOptions::keep_alive_max_requests requests before the
//    server closes it (then the client reconnects and queues behind the others), so a busy
//    keep-alive client cannot hold a worker for ever;
//  - a connection that waited longer than ServerOptions::max_queue_wait_ms gets its first
//    request answered 503 with Retry-After (the server is past what it can serve in time; the
//    client is told to back off instead of adding to the queue).
// The queue itself is unbounded (the kernel's accept backlog is the real bound; a refused
// connection is worse than a fast 503).
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace cascade {

class AdmissionQueue : public httplib::TaskQueue {
 public:
  explicit AdmissionQueue(size_t workers);
  ~AdmissionQueue() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  /// Connections waiting for a worker now.
  size_t queued() const;
  /// On a worker thread: how long (ms) the connection it serves waited for the worker, the
  /// first time it is asked for that connection; nullopt afterwards and on other threads.
  static std::optional<double> take_connection_wait_ms();

 private:
  struct Job {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point queued_at;
  };
  void work();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cascade
