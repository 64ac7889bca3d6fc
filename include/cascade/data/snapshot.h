// Binary snapshot of a prepared Dataset: one file, versioned, hashed.
//
// Layout of dataset.snap (little-endian, native layout of the arrays):
//   header (96 bytes): magic "CASCSNAP" | u32 format version | u32 byte-order mark 0x01020304 |
//                      u64 payload bytes | u64 provenance bytes |
//                      32 hex chars: content hash = XXH3-128 of the payload |
//                      32 hex chars: XXH3-128 of the provenance block
//   payload:    length-prefixed sections (u32 name length, name, u64 byte length, bytes):
//               "options", "user_ids", "item_ids", "train", "valid", "test", "recall_rows",
//               "catalog", and "seen" (only with PrepareOptions::keep_seen) — everything
//               that defines the data;
//   provenance: the same section format: "source" (the path the data was read from). Kept
//               out of the content hash so the same data prepared from another path hashes
//               the same, but still checked on load.
// Both hashes are checked on load. Written atomically (temp file + rename). `prepare` also
// writes the id maps as text (user_ids.tsv, item_ids.tsv: dense<TAB>raw, with a header line)
// and summary.json beside the snapshot.
#pragma once

#include <string>

#include "cascade/data/dataset.h"

namespace cascade {

inline constexpr uint32_t kSnapshotFormatVersion = 1;

/// Writes `<dir>/dataset.snap`, `<dir>/user_ids.tsv`, `<dir>/item_ids.tsv`,
/// `<dir>/summary.json`; fills ds.content_hash.
void save_snapshot(Dataset& ds, const std::string& dir);

/// Loads `<dir>/dataset.snap` (or a path to the .snap file itself). Throws
/// cascade::Error naming the file when it is missing, truncated, of another version,
/// or its hash does not match.
Dataset load_snapshot(const std::string& path);

/// The content hash a snapshot of `ds` would carry (XXH3-128 hex of the payload), computed
/// by streaming the payload through the hash without materialising it.
std::string dataset_content_hash(const Dataset& ds);

}  // namespace cascade
