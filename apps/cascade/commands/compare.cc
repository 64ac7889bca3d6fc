// cascade compare RUN_A RUN_B [--metrics recall@10,ndcg@10]
// Paired comparison of two evaluation runs over their common users: bootstrap interval and
// p-value of mean(B - A) (seeded resampling of users) and a paired t-test.
#include "cascade/eval/compare.h"

#include <fmt/format.h>

#include <memory>
#include <unordered_map>

#include "cascade/core/error.h"
#include "cascade/eval/evaluator.h"
#include "cascade/tracking/run_store.h"
#include "commands.h"

namespace fs = std::filesystem;

namespace cascade::cli {

void add_compare_command(CLI::App& app) {
  struct Opts {
    std::string a, b, mlruns = "mlruns";
    std::vector<std::string> metrics = {"recall@10", "ndcg@10"};
    int resamples = 1000;
    uint64_t seed = 42;
    double confidence = 0.95;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      app.add_subcommand("compare", "paired bootstrap and t-test between two eval runs");
  cmd->add_option("run_a", o->a, "baseline run: id or path to the run folder")->required();
  cmd->add_option("run_b", o->b, "challenger run: id or path")->required();
  cmd->add_option("--mlruns", o->mlruns, "run store")->capture_default_str();
  cmd->add_option("--metrics", o->metrics, "per-user metrics to compare")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--resamples", o->resamples, "bootstrap resamples")->capture_default_str();
  cmd->add_option("--seed", o->seed, "bootstrap seed")->capture_default_str();
  cmd->add_option("--confidence", o->confidence, "interval level")->capture_default_str();
  cmd->callback([o] {
    RunStore store(o->mlruns);
    fs::path da = store.find_run(o->a), db = store.find_run(o->b);
    auto load = [](const fs::path& run) {
      fs::path csv = run / "artifacts" / "per_user.csv";
      if (!fs::exists(csv)) {
        throw Error(
            fmt::format("{} has no per-user results (artifacts/per_user.csv): compare runs made by "
                        "`cascade eval`",
                        run.string()));
      }
      return load_per_user_csv(csv.string());
    };
    EvalResult ra = load(da), rb = load(db);
    // Pair by user id: only users evaluated in both runs count.
    std::unordered_map<UserId, size_t> pos_b;
    for (size_t i = 0; i < rb.users.size(); ++i) pos_b[rb.users[i]] = i;
    std::vector<std::pair<size_t, size_t>> pairs;
    for (size_t i = 0; i < ra.users.size(); ++i) {
      if (auto it = pos_b.find(ra.users[i]); it != pos_b.end()) pairs.emplace_back(i, it->second);
    }
    if (pairs.empty()) throw Error("the two runs share no evaluated user");
    if (pairs.size() != ra.users.size() || pairs.size() != rb.users.size()) {
      fmt::print("note: runs have {} and {} users; comparing the {} in common\n", ra.users.size(),
                 rb.users.size(), pairs.size());
    }
    fmt::print(
        "A = {}\nB = {}\n{} paired users, {} bootstrap resamples (seed {}), {:.0f}% intervals\n\n",
        da.filename().string(), db.filename().string(), pairs.size(), o->resamples, o->seed,
        100 * o->confidence);
    fmt::print("{:<12} {:>9} {:>9} {:>9}  {:>21} {:>9}  {:>8} {:>9}\n", "metric", "A", "B", "B-A",
               "bootstrap CI", "p(boot)", "t", "p(t)");
    for (const auto& m : o->metrics) {
      if (!ra.per_user.count(m) || !rb.per_user.count(m)) {
        throw Error(fmt::format("metric '{}' is not in both runs' per-user results", m));
      }
      std::vector<double> xa, xb;
      for (auto [i, j] : pairs) {
        xa.push_back(ra.per_user.at(m)[i]);
        xb.push_back(rb.per_user.at(m)[j]);
      }
      BootstrapResult bs = paired_bootstrap(xa, xb, o->resamples, o->seed, o->confidence);
      TTestResult tt = paired_t_test(xa, xb);
      fmt::print(
          "{:<12} {:>9.4f} {:>9.4f} {:>+9.4f}  [{:>+9.4f}, {:>+9.4f}] {:>9.4f}  {:>8.3f} "
          "{:>9.4f}\n",
          m, bs.mean_a, bs.mean_b, bs.diff, bs.ci_low, bs.ci_high, bs.p_value, tt.t, tt.p_value);
    }
  });
}

}  // namespace cascade::cli
