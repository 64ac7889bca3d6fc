// BlendRanker: see include/cascade/rank/blend.h.
#include "cascade/rank/blend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/util/strings.h"

namespace cascade {
namespace {

constexpr int kFormat = 1;
constexpr size_t kMaxMembers = 8;

std::filesystem::path member_dir(const std::filesystem::path& dir, size_t k,
                                 const std::string& name) {
  return dir / "members" / fmt::format("{}-{}", k, name);
}

}  // namespace

std::vector<std::string> blend_member_names(const std::string& text) {
  const auto names = split(text, '+');
  std::set<std::string> seen;
  for (const auto& n : names) {
    const bool ok = !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    CASCADE_CHECK(ok,
                  fmt::format("blend: members = '{}': expected ranker names (letters, digits, _) "
                              "joined by '+', e.g. gbdt+din",
                              text));
    CASCADE_CHECK(seen.insert(n).second,
                  fmt::format("blend: members = '{}' names '{}' twice", text, n));
  }
  CASCADE_CHECK(
      names.size() >= 2 && names.size() <= kMaxMembers,
      fmt::format("blend: members = '{}': a blend takes 2 to {} rankers", text, kMaxMembers));
  return names;
}

BlendRanker::BlendRanker(Params p) {
  // No members is a blend that cannot be fitted (fit says so); it lists the defaults.
  const std::string members = p.get_string("members", "");
  if (!members.empty()) names_ = blend_member_names(members);
  const std::string w = p.get_string("weights", "");
  if (w.empty()) {
    weights_.assign(names_.size(), 1.0);
  } else {
    for (const auto& part : split(w, '/')) {
      char* end = nullptr;
      const double v = std::strtod(part.c_str(), &end);
      CASCADE_CHECK(!part.empty() && end == part.c_str() + part.size() && std::isfinite(v) &&
                        v > 0 && v <= 1e6,
                    fmt::format("blend: weights = '{}': expected positive numbers joined by '/', "
                                "one per member (e.g. 1/1)",
                                w));
      weights_.push_back(v);
    }
    CASCADE_CHECK(weights_.size() == names_.size(),
                  fmt::format("blend: weights = '{}' gives {} weights for {} members ({})", w,
                              weights_.size(), names_.size(), members));
  }
  p.check_unused("blend");
  params_ = p;
}

void BlendRanker::set_members(std::vector<std::unique_ptr<Ranker>> members) {
  CASCADE_CHECK(
      members.size() == names_.size(),
      fmt::format("blend: {} member models for {} member names", members.size(), names_.size()));
  for (const auto& m : members) CASCADE_CHECK(m != nullptr, "blend: a member model is null");
  members_.assign(std::make_move_iterator(members.begin()), std::make_move_iterator(members.end()));
  fitted_ = false;
}

void BlendRanker::adopt_fitted(std::vector<std::shared_ptr<Ranker>> members,
                               const RankTrainSet& train, const RankFitOptions& opt) {
  CASCADE_CHECK(
      !names_.empty() && members.size() == names_.size(),
      fmt::format("blend: {} fitted members for {} member names", members.size(), names_.size()));
  for (size_t k = 0; k < members.size(); ++k) {
    CASCADE_CHECK(members[k] != nullptr, "blend: a member model is null");
    CASCADE_CHECK(
        members[k]->schema() == train.batch.schema,
        fmt::format("blend: member '{}' was fitted on another feature schema", names_[k]));
  }
  members_ = std::move(members);
  fit_scales(train, opt);
}

double within_group_sd(const RankBatch& batch, std::span<const float> scores) {
  double ss = 0;
  for (size_t g = 0; g < batch.groups(); ++g) {
    const size_t b = batch.group_begin[g], e = batch.group_begin[g + 1];
    if (e == b) continue;
    double mean = 0;
    for (size_t r = b; r < e; ++r) mean += scores[r];
    mean /= static_cast<double>(e - b);
    for (size_t r = b; r < e; ++r) ss += (scores[r] - mean) * (scores[r] - mean);
  }
  return batch.rows() ? std::sqrt(ss / static_cast<double>(batch.rows())) : 0.0;
}

// The scales come from the held-out groups when they can validate anything (a group with a
// positive and a negative, the rule every ranker's early stopping follows): a member's spread on
// rows it was fitted on overstates its spread on new requests (GBDT's most of all).
void BlendRanker::fit_scales(const RankTrainSet& train, const RankFitOptions& opt) {
  const bool use_valid =
      opt.valid && !std::isnan(grouped_auc(opt.valid->batch, opt.valid->labels,
                                           std::vector<float>(opt.valid->batch.rows(), 0.0f)));
  const RankTrainSet& on = use_valid ? *opt.valid : train;
  scales_.clear();
  std::vector<float> s(on.batch.rows());
  for (const auto& m : members_) {
    m->score(on.batch, s);
    const double sd = within_group_sd(on.batch, s);
    scales_.push_back(sd > 1e-12 ? 1.0 / sd : 0.0);
  }
  schema_ = train.batch.schema;
  dataset_hash_ = opt.dataset_hash;
  fitted_ = true;
}

void BlendRanker::fit(const RankTrainSet& train, const RankFitOptions& opt) {
  CASCADE_CHECK(!names_.empty() && members_.size() == names_.size(),
                "blend: fit() needs its member rankers (configure them under rank.rankers and "
                "name them in `members`, e.g. members: [gbdt, din])");
  for (auto& m : members_) m->fit(train, opt);
  fit_scales(train, opt);
}

void BlendRanker::combine(const std::vector<std::vector<float>>& member_scores,
                          std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  for (size_t k = 0; k < member_scores.size(); ++k) {
    const auto w = static_cast<float>(weights_[k] * scales_[k]);
    for (size_t r = 0; r < out.size(); ++r) out[r] += w * member_scores[k][r];
  }
}

void BlendRanker::check_batch(const RankBatch& batch, std::span<float> out) const {
  CASCADE_CHECK(fitted_, "blend: score() before fit() or load()");
  check_schema(schema_, batch.schema, "blend");
  CASCADE_CHECK(out.size() == batch.rows(), "blend: one output per row");
}

void BlendRanker::score(const RankBatch& batch, std::span<float> out) const {
  check_batch(batch, out);
  std::vector<std::vector<float>> ms(members_.size(), std::vector<float>(batch.rows()));
  for (size_t k = 0; k < members_.size(); ++k) members_[k]->score(batch, ms[k]);
  combine(ms, out);
}

bool BlendRanker::score_attended(const RankBatch& batch, std::span<float> out,
                                 HistoryAttention& att) const {
  check_batch(batch, out);
  std::vector<std::vector<float>> ms(members_.size(), std::vector<float>(batch.rows()));
  bool attended = false;
  for (size_t k = 0; k < members_.size(); ++k) {
    if (attended) {
      members_[k]->score(batch, ms[k]);
    } else {
      attended = members_[k]->score_attended(batch, ms[k], att);
    }
  }
  combine(ms, out);
  return attended;
}

void BlendRanker::save(const std::filesystem::path& dir) const {
  CASCADE_CHECK(fitted_, "blend: save() before fit()");
  ArtifactWriter w = model_writer(dir, "blend", kFormat, params_.resolved(), dataset_hash_);
  nlohmann::json members = nlohmann::json::array();
  for (size_t k = 0; k < members_.size(); ++k) {
    const auto sub = member_dir(dir, k, names_[k]);
    members_[k]->save(sub);
    members.push_back({{"name", names_[k]},
                       {"kind", members_[k]->kind()},
                       {"manifest_xxh3_128", hash_file(sub / "manifest.json")}});
  }
  w.meta()["members"] = members;
  w.meta()["scales"] = scales_;
  w.meta()["schema"] = schema_to_json(schema_);
  w.finish();
}

void BlendRanker::load(const std::filesystem::path& dir) {
  const ModelReader r(dir, "blend", kFormat);
  BlendRanker m{Params(r.params())};
  const auto members = r.field<nlohmann::json>("members");
  CASCADE_CHECK(
      members.is_array() && members.size() == m.names_.size(),
      fmt::format("{}: the manifest lists {} members, the parameters name {}", dir.string(),
                  members.is_array() ? members.size() : 0, m.names_.size()));
  m.schema_ = schema_from_json(r.field<nlohmann::json>("schema"));
  m.dataset_hash_ = r.dataset_hash();
  m.scales_ = r.field<std::vector<double>>("scales");
  CASCADE_CHECK(
      m.scales_.size() == m.names_.size() &&
          std::all_of(m.scales_.begin(), m.scales_.end(),
                      [](double v) { return std::isfinite(v) && v >= 0; }),
      fmt::format("{}: the manifest's scales are not one finite, non-negative number per member",
                  dir.string()));
  for (size_t k = 0; k < members.size(); ++k) {
    const auto sub = member_dir(dir, k, m.names_[k]);
    const auto& e = members[k];
    CASCADE_CHECK(e.is_object() && e.value("name", "") == m.names_[k] &&
                      e.contains("manifest_xxh3_128") && e["manifest_xxh3_128"].is_string(),
                  fmt::format("{}: member {} of the manifest is not '{}' with a manifest hash",
                              dir.string(), k, m.names_[k]));
    CASCADE_CHECK(std::filesystem::exists(sub / "manifest.json"),
                  fmt::format("{}: member '{}' is missing ({} has no manifest.json)", dir.string(),
                              m.names_[k], sub.string()));
    CASCADE_CHECK(hash_file(sub / "manifest.json") == e["manifest_xxh3_128"].get<std::string>(),
                  fmt::format("{}: member '{}' ({}) is not the model the blend was saved with "
                              "(its manifest hash differs)",
                              dir.string(), m.names_[k], sub.string()));
    auto model = load_ranker(sub);
    CASCADE_CHECK(model->schema() == m.schema_,
                  fmt::format("{}: member '{}' was fitted on another feature schema", dir.string(),
                              m.names_[k]));
    m.members_.push_back(std::move(model));
  }
  m.fitted_ = true;
  *this = std::move(m);
}

CASCADE_REGISTER_RANKER(BlendRanker, "blend");

}  // namespace cascade
