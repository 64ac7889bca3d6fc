// Maximum-inner-product search over item vectors: exact (FAISS IndexFlatIP), pruned (also
// exact: items scored longest first until |q| |x| cannot beat the k-th score, see
// src/ann/norm_ordered_scan.h), HNSW (FAISS IndexHNSWFlat, Malkov & Yashunin 2018; optionally
// over the MIPS -> L2 reduction) or IVF (FAISS IndexIVFFlat: spherical k-means lists, a query scans
// the nprobe lists whose centroids have the largest inner product with it). A vector channel (iALS,
// Two-Tower, SASRec) whose score is <user vector, item vector> can answer top_n() from an index
// instead of a scan of the whole catalogue; see Recaller::attach_index().
//
// The index is built from a copy of the item vectors (n_items x dim, row-major); FAISS ids are
// the dense item ids. Searches are const and thread-safe (no shared state; efSearch and
// nprobe are index settings changed only by set_ef_search / set_nprobe).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/core/types.h"

namespace faiss {
struct Index;
}

namespace cascade {

namespace ann {
class NormOrderedScan;
}

struct AnnOptions {
  std::string kind = "hnsw";  ///< "exact" | "pruned" | "hnsw" | "ivf"
  int m = 32;                 ///< HNSW: links per node (layer 0 has 2M)
  int ef_construction = 200;  ///< HNSW: candidate list while building
  int ef_search = 128;        ///< HNSW: candidate list while searching (raised to k when smaller)
  int threads = 0;            ///< build threads (OpenMP); 0 = hardware
  /// HNSW graph / IVF k-means metric: "ip" = inner product directly (IVF: spherical k-means);
  /// "l2" = Euclidean over the MIPS -> L2
  /// reduction (Bachrach et al. 2014: one extra coordinate sqrt(max|x|^2 - |x|^2)).
  std::string metric = "ip";
  int nlist = 1024;  ///< IVF: number of k-means lists (at most the number of rows)
  int nprobe = 32;   ///< IVF: lists scanned per query (at most nlist)
  /// IVF: rows k-means is trained on (an evenly spaced sample); 0 = min(rows, 64 * nlist).
  /// FAISS warns below 39 per list; training cost grows with it and the assignment of all
  /// rows to their list is a separate pass.
  int train_size = 0;
  /// IVF coarse quantizer: "flat" scans all nlist centroids per query (nlist x dim flops);
  /// "hnsw" searches them with an HNSW graph (M 32, efSearch max(64, 2 nprobe)), for large nlist.
  std::string quantizer = "flat";

  /// Reads "kind", "m", "ef_construction", "ef_search", "threads", "metric", "nlist",
  /// "nprobe", "train_size", "quantizer" (ranges checked).
  static AnnOptions from_params(Params& p);
  std::map<std::string, std::string> to_map() const;
};

class AnnIndex {
 public:
  /// Builds over `rows` x `dim` vectors (copied). Throws cascade::Error on bad options/sizes.
  AnnIndex(const float* vectors, uint32_t rows, uint32_t dim, const AnnOptions& opt);
  ~AnnIndex();
  AnnIndex(const AnnIndex&) = delete;
  AnnIndex& operator=(const AnnIndex&) = delete;

  /// The k items with the largest inner product with `query` (size dim), best first, skipping
  /// items for which skip(item) is true. Asks FAISS for k + n_skip results so the filtered
  /// list still holds k when the skipped items rank high; may return fewer than k (HNSW is
  /// approximate and the catalogue may be small). HNSW explores max(ef_search, results asked).
  /// `rows_scored`, when given, receives the number of item vectors scored (pruned: the
  /// scanned prefix; exact, hnsw and ivf: the catalogue size, as FAISS does not report it).
  std::vector<ScoredItem> search(std::span<const float> query, size_t k,
                                 std::span<const ItemId> skip = {},
                                 size_t* rows_scored = nullptr) const;

  /// Changes HNSW's efSearch. Not thread-safe against concurrent search(): FAISS 1.7.3 sizes
  /// its candidate queue from the index's own efSearch (a per-call SearchParametersHNSW only
  /// changes the stopping rule), so the setting lives in the index.
  void set_ef_search(int ef_search);
  /// Changes IVF's nprobe (clamped to nlist); same thread-safety rule as set_ef_search.
  void set_nprobe(int nprobe);

  /// Saves into `dir` (index.faiss blob + manifest with the options and a hash of the item
  /// vectors it was built from); load() checks that hash against the vectors it is given.
  void save(const std::filesystem::path& dir) const;
  static std::unique_ptr<AnnIndex> load(const std::filesystem::path& dir, const float* vectors,
                                        uint32_t rows, uint32_t dim);

  /// The size of the serialised FAISS index (what save() writes and a loaded index holds in
  /// memory, up to allocator overhead): the stored vectors plus graph links or list ids.
  size_t index_bytes() const;

  uint32_t size() const { return rows_; }
  uint32_t dim() const { return dim_; }
  const AnnOptions& options() const { return opt_; }
  /// The hash of the vectors the index was built from (XXH3-128 hex of the raw floats).
  const std::string& vectors_hash() const { return vectors_hash_; }

 private:
  AnnIndex() = default;
  std::unique_ptr<faiss::Index> index_;           ///< exact, hnsw, ivf
  std::unique_ptr<ann::NormOrderedScan> pruned_;  ///< pruned
  AnnOptions opt_;
  uint32_t rows_ = 0;
  uint32_t dim_ = 0;
  std::string vectors_hash_;
  double max_norm2_ = 0;  ///< metric l2: the largest squared item norm
};

}  // namespace cascade
