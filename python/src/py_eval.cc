// cascade.evaluate / cascade.compare: the CLI's full-catalogue evaluator and paired bootstrap.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <unordered_map>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/eval/evaluator.h"
#include "py_common.h"
#include "py_parts.h"

namespace cascade::py {

namespace {

const Interactions& heldout_of(const Dataset& ds, const std::string& split) {
  if (split == "test") return ds.test;
  if (split == "valid") return ds.valid;
  throw Error("evaluate: split must be test or valid, got '" + split + "'");
}

std::vector<double> metric_of(const EvalResult& r, const std::string& metric) {
  auto it = r.per_user.find(metric);
  if (it == r.per_user.end()) {
    std::string known;
    for (const auto& [k, _] : r.per_user) known += (known.empty() ? "" : ", ") + k;
    throw Error("compare: no per-user metric '" + metric + "'; known: " + known);
  }
  return it->second;
}

}  // namespace

void init_eval(pyb::module_& m) {
  pyb::class_<EvalResult, std::shared_ptr<EvalResult>>(m, "EvalResult", pyb::dynamic_attr(), R"doc(
What cascade.evaluate returns: summary (metric -> mean, plus catalogue coverage), per_user
(metric -> one value per evaluated user, parallel to users), users (dense ids, ascending) and
seconds. result["recall@10"] reads the summary.)doc")
      .def_property_readonly("summary", [](const EvalResult& r) { return r.summary; })
      .def_property_readonly("per_user",
                             [](const EvalResult& r) {
                               pyb::dict d;
                               for (const auto& [k, v] : r.per_user)
                                 d[pyb::str(k)] = to_numpy(std::vector<double>(v), {static_cast<ssize_t>(v.size())});
                               return d;
                             })
      .def_property_readonly("users",
                             [](const EvalResult& r) {
                               return to_numpy(std::vector<int64_t>(r.users.begin(), r.users.end()),
                                               {static_cast<ssize_t>(r.users.size())});
                             })
      .def_property_readonly("seconds", [](const EvalResult& r) { return r.seconds; })
      .def("__getitem__",
           [](const EvalResult& r, const std::string& k) {
             auto it = r.summary.find(k);
             if (it == r.summary.end()) throw pyb::key_error(k);
             return it->second;
           })
      .def("keys", [](const EvalResult& r) {
        std::vector<std::string> out;
        for (const auto& [k, _] : r.summary) out.push_back(k);
        return out;
      })
      .def("save_per_user_csv", [](const EvalResult& r, const std::filesystem::path& path) { save_per_user_csv(r, path.string()); },
           pyb::arg("path"), "The per-user CSV `cascade eval` writes (values read back bit-exact).")
      .def_static("load_per_user_csv", [](const std::filesystem::path& path) { return std::make_shared<EvalResult>(load_per_user_csv(path.string())); },
                  pyb::arg("path"), "Reads a per_user.csv of `cascade eval` (summary = per-user means).")
      .def("__repr__", [](const EvalResult& r) {
        std::string s = "<cascade.EvalResult " + std::to_string(r.users.size()) + " users";
        for (const char* k : {"recall@10", "ndcg@10"})
          if (auto it = r.summary.find(k); it != r.summary.end()) s += ", " + std::string(k) + "=" + std::to_string(it->second);
        return s + ">";
      });

  m.def(
      "evaluate",
      [](const PyChannel& c, std::shared_ptr<const Dataset> ds, const std::string& split, std::vector<size_t> ks,
         int threads) {
        if (!ds) throw pyb::type_error("evaluate: dataset is None");
        const Recaller& model = c.fitted("evaluate");
        check_catalogue(c, *ds);
        const Interactions& heldout = heldout_of(*ds, split);
        EvalOptions opt;
        opt.ks = std::move(ks);
        opt.threads = threads;
        auto out = std::make_shared<EvalResult>();
        run_interruptible([&] { *out = evaluate(model, *channel_matrix(ds), heldout, opt); });
        return out;
      },
      pyb::arg("model"), pyb::arg("dataset"), pyb::kw_only(), pyb::arg("split") = "test",
      pyb::arg("ks") = std::vector<size_t>{10, 200}, pyb::arg("threads") = 0, R"doc(
Evaluates a channel as `cascade eval` does: every user with a held-out item of `split` (test or
valid) scores the full catalogue, its recall-matrix items masked; recall, ndcg, mrr, hitrate and
novelty at every k, plus coverage. The same split and model give the CLI's numbers to the last
digit.)doc");

  m.def(
      "compare",
      [](const EvalResult& a, const EvalResult& b, const std::string& metric, int resamples, uint64_t seed,
         double confidence) {
        // Pair by user, as `cascade compare` does: only users evaluated in both count.
        std::unordered_map<UserId, size_t> pos_b;
        for (size_t i = 0; i < b.users.size(); ++i) pos_b[b.users[i]] = i;
        const std::vector<double> va = metric_of(a, metric), vb = metric_of(b, metric);
        std::vector<double> xa, xb;
        for (size_t i = 0; i < a.users.size(); ++i) {
          if (auto it = pos_b.find(a.users[i]); it != pos_b.end()) {
            xa.push_back(va[i]);
            xb.push_back(vb[it->second]);
          }
        }
        if (xa.empty()) throw Error("compare: the two results have no user in common");
        const BootstrapResult bs = paired_bootstrap(xa, xb, resamples, seed, confidence);
        const TTestResult tt = xa.size() >= 2 ? paired_t_test(xa, xb) : TTestResult{};
        pyb::dict d;
        d["metric"] = metric;
        d["users"] = xa.size();
        d["mean_a"] = bs.mean_a;
        d["mean_b"] = bs.mean_b;
        d["diff"] = bs.diff;
        d["ci_low"] = bs.ci_low;
        d["ci_high"] = bs.ci_high;
        d["p_value"] = bs.p_value;
        d["resamples"] = bs.resamples;
        d["confidence"] = bs.confidence;
        d["t"] = tt.t;
        d["t_df"] = tt.df;
        d["t_p_value"] = tt.p_value;
        return d;
      },
      pyb::arg("a"), pyb::arg("b"), pyb::kw_only(), pyb::arg("metric") = "recall@10", pyb::arg("resamples") = 1000,
      pyb::arg("seed") = 42, pyb::arg("confidence") = 0.95, R"doc(
Paired comparison of two EvalResults over their common users, as `cascade compare`: the mean
difference b - a with a seeded bootstrap interval and two-sided p-value, and a paired t-test.)doc");
}

}  // namespace cascade::py
