// Binary snapshot of a prepared Dataset: one file, versioned, hashed.
//
// Layout: magic "CASCSNAP", format version, then length-prefixed sections; the content
// hash (XXH3-128 over every byte after the header) is stored in the header and checked on
// load. Written atomically (temp file + rename). `prepare` also writes the id maps as
// text (user_ids.tsv, item_ids.tsv: dense<TAB>raw) beside the snapshot.
#pragma once

#include <string>

#include "cascade/data/dataset.h"

namespace cascade {

/// Writes `<dir>/dataset.snap`, `<dir>/user_ids.tsv`, `<dir>/item_ids.tsv`,
/// `<dir>/summary.json`; fills ds.content_hash.
void save_snapshot(Dataset& ds, const std::string& dir);

/// Loads `<dir>/dataset.snap` (or a path to the .snap file itself). Throws
/// cascade::Error naming the file when it is missing, truncated, of another version,
/// or its hash does not match.
Dataset load_snapshot(const std::string& path);

}  // namespace cascade
