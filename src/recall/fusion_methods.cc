// The registered fusion methods (fusion.h has the contract):
//  - "norm": min-max scaling of each channel's list, weighted sum;
//  - "rrf":  reciprocal-rank fusion (Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion
//            outperforms Condorcet and individual Rank Learning Methods", SIGIR 2009).
#include <algorithm>

#include "cascade/core/registry.h"
#include "cascade/recall/fusion.h"

namespace cascade {
namespace {

class NormFusion final : public FusionMethod {
 public:
  explicit NormFusion(Params p) { p.check_unused("fusion method norm"); }

  void contribute(std::span<const ScoredItem> list, double weight, const FusionOptions&,
                  std::span<double> parts) const override {
    double lo = list[0].score, hi = lo;
    for (const ScoredItem& s : list) {
      lo = std::min<double>(lo, s.score);
      hi = std::max<double>(hi, s.score);
    }
    const double range = hi - lo;
    // Constant list: no spread to scale by, every item scales to 1 (see fusion.h).
    for (size_t r = 0; r < list.size(); ++r)
      parts[r] = weight * (range > 0 ? (list[r].score - lo) / range : 1.0);
  }
};

class RrfFusion final : public FusionMethod {
 public:
  explicit RrfFusion(Params p) { p.check_unused("fusion method rrf"); }

  void contribute(std::span<const ScoredItem> list, double weight, const FusionOptions& opt,
                  std::span<double> parts) const override {
    for (size_t r = 0; r < list.size(); ++r)
      parts[r] = weight / (opt.rrf_k + static_cast<uint32_t>(r + 1));
  }
  std::vector<std::string> option_keys() const override { return {"rrf_k"}; }
};

}  // namespace

CASCADE_REGISTER_FUSION(NormFusion, "norm");
CASCADE_REGISTER_FUSION(RrfFusion, "rrf");

}  // namespace cascade
