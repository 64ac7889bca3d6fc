// Cooperative cancellation of long jobs (fits, bundle builds) from outside the job.
//
// A caller that wants to be able to stop a job (the Python module on Ctrl-C) runs it on a
// thread with a CancelScope pointing at a flag it owns, and sets the flag to ask for a stop.
// Long loops call check_cancelled() at points where stopping leaves nothing half-written (once
// per ALS iteration, per training epoch, per boosting round); it throws Cancelled there, and the
// exception unwinds the job like any other error (a model being fitted keeps no partial state
// that could be saved, because save() is only reached after fit() returns).
//
// The flag is per thread (a thread_local pointer), so two jobs on two threads are cancelled
// independently; worker threads a job starts (OpenMP, parallel_for) do not check: the loop that
// owns them does, between parallel sections.
#pragma once

#include <atomic>

#include "cascade/core/error.h"

namespace cascade {

/// Thrown by check_cancelled() when the calling thread's job was asked to stop.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

/// Installs `flag` as the calling thread's cancel flag for the scope's lifetime (restoring the
/// previous one after), so scopes nest.
class CancelScope {
 public:
  explicit CancelScope(const std::atomic<bool>* flag);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

/// True when the calling thread has a cancel flag and it is set.
bool cancel_requested();

/// Throws Cancelled when cancel_requested().
void check_cancelled();

}  // namespace cascade
