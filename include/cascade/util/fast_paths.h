// A process-wide switch between the serving fast paths and the straightforward computations
// they replace (the GBDT ranker's in-process tree walk vs XGBoost's predictor, top_k over
// packed keys vs the comparator, feature building's lane-parallel cosines and candidate-only
// channel scores vs one dot / one full score at a time). Every fast path gives bit-identical
// results; the switch exists so that tests can check exactly that on a whole bundle. On by
// default; not meant to be flipped while requests run.
#pragma once

namespace cascade {

bool fast_paths();
void set_fast_paths(bool on);

}  // namespace cascade
