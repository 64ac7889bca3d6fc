// When a request is made: the one rule used by training examples, offline evaluation, the
// bundle's offline figures and the server, so that the rankers see the same time features
// (days since the user's last event, item age) when they are evaluated as when they serve.
//
// Serving policy (the default, and the only one the server runs): a request carries no
// trusted time of its own. The models learned the log's clock, not the wall clock, so a
// request is made at the newest time the system has seen: the later of the log clock (the
// newest event of the log its history comes from) and the newest event of its own history
// (training row + live events). Offline, a held-out request's history is the user's training
// row and the log clock is the newest training event; a training example's history is the
// user's recall slice and the log clock is the newest recall-slice event.
//
// Event policy (an ablation, `rank.request_time: event`): the request is made at the time of
// the event that follows it (the held-out item's own timestamp, the first ranker-slice event
// for a training example). A live request has no such time, so figures under this policy are
// not figures of the served funnel; `bench funnel` reports them to show how much the funnel's
// gain depends on knowing when the user came back.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "cascade/data/interactions.h"

namespace cascade {

enum class TimePolicy { kServing, kEvent };

/// "serving" | "event"; anything else throws cascade::Error naming `key` and the choices.
TimePolicy time_policy_from_string(const std::string& text, const std::string& key);
std::string time_policy_name(TimePolicy p);

/// The newest timestamp in `m` (0 when it has none).
int64_t log_clock(const Interactions& m);

/// The serving rule: max(clock, newest of `history_times`).
int64_t serving_time(int64_t clock, std::span<const int64_t> history_times);

/// The time of a request under `policy`: serving_time(clock, history_times), or `event_time`
/// (the time of the event the request precedes) under kEvent.
int64_t request_time(TimePolicy policy, int64_t clock, std::span<const int64_t> history_times,
                     int64_t event_time);

}  // namespace cascade
