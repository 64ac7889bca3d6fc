// splitmix64's mixing step: a stateless, platform-independent 64-bit hash. The engine's seeded
// streams are built on it (iALS's initial factors, the Two-Tower batches, SASRec's dropout
// masks, the LR ranker's feature hashing), so that a value depends on its seed and index only,
// never on the order or thread that asks for it.
#pragma once

#include <cstdint>

namespace cascade {

inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace cascade
