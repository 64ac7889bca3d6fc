#include "cascade/pipeline/request_time.h"

#include <algorithm>

#include "cascade/core/error.h"

namespace cascade {

TimePolicy time_policy_from_string(const std::string& text, const std::string& key) {
  if (text == "serving") return TimePolicy::kServing;
  if (text == "event") return TimePolicy::kEvent;
  throw Error(key + ": '" + text + "' is not a request-time policy (serving | event)");
}

std::string time_policy_name(TimePolicy p) { return p == TimePolicy::kServing ? "serving" : "event"; }

int64_t log_clock(const Interactions& m) {
  int64_t clock = 0;
  for (const int64_t t : m.times) clock = std::max(clock, t);
  return clock;
}

int64_t serving_time(int64_t clock, std::span<const int64_t> history_times) {
  // Live events may arrive out of order, so the newest is not always the last.
  for (const int64_t t : history_times) clock = std::max(clock, t);
  return clock;
}

int64_t request_time(TimePolicy policy, int64_t clock, std::span<const int64_t> history_times,
                     int64_t event_time) {
  return policy == TimePolicy::kEvent ? event_time : serving_time(clock, history_times);
}

}  // namespace cascade
