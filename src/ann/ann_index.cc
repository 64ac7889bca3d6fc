#include "cascade/ann/ann_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "ann/norm_ordered_scan.h"
#include "cascade/core/error.h"
#include "cascade/io/artifact.h"

namespace cascade {

namespace {

constexpr const char* kKind = "ann_index";
constexpr int kFormatVersion = 1;

std::string hash_vectors(const float* v, uint32_t rows, uint32_t dim) {
  return hash_hex(std::string_view(reinterpret_cast<const char*>(v),
                                   static_cast<size_t>(rows) * dim * sizeof(float)));
}

// FAISS builds with OpenMP; its thread count is process-wide, so set it for the build only.
class OmpThreads {
 public:
  explicit OmpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads > 0
                            ? threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  ~OmpThreads() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

// The MIPS -> L2 reduction's item vectors (rows x (dim + 1)); sets max_norm2.
std::vector<float> augment_for_l2(const float* vectors, uint32_t rows, uint32_t dim,
                                  double& max_norm2) {
  const std::vector<double> norms2 = ann::squared_lengths(vectors, rows, dim);
  max_norm2 = 0;
  for (double n2 : norms2) max_norm2 = std::max(max_norm2, n2);
  std::vector<float> augmented(static_cast<size_t>(rows) * (dim + 1));
  for (uint32_t i = 0; i < rows; ++i) {
    std::copy(vectors + size_t(i) * dim, vectors + size_t(i + 1) * dim,
              augmented.begin() + size_t(i) * (dim + 1));
    augmented[size_t(i) * (dim + 1) + dim] =
        static_cast<float>(std::sqrt(std::max(0.0, max_norm2 - norms2[i])));
  }
  return augmented;
}

void check_ivf_options(const AnnOptions& opt, uint32_t rows) {
  CASCADE_CHECK(opt.quantizer == "flat" || opt.quantizer == "hnsw",
                fmt::format("ann: quantizer '{}' is not one of flat, hnsw", opt.quantizer));
  CASCADE_CHECK(
      opt.nlist >= 1 && opt.nprobe >= 1 && opt.train_size >= 0,
      fmt::format("ann: ivf needs nlist >= 1, nprobe >= 1, train_size >= 0 (got {}, {}, {})",
                  opt.nlist, opt.nprobe, opt.train_size));
  CASCADE_CHECK(
      rows == 0 || static_cast<uint32_t>(opt.nlist) <= rows,
      fmt::format("ann: ivf nlist {} exceeds the {} item vectors (k-means needs a row per list)",
                  opt.nlist, rows));
  CASCADE_CHECK(opt.train_size == 0 || opt.train_size >= opt.nlist,
                fmt::format("ann: ivf train_size {} is below nlist {}", opt.train_size, opt.nlist));
}

// IVF-Flat. Metric ip: FAISS trains spherical k-means (unit centroids) for an inner-product
// IVF, so a list holds the items pointing the same way whatever their length, and a query
// probes the lists whose directions are closest to its own. Metric l2: `vectors` are the MIPS
// -> L2 reduction's (every item the same length, the missing length in the extra
// coordinate), k-means is Euclidean and a query probes the nearest centroids; long (popular)
// items then share lists, away from the short ones, and the lists that hold the best inner
// products are the nearest. Vectors are stored unquantised: the scanned lists' scores are exact.
std::unique_ptr<faiss::Index> build_ivf(const float* vectors, uint32_t rows, uint32_t dim,
                                        const AnnOptions& opt) {
  const auto d = static_cast<int64_t>(dim);
  const faiss::MetricType metric =
      opt.metric == "l2" ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
  std::unique_ptr<faiss::Index> quantizer;
  if (opt.quantizer == "hnsw") {
    quantizer = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(dim), 32, metric);
  } else {
    quantizer = std::make_unique<faiss::IndexFlat>(d, metric);
  }
  auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), static_cast<size_t>(d),
                                                   static_cast<size_t>(opt.nlist), metric);
  ivf->own_fields = true;
  quantizer.release();
  if (rows == 0) return ivf;
  // k-means assigns with an exact scan of the centroids even when the final quantizer is HNSW
  // (rebuilding a graph per k-means iteration would be wasted work).
  faiss::IndexFlat clustering(d, metric);
  ivf->clustering_index = &clustering;
  ivf->cp.seed = 1234;  // FAISS's default, pinned: the lists are a function of the vectors
  const uint32_t train = opt.train_size > 0
                             ? std::min<uint32_t>(rows, static_cast<uint32_t>(opt.train_size))
                             : static_cast<uint32_t>(std::min<uint64_t>(rows, 64ull * opt.nlist));
  ivf->cp.max_points_per_centroid =
      (train + opt.nlist - 1) / opt.nlist + 1;  // FAISS must not resample
  OmpThreads guard(opt.threads);
  if (train == rows) {
    ivf->train(static_cast<faiss::Index::idx_t>(rows), vectors);
  } else {
    // An evenly spaced sample: deterministic and covers the whole id range (ids are often
    // ordered by popularity or time).
    std::vector<float> sample(static_cast<size_t>(train) * dim);
    for (uint32_t i = 0; i < train; ++i) {
      const size_t row = static_cast<size_t>(static_cast<uint64_t>(i) * rows / train);
      std::copy(vectors + row * dim, vectors + (row + 1) * dim,
                sample.begin() + static_cast<size_t>(i) * dim);
    }
    ivf->train(static_cast<faiss::Index::idx_t>(train), sample.data());
  }
  ivf->clustering_index = nullptr;
  ivf->add(static_cast<faiss::Index::idx_t>(rows), vectors);
  return ivf;
}

}  // namespace

AnnOptions AnnOptions::from_params(Params& p) {
  AnnOptions o;
  o.kind = p.get_string("kind", "hnsw", {"exact", "pruned", "hnsw", "ivf"});
  o.m = static_cast<int>(p.get_int("m", 32, 2, 512));
  o.ef_construction = static_cast<int>(p.get_int("ef_construction", 200, 1, 1 << 20));
  o.ef_search = static_cast<int>(p.get_int("ef_search", 128, 1, 1 << 20));
  o.threads = static_cast<int>(p.get_int("threads", 0, 0, 1024));
  o.metric = p.get_string("metric", "ip", {"ip", "l2"});
  o.nlist = static_cast<int>(p.get_int("nlist", 1024, 1, 1 << 24));
  o.nprobe = static_cast<int>(p.get_int("nprobe", 32, 1, 1 << 24));
  o.train_size = static_cast<int>(p.get_int("train_size", 0, 0, std::numeric_limits<int>::max()));
  o.quantizer = p.get_string("quantizer", "flat", {"flat", "hnsw"});
  return o;
}

std::map<std::string, std::string> AnnOptions::to_map() const {
  return {{"kind", kind},
          {"m", std::to_string(m)},
          {"ef_construction", std::to_string(ef_construction)},
          {"ef_search", std::to_string(ef_search)},
          {"threads", std::to_string(threads)},
          {"metric", metric},
          {"nlist", std::to_string(nlist)},
          {"nprobe", std::to_string(nprobe)},
          {"train_size", std::to_string(train_size)},
          {"quantizer", quantizer}};
}

AnnIndex::AnnIndex(const float* vectors, uint32_t rows, uint32_t dim, const AnnOptions& opt)
    : opt_(opt), rows_(rows), dim_(dim) {
  CASCADE_CHECK(dim > 0, "ann: item vectors have dimension 0");
  CASCADE_CHECK(rows == 0 || vectors != nullptr, "ann: null item vectors");
  CASCADE_CHECK(
      opt.kind == "exact" || opt.kind == "pruned" || opt.kind == "hnsw" || opt.kind == "ivf",
      fmt::format("ann: kind '{}' is not one of exact, pruned, hnsw, ivf", opt.kind));
  CASCADE_CHECK(opt.metric == "ip" || opt.metric == "l2",
                fmt::format("ann: metric '{}' is not one of ip, l2", opt.metric));
  CASCADE_CHECK(opt.m >= 2 && opt.ef_construction >= 1 && opt.ef_search >= 1,
                "ann: m must be >= 2, ef_construction and ef_search >= 1");
  if (opt.kind == "ivf") check_ivf_options(opt, rows);
  vectors_hash_ = hash_vectors(vectors, rows, dim);
  if (opt.kind == "pruned") {
    pruned_ = std::make_unique<ann::NormOrderedScan>(vectors, rows, dim);
    return;
  }
  try {
    // Inner product is not a metric; the reduction makes it one: append
    // sqrt(max_norm^2 - |x|^2) to every item and 0 to the query, then
    // |q' - x'|^2 = |q|^2 + max_norm^2 - 2 q.x, so the nearest item is the best scored.
    std::vector<float> augmented;
    if (opt.kind != "exact" && opt.metric == "l2")
      augmented = augment_for_l2(vectors, rows, dim, max_norm2_);
    const float* data = augmented.empty() ? vectors : augmented.data();
    const uint32_t d = augmented.empty() ? dim : dim + 1;
    if (opt.kind == "ivf") {
      index_ = build_ivf(data, rows, d, opt);
      set_nprobe(opt.nprobe);
    } else if (opt.kind == "exact") {
      index_ = std::make_unique<faiss::IndexFlatIP>(static_cast<int64_t>(dim));
      OmpThreads guard(opt.threads);
      if (rows > 0) index_->add(static_cast<faiss::Index::idx_t>(rows), vectors);
    } else {
      auto h = std::make_unique<faiss::IndexHNSWFlat>(
          static_cast<int>(d), opt.m,
          opt.metric == "l2" ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
      h->hnsw.efConstruction = opt.ef_construction;
      h->hnsw.efSearch = opt.ef_search;
      index_ = std::move(h);
      OmpThreads guard(opt.threads);
      if (rows > 0) index_->add(static_cast<faiss::Index::idx_t>(rows), data);
    }
  } catch (const faiss::FaissException& e) {
    throw Error(fmt::format("ann: building the {} index failed: {}", opt.kind, e.what()));
  }
}

AnnIndex::~AnnIndex() = default;

std::vector<ScoredItem> AnnIndex::search(std::span<const float> query, size_t k,
                                         std::span<const ItemId> skip, size_t* rows_scored) const {
  CASCADE_CHECK(
      query.size() == dim_,
      fmt::format("ann: query has {} values for an index of dimension {}", query.size(), dim_));
  if (k == 0 || rows_ == 0) return {};
  if (pruned_) return pruned_->search(query, k, skip, rows_scored);
  if (rows_scored) *rows_scored = rows_;  // FAISS does not say; an upper bound for exact
  std::unordered_set<ItemId> skipped(skip.begin(), skip.end());
  const size_t want = std::min<size_t>(rows_, k + skipped.size());
  std::vector<float> dist(want);
  std::vector<faiss::Index::idx_t> labels(want, -1);
  if (opt_.kind != "exact" && opt_.metric == "l2") {
    std::vector<float> q(query.begin(), query.end());
    q.push_back(0.f);
    index_->search(1, q.data(), static_cast<faiss::Index::idx_t>(want), dist.data(), labels.data());
    // Back from squared distance to inner product: q.x = (|q|^2 + max_norm^2 - d) / 2.
    double qn = 0;
    for (float x : query) qn += double(x) * x;
    for (float& d : dist) d = static_cast<float>((qn + max_norm2_ - d) / 2);
  } else {
    index_->search(1, query.data(), static_cast<faiss::Index::idx_t>(want), dist.data(),
                   labels.data());
  }
  std::vector<ScoredItem> out;
  out.reserve(k);
  for (size_t j = 0; j < want && out.size() < k; ++j) {
    if (labels[j] < 0) break;  // HNSW found fewer than asked
    const auto item = static_cast<ItemId>(labels[j]);
    if (skipped.count(item)) continue;
    out.push_back({item, dist[j]});
  }
  // FAISS orders ties arbitrarily; the engine's convention is lower id first.
  std::stable_sort(out.begin(), out.end(), [](const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  });
  return out;
}

void AnnIndex::set_ef_search(int ef_search) {
  CASCADE_CHECK(ef_search >= 1, "ann: ef_search must be >= 1");
  opt_.ef_search = ef_search;
  if (auto* h = dynamic_cast<faiss::IndexHNSW*>(index_.get())) h->hnsw.efSearch = ef_search;
}

void AnnIndex::set_nprobe(int nprobe) {
  CASCADE_CHECK(nprobe >= 1, "ann: nprobe must be >= 1");
  opt_.nprobe = nprobe;
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) {
    ivf->nprobe = std::min<size_t>(static_cast<size_t>(nprobe), ivf->nlist);
    // The HNSW quantizer must return nprobe centroids; FAISS sizes its queue from efSearch.
    if (auto* q = dynamic_cast<faiss::IndexHNSW*>(ivf->quantizer))
      q->hnsw.efSearch = std::max(64, 2 * nprobe);
  }
}

size_t AnnIndex::index_bytes() const {
  if (pruned_) return pruned_->bytes();
  faiss::VectorIOWriter writer;
  faiss::write_index(index_.get(), &writer);
  return writer.data.size();
}

void AnnIndex::save(const std::filesystem::path& dir) const {
  faiss::VectorIOWriter writer;
  try {
    // The pruned scan is the item vectors sorted by length: rebuilt on load, nothing to store.
    if (!pruned_) faiss::write_index(index_.get(), &writer);
  } catch (const faiss::FaissException& e) {
    throw Error(fmt::format("ann: serialising the index failed: {}", e.what()));
  }
  ArtifactWriter w(dir, kKind, kFormatVersion);
  w.meta()["params"] = opt_.to_map();
  w.meta()["rows"] = rows_;
  w.meta()["dim"] = dim_;
  w.meta()["vectors_hash"] = vectors_hash_;
  w.meta()["max_norm2"] = max_norm2_;
  if (!pruned_)
    w.add_blob("index.faiss", std::string_view(reinterpret_cast<const char*>(writer.data.data()),
                                               writer.data.size()));
  w.finish();
}

std::unique_ptr<AnnIndex> AnnIndex::load(const std::filesystem::path& dir, const float* vectors,
                                         uint32_t rows, uint32_t dim) {
  ArtifactReader r(dir, kKind, kFormatVersion);
  std::unique_ptr<AnnIndex> idx(new AnnIndex());
  try {
    Params p(r.meta().at("params").get<std::map<std::string, std::string>>());
    idx->opt_ = AnnOptions::from_params(p);
    idx->rows_ = r.meta().at("rows").get<uint32_t>();
    idx->dim_ = r.meta().at("dim").get<uint32_t>();
    idx->vectors_hash_ = r.meta().at("vectors_hash").get<std::string>();
    idx->max_norm2_ = r.meta().at("max_norm2").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: bad ann index manifest: {}", dir.string(), e.what()));
  }
  if (idx->rows_ != rows || idx->dim_ != dim ||
      idx->vectors_hash_ != hash_vectors(vectors, rows, dim)) {
    throw Error(fmt::format(
        "{}: the index was built from other item vectors ({} x {}, hash {}) than the model's "
        "({} x {}); rebuild it",
        dir.string(), idx->rows_, idx->dim_, idx->vectors_hash_, rows, dim));
  }
  if (idx->opt_.kind == "pruned") {
    idx->pruned_ = std::make_unique<ann::NormOrderedScan>(vectors, rows, dim);
    return idx;
  }
  const std::string blob = r.blob("index.faiss");
  faiss::VectorIOReader reader;
  reader.data.assign(blob.begin(), blob.end());
  try {
    idx->index_.reset(faiss::read_index(&reader));
  } catch (const faiss::FaissException& e) {
    throw Error(fmt::format("{}: reading index.faiss failed: {}", dir.string(), e.what()));
  }
  // The blob must be the kind of index the manifest describes (a hand-edited manifest or a
  // blob copied from another index would otherwise be searched with the wrong settings).
  const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(idx->index_.get());
  const bool kind_ok = idx->opt_.kind == "ivf"
                           ? ivf != nullptr && ivf->nlist == static_cast<size_t>(idx->opt_.nlist)
                       : idx->opt_.kind == "hnsw"
                           ? dynamic_cast<const faiss::IndexHNSW*>(idx->index_.get()) != nullptr
                           : dynamic_cast<const faiss::IndexFlat*>(idx->index_.get()) != nullptr;
  CASCADE_CHECK(
      kind_ok, fmt::format("{}: index.faiss is not the {} index the manifest describes (params {})",
                           dir.string(), idx->opt_.kind, r.meta().at("params").dump()));
  idx->set_ef_search(idx->opt_.ef_search);
  idx->set_nprobe(idx->opt_.nprobe);
  CASCADE_CHECK(
      idx->index_->ntotal == static_cast<faiss::Index::idx_t>(rows) &&
          idx->index_->d == static_cast<int>(dim) +
                                (idx->opt_.kind != "exact" && idx->opt_.metric == "l2" ? 1 : 0),
      fmt::format("{}: index.faiss holds {} x {} vectors, manifest says {} x {} ({})", dir.string(),
                  idx->index_->ntotal, idx->index_->d, rows, dim, idx->opt_.kind));
  return idx;
}

}  // namespace cascade
