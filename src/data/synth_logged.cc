// Logged-exposure synthetic data with a known logging policy and click model
// (include/cascade/data/synth.h, "Logged exposure").
//
// Draw order from one std::mt19937_64(seed), fixed: θ_i, ε_i for every item; user factors
// (user by user); item factors (item by item). A log comes from its own generator (seed, stream):
// the user of every impression, then per user in index order an (item, click) pair per impression.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cascade/core/error.h"
#include "cascade/data/synth.h"
#include "cascade/io/artifact.h"
#include "synth_random.h"

namespace cascade {

namespace {

using synth_detail::Rng;

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

}  // namespace

void LoggedExposureOptions::validate() const {
  auto bad = [](const char* name, auto v, const char* want) {
    return fmt::format("logged exposure: --{} = {} must be {}", name, v, want);
  };
  CASCADE_CHECK(users > 0, bad("users", users, "> 0"));
  CASCADE_CHECK(items > 0, bad("items", items, "> 0"));
  CASCADE_CHECK(impressions > 0, bad("impressions", impressions, "> 0"));
  CASCADE_CHECK(dim > 0, bad("dim", dim, "> 0"));
  CASCADE_CHECK(std::isfinite(base_logit), bad("base-logit", base_logit, "finite"));
  CASCADE_CHECK(std::isfinite(quality_scale), bad("quality-scale", quality_scale, "finite"));
  CASCADE_CHECK(std::isfinite(quality_popularity_corr) && std::fabs(quality_popularity_corr) <= 1,
                bad("quality-popularity-corr", quality_popularity_corr, "in [-1, 1]"));
  CASCADE_CHECK(std::isfinite(temperature) && temperature > 0,
                bad("temperature", temperature, "> 0"));
  CASCADE_CHECK(std::isfinite(logging_affinity),
                bad("logging-affinity", logging_affinity, "finite"));
}

LoggedExposureModel::LoggedExposureModel(const LoggedExposureOptions& opt) : opt_(opt) {
  opt_.validate();
  Rng g(opt_.seed);
  theta_.resize(opt_.items);
  quality_.resize(opt_.items);
  const double rho = opt_.quality_popularity_corr;
  for (uint32_t i = 0; i < opt_.items; ++i) {
    theta_[i] = synth_detail::normal(g);
    const double eps = synth_detail::normal(g);
    quality_[i] = opt_.quality_scale * (rho * theta_[i] + std::sqrt(1.0 - rho * rho) * eps);
  }
  const double scale = std::pow(static_cast<double>(opt_.dim), -0.25);
  user_f_.resize(static_cast<size_t>(opt_.users) * opt_.dim);
  for (double& x : user_f_) x = scale * synth_detail::normal(g);
  item_f_.resize(static_cast<size_t>(opt_.items) * opt_.dim);
  for (double& x : item_f_) x = scale * synth_detail::normal(g);
}

double LoggedExposureModel::affinity(uint32_t user, uint32_t item) const {
  const double* u = user_f_.data() + static_cast<size_t>(user) * opt_.dim;
  const double* v = item_f_.data() + static_cast<size_t>(item) * opt_.dim;
  double s = 0;
  for (uint32_t d = 0; d < opt_.dim; ++d) s += u[d] * v[d];
  return s;
}

double LoggedExposureModel::click_probability(uint32_t user, uint32_t item) const {
  return sigmoid(opt_.base_logit + affinity(user, item) + quality_[item]);
}

std::vector<double> LoggedExposureModel::logging_distribution(uint32_t user) const {
  std::vector<double> p(opt_.items);
  for (uint32_t i = 0; i < opt_.items; ++i)
    p[i] = (theta_[i] + opt_.logging_affinity * affinity(user, i)) / opt_.temperature;
  const double mx = *std::max_element(p.begin(), p.end());  // softmax without overflow
  double total = 0;
  for (double& x : p) total += (x = std::exp(x - mx));
  for (double& x : p) x /= total;
  return p;
}

LoggedExposureLog LoggedExposureModel::sample_log(uint64_t stream) const {
  // Streams separate from the model's (the world stays the same whatever is logged); seed_seq
  // mixes (seed, stream) so nearby seeds and streams do not share a generator.
  std::seed_seq seq{static_cast<uint32_t>(opt_.seed), static_cast<uint32_t>(opt_.seed >> 32),
                    static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                    0x6c6f6755u};
  Rng g(seq);
  std::vector<uint64_t> per_user(opt_.users, 0);
  for (uint64_t j = 0; j < opt_.impressions; ++j) ++per_user[synth_detail::below(g, opt_.users)];
  LoggedExposureLog log;
  log.user.reserve(opt_.impressions);
  log.item.reserve(opt_.impressions);
  log.propensity.reserve(opt_.impressions);
  log.click.reserve(opt_.impressions);
  std::vector<double> cdf(opt_.items);
  for (uint32_t u = 0; u < opt_.users; ++u) {
    if (per_user[u] == 0) continue;
    const std::vector<double> p = logging_distribution(u);
    double acc = 0;
    for (uint32_t i = 0; i < opt_.items; ++i) cdf[i] = (acc += p[i]);
    for (uint64_t k = 0; k < per_user[u]; ++k) {
      const double x = synth_detail::uniform01(g) * acc;
      const auto it = std::upper_bound(cdf.begin(), cdf.end(), x);
      const uint32_t item =
          static_cast<uint32_t>(std::min<size_t>(it - cdf.begin(), opt_.items - 1));
      log.user.push_back(u);
      log.item.push_back(item);
      log.propensity.push_back(p[item]);
      log.click.push_back(synth_detail::uniform01(g) < click_probability(u, item) ? 1.0 : 0.0);
    }
  }
  return log;
}

double LoggedExposureModel::true_top_k_value(
    const std::vector<std::vector<uint32_t>>& lists) const {
  CASCADE_CHECK(lists.size() == opt_.users,
                fmt::format("true value: {} target lists for {} users", lists.size(), opt_.users));
  double total = 0;
  for (uint32_t u = 0; u < opt_.users; ++u) {
    CASCADE_CHECK(!lists[u].empty(),
                  fmt::format("true value: the target list of user {} is empty", u));
    double s = 0;
    for (uint32_t i : lists[u]) {
      CASCADE_CHECK(
          i < opt_.items,
          fmt::format("true value: user {}'s list has item {} (only {} items)", u, i, opt_.items));
      s += click_probability(u, i);
    }
    total += s / static_cast<double>(lists[u].size());
  }
  return total / static_cast<double>(opt_.users);
}

uint64_t synth_write_logged_exposure(const LoggedExposureOptions& opt, const std::string& path) {
  const LoggedExposureModel model(opt);
  const LoggedExposureLog log = model.sample_log();
  std::string csv = "user,item,propensity,click\n";
  csv.reserve(log.size() * 32);
  for (size_t j = 0; j < log.size(); ++j)
    fmt::format_to(std::back_inserter(csv), "{},{},{:.17g},{}\n", log.user[j] + 1, log.item[j] + 1,
                   log.propensity[j], static_cast<int>(log.click[j]));
  write_file_atomic(path, csv);
  const nlohmann::ordered_json j = {
      {"kind", "logged_exposure"},
      {"model",
       "click = sigmoid(base_logit + u.v + quality); logging = softmax((popularity + "
       "logging_affinity * u.v) / temperature); see include/cascade/data/synth.h"},
      {"users", opt.users},
      {"items", opt.items},
      {"impressions", opt.impressions},
      {"dim", opt.dim},
      {"base_logit", opt.base_logit},
      {"quality_scale", opt.quality_scale},
      {"quality_popularity_corr", opt.quality_popularity_corr},
      {"temperature", opt.temperature},
      {"logging_affinity", opt.logging_affinity},
      {"seed", opt.seed}};
  write_file_atomic(path + ".model.json", j.dump(2) + "\n");
  return log.size();
}

}  // namespace cascade
