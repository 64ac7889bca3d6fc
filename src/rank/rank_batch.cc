#include "cascade/rank/rank_batch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cascade/core/error.h"

namespace cascade {

int FeatureSchema::field_index(const std::string& name) const {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].name == name) return static_cast<int>(i);
  return -1;
}

int FeatureSchema::dense_index(const std::string& name) const {
  for (size_t i = 0; i < dense.size(); ++i)
    if (dense[i] == name) return static_cast<int>(i);
  return -1;
}

std::string FeatureSchema::fingerprint() const {
  std::string s = fmt::format("items={};hist={};dense=", n_items, max_history);
  for (const auto& d : dense) s += d + ",";
  s += ";fields=";
  for (const auto& f : fields) s += fmt::format("{}:{},", f.name, f.cardinality);
  return s;
}

size_t RankBatch::group_of(size_t r) const {
  auto it = std::upper_bound(group_begin.begin(), group_begin.end(), static_cast<uint32_t>(r));
  return static_cast<size_t>(it - group_begin.begin()) - 1;
}

void RankBatch::row_history(size_t r, std::vector<ItemId>& out) const {
  out.clear();
  const ItemId target = items[r];
  for (ItemId h : group_history(group_of(r)))
    if (h != target) out.push_back(h);
}

void RankBatch::append(const RankBatch& other) {
  CASCADE_CHECK(schema == other.schema, "RankBatch::append: the batches have different schemas");
  const auto rows0 = static_cast<uint32_t>(rows());
  const auto hist0 = static_cast<uint32_t>(history.size());
  items.insert(items.end(), other.items.begin(), other.items.end());
  dense.insert(dense.end(), other.dense.begin(), other.dense.end());
  cats.insert(cats.end(), other.cats.begin(), other.cats.end());
  history.insert(history.end(), other.history.begin(), other.history.end());
  for (size_t g = 0; g < other.groups(); ++g) {
    group_begin.push_back(rows0 + other.group_begin[g + 1]);
    hist_begin.push_back(hist0 + other.hist_begin[g + 1]);
  }
  group_user.insert(group_user.end(), other.group_user.begin(), other.group_user.end());
}

RankBatch RankBatch::slice_groups(size_t g0, size_t g1) const {
  CASCADE_CHECK(g0 <= g1 && g1 <= groups(), "RankBatch::slice_groups: range out of bounds");
  RankBatch out;
  out.schema = schema;
  const size_t r0 = group_begin[g0], r1 = group_begin[g1];
  const size_t h0 = hist_begin[g0], h1 = hist_begin[g1];
  const size_t nd = schema.n_dense(), nf = schema.n_fields();
  out.items.assign(items.begin() + r0, items.begin() + r1);
  out.dense.assign(dense.begin() + r0 * nd, dense.begin() + r1 * nd);
  out.cats.assign(cats.begin() + r0 * nf, cats.begin() + r1 * nf);
  out.history.assign(history.begin() + h0, history.begin() + h1);
  for (size_t g = g0; g < g1; ++g) {
    out.group_begin.push_back(static_cast<uint32_t>(group_begin[g + 1] - r0));
    out.hist_begin.push_back(static_cast<uint32_t>(hist_begin[g + 1] - h0));
  }
  out.group_user.assign(group_user.begin() + g0, group_user.begin() + g1);
  return out;
}

RankBatch RankBatch::take_rows(std::span<const uint32_t> rows_wanted) const {
  RankBatch out;
  out.schema = schema;
  if (rows_wanted.empty()) return out;
  const size_t g = group_of(rows_wanted[0]);
  const size_t nd = schema.n_dense(), nf = schema.n_fields();
  out.items.reserve(rows_wanted.size());
  out.dense.reserve(rows_wanted.size() * nd);
  out.cats.reserve(rows_wanted.size() * nf);
  for (uint32_t r : rows_wanted) {
    CASCADE_CHECK(r < rows() && r >= group_begin[g] && r < group_begin[g + 1],
                  fmt::format("RankBatch::take_rows: row {} is not in group {}", r, g));
    out.items.push_back(items[r]);
    out.dense.insert(out.dense.end(), dense.begin() + r * nd, dense.begin() + (r + 1) * nd);
    out.cats.insert(out.cats.end(), cats.begin() + r * nf, cats.begin() + (r + 1) * nf);
  }
  const auto h = group_history(g);
  out.history.assign(h.begin(), h.end());
  out.group_begin.push_back(static_cast<uint32_t>(out.items.size()));
  out.hist_begin.push_back(static_cast<uint32_t>(out.history.size()));
  out.group_user.push_back(group_user[g]);
  return out;
}

void RankBatch::validate() const {
  const size_t n = rows(), nd = schema.n_dense(), nf = schema.n_fields();
  CASCADE_CHECK(
      dense.size() == n * nd,
      fmt::format("RankBatch: {} dense values for {} rows x {} columns", dense.size(), n, nd));
  CASCADE_CHECK(
      cats.size() == n * nf,
      fmt::format("RankBatch: {} categorical values for {} rows x {} fields", cats.size(), n, nf));
  CASCADE_CHECK(!group_begin.empty() && group_begin.front() == 0 && group_begin.back() == n,
                "RankBatch: group_begin must start at 0 and end at the row count");
  CASCADE_CHECK(
      hist_begin.size() == group_begin.size() && hist_begin.front() == 0 &&
          hist_begin.back() == history.size(),
      "RankBatch: hist_begin must have one entry per group + 1 and end at the history size");
  CASCADE_CHECK(group_user.size() == groups(), "RankBatch: one user per group");
  for (size_t g = 0; g < groups(); ++g) {
    CASCADE_CHECK(group_begin[g] <= group_begin[g + 1] && hist_begin[g] <= hist_begin[g + 1],
                  fmt::format("RankBatch: group {} has a negative size", g));
    CASCADE_CHECK(hist_begin[g + 1] - hist_begin[g] <= schema.max_history,
                  fmt::format("RankBatch: group {} has {} history items, more than max_history {}",
                              g, hist_begin[g + 1] - hist_begin[g], schema.max_history));
  }
  for (size_t r = 0; r < n; ++r) {
    CASCADE_CHECK(items[r] < schema.n_items, fmt::format("RankBatch: row {} item {} >= n_items {}",
                                                         r, items[r], schema.n_items));
  }
  for (ItemId h : history) {
    CASCADE_CHECK(h < schema.n_items,
                  fmt::format("RankBatch: history item {} >= n_items {}", h, schema.n_items));
  }
  // Every served request validates its batch: one branch-free pass over the values first,
  // and the loop that names the bad value only when there is one.
  bool bad = false;
  for (size_t f = 0; f < nf; ++f) {
    const uint32_t card = schema.fields[f].cardinality;
    for (size_t r = 0; r < n; ++r) bad |= cats[r * nf + f] >= card;
  }
  for (float v : dense) bad |= std::isinf(v);
  if (!bad) return;
  for (size_t r = 0; r < n; ++r) {
    for (size_t f = 0; f < nf; ++f) {
      const uint32_t v = cats[r * nf + f];
      CASCADE_CHECK(v < schema.fields[f].cardinality,
                    fmt::format("RankBatch: row {} field '{}' value {} >= cardinality {}", r,
                                schema.fields[f].name, v, schema.fields[f].cardinality));
    }
    for (size_t d = 0; d < nd; ++d) {
      const float v = dense[r * nd + d];
      CASCADE_CHECK(!std::isinf(v),
                    fmt::format("RankBatch: row {} column '{}' is infinite", r, schema.dense[d]));
    }
  }
}

}  // namespace cascade
