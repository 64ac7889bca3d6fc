#include "cascade/rank/ranker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"

namespace cascade {

void RankTrainSet::validate() const {
  batch.validate();
  CASCADE_CHECK(labels.size() == batch.rows(),
                fmt::format("RankTrainSet: {} labels for {} rows", labels.size(), batch.rows()));
  for (size_t r = 0; r < labels.size(); ++r) {
    CASCADE_CHECK(labels[r] == 0.0f || labels[r] == 1.0f,
                  fmt::format("RankTrainSet: label of row {} is {}, expected 0 or 1", r, labels[r]));
  }
}

std::unique_ptr<Ranker> make_ranker(const std::string& spec) {
  Spec s = Spec::parse(spec);
  return Registry<Ranker>::instance().create(s.name, std::move(s.params));
}

std::unique_ptr<Ranker> load_ranker(const std::filesystem::path& dir) {
  auto model = make_ranker(manifest_kind(dir));
  model->load(dir);
  return model;
}

void check_schema(const FeatureSchema& fitted, const FeatureSchema& batch, const std::string& who) {
  if (fitted == batch) return;
  if (fitted.n_items != batch.n_items) {
    throw Error(fmt::format("{}: fitted on {} items, the batch has {}", who, fitted.n_items, batch.n_items));
  }
  if (fitted.max_history != batch.max_history) {
    throw Error(fmt::format("{}: fitted with max_history {}, the batch has {}", who, fitted.max_history,
                            batch.max_history));
  }
  if (fitted.dense != batch.dense) {
    for (size_t i = 0; i < std::max(fitted.dense.size(), batch.dense.size()); ++i) {
      const std::string a = i < fitted.dense.size() ? fitted.dense[i] : "(none)";
      const std::string b = i < batch.dense.size() ? batch.dense[i] : "(none)";
      if (a != b) {
        throw Error(fmt::format("{}: dense column {} is '{}' in the fitted schema but '{}' in the batch",
                                who, i, a, b));
      }
    }
  }
  for (size_t i = 0; i < std::max(fitted.fields.size(), batch.fields.size()); ++i) {
    const std::string a = i < fitted.fields.size()
                              ? fmt::format("{}:{}", fitted.fields[i].name, fitted.fields[i].cardinality)
                              : "(none)";
    const std::string b = i < batch.fields.size()
                              ? fmt::format("{}:{}", batch.fields[i].name, batch.fields[i].cardinality)
                              : "(none)";
    if (a != b) {
      throw Error(fmt::format("{}: categorical field {} is '{}' in the fitted schema but '{}' in the batch",
                              who, i, a, b));
    }
  }
  throw Error(fmt::format("{}: the batch's feature schema differs from the fitted one", who));
}

double grouped_auc(const RankBatch& batch, std::span<const float> labels, std::span<const float> scores) {
  CASCADE_CHECK(labels.size() == batch.rows() && scores.size() == batch.rows(),
                "grouped_auc: one label and one score per row");
  double sum = 0;
  size_t counted = 0;
  std::vector<float> pos, neg;
  for (size_t g = 0; g < batch.groups(); ++g) {
    pos.clear();
    neg.clear();
    for (size_t r = batch.group_begin[g]; r < batch.group_begin[g + 1]; ++r) {
      (labels[r] > 0.5f ? pos : neg).push_back(scores[r]);
    }
    if (pos.empty() || neg.empty()) continue;
    std::sort(neg.begin(), neg.end());
    double correct = 0;
    for (float p : pos) {
      const auto lo = std::lower_bound(neg.begin(), neg.end(), p);
      const auto hi = std::upper_bound(neg.begin(), neg.end(), p);
      correct += static_cast<double>(lo - neg.begin()) + 0.5 * static_cast<double>(hi - lo);
    }
    sum += correct / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
    ++counted;
  }
  return counted ? sum / static_cast<double>(counted) : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json schema_to_json(const FeatureSchema& s) {
  nlohmann::json j;
  j["dense"] = s.dense;
  j["fields"] = nlohmann::json::array();
  for (const auto& f : s.fields) j["fields"].push_back({{"name", f.name}, {"cardinality", f.cardinality}});
  j["n_items"] = s.n_items;
  j["max_history"] = s.max_history;
  return j;
}

FeatureSchema schema_from_json(const nlohmann::json& j) {
  FeatureSchema s;
  try {
    s.dense = j.at("dense").get<std::vector<std::string>>();
    for (const auto& f : j.at("fields")) {
      s.fields.push_back({f.at("name").get<std::string>(), f.at("cardinality").get<uint32_t>()});
    }
    s.n_items = j.at("n_items").get<uint32_t>();
    s.max_history = j.at("max_history").get<uint32_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("feature schema in manifest: {}", e.what()));
  }
  return s;
}

}  // namespace cascade
