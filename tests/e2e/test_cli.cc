// End-to-end: the `cascade` binary on the embedded dataset (train -> eval -> compare),
// its command-line contract (prepare's error on a malformed row), and a quality floor.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "support/run_command.h"

namespace fs = std::filesystem;

namespace {

using Result = cascade::testing::CommandResult;

Result run(const std::string& cmd) { return cascade::testing::run_command(cmd); }

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("cascade_e2e_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Reads the metric `key` of the eval run named `run_name` from the MLflow store.
double eval_metric(const fs::path& mlruns, const std::string& run_name, const std::string& key) {
  for (const auto& exp : fs::directory_iterator(mlruns)) {
    if (!exp.is_directory()) continue;
    for (const auto& run : fs::directory_iterator(exp.path())) {
      fs::path summary = run.path() / "artifacts" / "summary.json";
      if (!fs::exists(summary)) continue;
      std::ifstream in(summary);
      auto j = nlohmann::json::parse(in);
      if (j.value("run_name", "") == run_name) return j["metrics"].at(key).get<double>();
    }
  }
  ADD_FAILURE() << "no run named " << run_name << " in " << mlruns;
  return -1;
}

}  // namespace

TEST(CliEndToEnd, TrainEvalCompareOnEmbeddedDataset) {
  fs::path tmp = temp_dir("main");
  std::string common = " workdir=" + (tmp / "runs").string() + " mlruns=" + (tmp / "mlruns").string() +
                       " threads=2 --channels popularity,content,ials";
  Result train = run(std::string(CASCADE_BIN) + " train" + common);
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_NE(train.output.find("recall@10"), std::string::npos) << train.output;
  EXPECT_TRUE(fs::exists(tmp / "runs" / "ml-latest-small" / "data" / "dataset.snap"));
  EXPECT_TRUE(fs::exists(tmp / "runs" / "ml-latest-small" / "models" / "ials" / "manifest.json"));

  Result eval = run(std::string(CASCADE_BIN) + " eval" + common);
  ASSERT_EQ(eval.code, 0) << eval.output;

  // Quality floors on ml-latest-small seed-loo (measured values are in BENCHMARKS.md; the floors
  // sit well below them but far above what a broken mask or split would give).
  double pop = eval_metric(tmp / "mlruns", "eval/popularity", "recall@10");
  double ials = eval_metric(tmp / "mlruns", "eval/ials", "recall@10");
  EXPECT_GT(pop, 0.02);
  EXPECT_GT(ials, pop) << "iALS should beat popularity";
  EXPECT_GT(ials, 0.05);

  // compare two eval runs by id (ids are printed by eval).
  std::smatch m;
  std::regex pop_re("popularity\\s+([0-9a-f]{32})"), ials_re("ials\\s+([0-9a-f]{32})");
  ASSERT_TRUE(std::regex_search(eval.output, m, pop_re)) << eval.output;
  std::string pop_id = m[1];
  ASSERT_TRUE(std::regex_search(eval.output, m, ials_re)) << eval.output;
  std::string ials_id = m[1];
  Result cmp = run(std::string(CASCADE_BIN) + " compare " + pop_id + " " + ials_id + " --mlruns " +
                   (tmp / "mlruns").string());
  ASSERT_EQ(cmp.code, 0) << cmp.output;
  EXPECT_NE(cmp.output.find("recall@10"), std::string::npos) << cmp.output;

  // A second train reuses the snapshot (same fingerprint) instead of re-reading the CSV.
  Result again = run(std::string(CASCADE_BIN) + " train" + common + " --channels popularity");
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("loaded snapshot"), std::string::npos) << again.output;
  fs::remove_all(tmp);
}

TEST(CliEndToEnd, PrepareRejectsMalformedRowWithLineNumber) {
  fs::path tmp = temp_dir("bad");
  {
    std::ofstream f(tmp / "log.csv");
    f << "1,10,5,100\n1,11,4,101\n1,oops,4\n";
  }
  Result r = run(std::string(CASCADE_BIN) + " prepare --data " + (tmp / "log.csv").string() +
                 " --dataset csv --columns user,item,rating,timestamp --protocol seed-loo --out " +
                 (tmp / "out").string());
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(":3"), std::string::npos) << r.output;
  fs::remove_all(tmp);
}

TEST(CliEndToEnd, PrepareWritesSnapshotAndIdMaps) {
  fs::path tmp = temp_dir("prep");
  {
    std::ofstream f(tmp / "log.tsv");
    for (int u = 1; u <= 3; ++u)
      for (int i = 1; i <= 6; ++i) f << "u" << u << "\titem" << i << "\t" << (100 * u + i) << "\n";
  }
  Result r = run(std::string(CASCADE_BIN) + " prepare --data " + (tmp / "log.tsv").string() +
                 " --dataset csv --sep tab --columns user,item,timestamp --protocol seed-loo --out " +
                 (tmp / "out").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "out" / "dataset.snap"));
  EXPECT_TRUE(fs::exists(tmp / "out" / "user_ids.tsv"));
  EXPECT_TRUE(fs::exists(tmp / "out" / "item_ids.tsv"));
  // 3 users x 6 items, no rating column: all positives; 4 train + 1 valid + 1 test each.
  EXPECT_NE(r.output.find("3 users, 6 items, 12 train / 3 valid / 3 test"), std::string::npos) << r.output;
  fs::remove_all(tmp);
}

// An ANN index configured on the command line is built, saved beside the model, and loaded
// (and checked against the item vectors) by eval.
TEST(CliEndToEnd, TrainSavesTheConfiguredAnnIndexAndEvalLoadsIt) {
  fs::path tmp = temp_dir("ann");
  std::string common = " workdir=" + (tmp / "runs").string() + " mlruns=" + (tmp / "mlruns").string() +
                       " threads=2 --channels ials recall.channels.ials.ann.kind=hnsw"
                       " recall.channels.ials.ann.m=16 recall.channels.ials.iters=3";
  Result train = run(std::string(CASCADE_BIN) + " train" + common);
  ASSERT_EQ(train.code, 0) << train.output;
  const fs::path ann = tmp / "runs" / "ml-latest-small" / "models" / "ials" / "ann" / "manifest.json";
  ASSERT_TRUE(fs::exists(ann)) << train.output;
  std::ifstream in(ann);
  auto m = nlohmann::json::parse(in);
  EXPECT_EQ(m["params"]["kind"], "hnsw");
  EXPECT_EQ(m["params"]["m"], "16");
  Result eval = run(std::string(CASCADE_BIN) + " eval" + common);
  EXPECT_EQ(eval.code, 0) << eval.output;
  Result bad = run(std::string(CASCADE_BIN) + " train" + common + " recall.channels.ials.ann.kind=annoy");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("recall.channels.ials.ann"), std::string::npos) << bad.output;
  fs::remove_all(tmp);
}

// A channel that cannot be fitted at this data's size (EASE's dense inverse over more items than
// max_items) is left out of the default channel list with a warning, and refused at once, with
// the estimate, when the user names it.
TEST(CliEndToEnd, TrainLeavesOutAChannelTooBigForTheDataUnlessNamed) {
  fs::path tmp = temp_dir("scale");
  std::string common = " workdir=" + (tmp / "runs").string() + " mlruns=" + (tmp / "mlruns").string() +
                       " threads=2 ~recall.channels.two_tower ~recall.channels.sasrec ~recall.channels.content"
                       " recall.channels.ials.iters=2 recall.channels.ease.max_items=1000";
  Result r = run(std::string(CASCADE_BIN) + " train" + common);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ease left out of the default funnel"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exceed max_items=1000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nials "), std::string::npos) << r.output;  // the others are trained
  EXPECT_EQ(r.output.find("\nease "), std::string::npos) << r.output;
  Result named = run(std::string(CASCADE_BIN) + " train" + common + " --channels ease");
  EXPECT_NE(named.code, 0);
  EXPECT_NE(named.output.find("exceed max_items=1000"), std::string::npos) << named.output;
  EXPECT_EQ(named.output.find("fitting"), std::string::npos) << named.output;  // nothing was fitted
  fs::remove_all(tmp);
}

TEST(CliEndToEnd, BenchQualityWritesTheContractJson) {
  fs::path tmp = temp_dir("bench");
  Result r = run(std::string(CASCADE_BIN) +
                 " bench quality --data data/ml-latest-small --dataset ml-latest --protocol seed-loo"
                 " --channels popularity,ials --parity false --quota 100 --pool 200 --threads 2 --json " +
                 (tmp / "q.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(tmp / "q.json");
  auto j = nlohmann::json::parse(in);
  for (const char* k : {"dataset", "protocol", "users", "items", "train_rows", "test_rows", "channels"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["protocol"], "seed-loo");
  EXPECT_EQ(j["test_rows"].get<int>(), j["users"].get<int>());  // one held-out item per user
  for (const char* ch : {"popularity", "ials", "fusion"}) {
    ASSERT_TRUE(j["channels"].contains(ch)) << ch;
    for (const char* m : {"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200", "coverage@10", "fit_seconds"}) {
      EXPECT_TRUE(j["channels"][ch].contains(m)) << ch << " " << m;
    }
  }
  // The pool contains each channel's top 100, so at depth 200 it cannot lose to either's top 100.
  EXPECT_GE(j["channels"]["fusion"]["pool_recall"].get<double>(), j["channels"]["ials"]["recall@10"].get<double>());
  EXPECT_TRUE(j["channels"]["fusion"].contains("drop_one"));
  // Pool recall at every reported depth, for the pool and (as recall@depth) each channel.
  EXPECT_EQ(j["channels"]["fusion"]["pool_size"].get<int>(), 200);
  EXPECT_TRUE(j["channels"]["fusion"]["recall_by_depth"].contains("100"));
  EXPECT_DOUBLE_EQ(j["channels"]["ials"]["recall_by_depth"]["200"].get<double>(),
                   j["channels"]["ials"]["recall@200"].get<double>());
  EXPECT_TRUE(j["channels"]["fusion"]["vs_channel"]["ials"].contains("pool_recall"));
  EXPECT_FALSE(j.contains("parity_channels"));  // --parity false
  fs::remove_all(tmp);
}

TEST(CliEndToEnd, DownloadFailsClearlyWhenOffline) {
  fs::path tmp = temp_dir("dl");
  // Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
  Result r = run(std::string(CASCADE_BIN) + " download --dataset ml-100k --base-url http://127.0.0.1:9/ --out " +
                 tmp.string());
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("http://127.0.0.1:9/ml-100k.zip"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("offline"), std::string::npos) << r.output;
  Result bad = run(std::string(CASCADE_BIN) + " download --dataset ml-7k --out " + tmp.string());
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("ml-100k"), std::string::npos) << "unknown name should list the known ones";
  fs::remove_all(tmp);
}

// The contract of `cascade bench funnel` on the embedded dataset with fast channels and rankers:
// the funnel is chosen on validation and printed as a spec, its test figures are the served list
// under serving's request time, and a quality floor: it must beat its own pool's order. Run with
// k-fold channel features (rank.channel_folds=2), so the bundle built from it must repeat them to
// serve the same figures.
TEST(CliEndToEnd, BenchFunnelChoosesOnValidationAndBeatsThePool) {
  fs::path tmp = temp_dir("funnel");
  Result r = run(
      std::string(CASCADE_BIN) +
      " bench funnel --data data/ml-latest-small --dataset ml-latest --protocol seed-oof"
      " --channels popularity,ials --rankers lr,gbdt,deepfm,blend --random-negatives-ablation lr "
      "--threads 2"
      " --pool-depths 100,200 --pre-keeps 50,100 --quotas 500 --lambdas 0,0.2 --split-half-check 2"
      " --feature-ablations similarity,genres"
      " --json " +
      (tmp / "f.json").string() + " mlruns=" + (tmp / "mlruns").string() +
      " rank.rankers.gbdt.rounds=50 recall.fusion.tune=false rank.funnel.pre_rank=lr"
      " rank.funnel.fine_rank=deepfm +rank.rankers.deepfm.epochs=3 rank.channel_folds=2"
      " rank.rankers.blend.members=lr+gbdt+deepfm");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(tmp / "f.json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["protocol"], "seed-oof");
  EXPECT_GT(j["users"].get<int>(), 500);
  for (const char* k : {"recall@10", "ndcg@10", "pool_recall"}) EXPECT_TRUE(j["pool"].contains(k)) << k;
  for (const char* name : {"lr", "gbdt", "gbdt_rank_ndcg", "deepfm", "blend", "blend_no_lr",
                           "blend_no_gbdt", "blend_no_deepfm", "lr_random"}) {
    ASSERT_TRUE(j["rankers"].contains(name)) << name;
    for (const char* k : {"recall@10", "ndcg@10", "recall@50", "auc_in_pool", "fit_seconds", "ms_per_user"}) {
      EXPECT_TRUE(j["rankers"][name].contains(k)) << name << " " << k;
    }
    const double auc = j["rankers"][name]["auc_in_pool"].get<double>();
    EXPECT_GT(auc, 0.65) << name;  // in-pool AUC: held-out item vs the rest of its own pool
    EXPECT_LT(auc, 1.0) << name;
  }
  EXPECT_FALSE(j["rankers"]["lr_random"]["candidate"].get<bool>());  // ablations are never chosen
  // The blend of three candidates is assembled from them, not fitted again: its fit seconds are
  // theirs; so is each drop-one variant, a candidate too.
  const auto fit_s = [&](const char* name) {
    return j["rankers"][name]["fit_seconds"].get<double>();
  };
  EXPECT_DOUBLE_EQ(fit_s("blend"), fit_s("lr") + fit_s("gbdt") + fit_s("deepfm"));
  EXPECT_DOUBLE_EQ(fit_s("blend_no_deepfm"), fit_s("lr") + fit_s("gbdt"));
  EXPECT_TRUE(j["rankers"]["blend_no_lr"]["candidate"].get<bool>());
  EXPECT_NE(r.output.find("ranker blend: a blend of the fitted lr, gbdt, deepfm"),
            std::string::npos);
  EXPECT_NE(r.output.find("ranker blend_no_gbdt: a blend of the fitted lr, deepfm"),
            std::string::npos);
  EXPECT_TRUE(j["selection"]["pairs"].contains("lr>blend_no_deepfm"));
  // Each candidate alone on validation, beside its test figure: the pair X>X is X alone (a ranker
  // re-scoring its own kept rows keeps their order), so the two records agree.
  for (const char* name : {"lr", "gbdt", "deepfm", "blend"}) {
    EXPECT_EQ(j["rankers"][name]["split"], "test") << name;
    const auto& alone = j["selection"]["rankers_alone"][name];
    ASSERT_TRUE(alone.contains("recall@10")) << name;
    EXPECT_DOUBLE_EQ(
        alone["recall@10"].get<double>(),
        j["selection"]["pairs"][std::string(name) + ">" + name]["recall@10"].get<double>())
        << name;
  }
  EXPECT_FALSE(j["selection"]["rankers_alone"].contains("lr_random"));  // ablations: test only
  // The choice: a spec naming candidates only, every step's validation figures recorded.
  const auto& chosen = j["selection"]["chosen"];
  EXPECT_EQ(j["selection"]["on"], "valid");
  EXPECT_NE(chosen["pre_rank"], "lr_random");
  EXPECT_NE(chosen["fine_rank"], "lr_random");
  EXPECT_EQ(j["selection"]["pairs"].size(), 64u);  // 8 candidates, ordered pairs
  EXPECT_EQ(j["selection"]["lambda"].size(), 2u);
  EXPECT_EQ(j["funnel"]["spec"], chosen["spec"]);
  EXPECT_NE(chosen["spec"].get<std::string>().find("popularity+ials > norm("), std::string::npos);
  // Feature-group ablations: the chosen pair re-fitted without each group, paired against the
  // chosen funnel on validation and test. Without similarity sources the schema loses their
  // columns; without genres it keeps them (missing values).
  const auto& fa = j["feature_ablations"];
  const size_t dense = j["features"]["dense"].size();
  EXPECT_LT(fa["groups"]["similarity"]["dense_columns"].get<size_t>(), dense);
  EXPECT_EQ(fa["groups"]["genres"]["dense_columns"].get<size_t>(), dense);
  EXPECT_DOUBLE_EQ(fa["funnel"]["test"]["recall@10"].get<double>(),
                   j["funnel"]["recall@10"].get<double>());
  for (const char* g : {"similarity", "genres"}) {
    const auto& a = fa["groups"][g];
    for (const char* split : {"valid", "test"}) {
      const double diff = a[std::string(split) + "_vs_funnel"]["recall@10"]["diff"].get<double>();
      EXPECT_NEAR(
          diff,
          a[split]["recall@10"].get<double>() - fa["funnel"][split]["recall@10"].get<double>(),
          1e-12)
          << g << " " << split;
    }
  }
  // k-fold channel features: recorded, and handed to `bundle --funnel-from` as an override.
  EXPECT_EQ(j["channel_folds"], 2);
  EXPECT_EQ(j["channels_fit"], "train");
  ASSERT_FALSE(chosen["overrides"].empty());
  EXPECT_EQ(chosen["overrides"][0], "rank.channel_folds=2");
  const auto& f = j["funnel"];
  for (const char* k : {"recall@10", "ndcg@10", "vs_pool", "rank_only", "pool"}) EXPECT_TRUE(f.contains(k)) << k;
  // Retention can only shrink down the funnel, and the final top 10 is the funnel's recall.
  const auto& ret = f["retention"];
  EXPECT_GE(ret["pool"].get<double>(), ret["pre_rank"].get<double>());
  EXPECT_GE(ret["pre_rank"].get<double>(), ret["fine_rank"].get<double>());
  EXPECT_GE(ret["fine_rank"].get<double>(), ret["top10"].get<double>());
  EXPECT_DOUBLE_EQ(ret["top10"].get<double>(), f["recall@10"].get<double>());
  // Quality floor (BENCHMARKS.md): the served list beats its own pool's order.
  EXPECT_GT(f["recall@10"].get<double>(), f["pool"]["recall@10"].get<double>());
  EXPECT_GT(f["recall@10"].get<double>(), 0.075);
  for (const char* v : {"serving", "event", "no_time_features"})
    EXPECT_TRUE(j["time_policy"][v].contains("vs_pool")) << v;
  EXPECT_TRUE(j["funnel_config"].contains("vs_pool"));
  EXPECT_TRUE(j["ablations"].contains("lr vs lr_random"));
  EXPECT_GT(j["stage_latency"]["total_ms"]["p50"].get<double>(), 0.0);
  // Every ranker of the table, the served funnel and the pool compared pairwise: antisymmetric,
  // zero diagonal, and the pool column is each ranker's vs_pool; the funnel's row against the
  // pool is the difference of the two test means.
  const auto& pw = j["ranker_pairwise"];
  ASSERT_EQ(pw["names"][0], "pool");
  ASSERT_EQ(pw["names"][1], "funnel");
  ASSERT_EQ(pw["names"].size(), j["rankers"].size() + 2);
  EXPECT_NEAR(pw["diff"][1][0].get<double>(),
              f["recall@10"].get<double>() - j["pool"]["recall@10"].get<double>(), 1e-9);
  for (size_t a = 0; a < pw["names"].size(); ++a) {
    EXPECT_EQ(pw["diff"][a][a].get<double>(), 0.0);
    EXPECT_EQ(pw["p_value"][a][a].get<double>(), 1.0);
    for (size_t b = 0; b < a; ++b) {
      EXPECT_EQ(pw["diff"][a][b].get<double>(), -pw["diff"][b][a].get<double>());
      EXPECT_EQ(pw["ci_low"][a][b].get<double>(), -pw["ci_high"][b][a].get<double>());
    }
    if (a <= 1) continue;
    const auto& vs = j["rankers"][pw["names"][a].get<std::string>()]["vs_pool"]["recall@10"];
    EXPECT_EQ(pw["diff"][a][0], vs["diff"]);
    EXPECT_EQ(pw["ci_low"][a][0], vs["ci_low"]);
    EXPECT_EQ(pw["p_value"][a][0], vs["p_value"]);
  }
  // The split-half check of the selection metric: two rounds, each half chosen on once with each
  // metric and scored on the other half.
  EXPECT_EQ(j["selection"]["metric"], "recall@10");
  const auto& shc = j["selection"]["split_half_check"];
  for (const char* metric : {"recall@10", "ndcg@10"}) {
    ASSERT_TRUE(shc.contains(metric)) << metric;
    const auto& halves = shc[metric]["per_half_recall@10"];
    ASSERT_EQ(halves.size(), 4u) << metric;
    double sum = 0;
    for (const auto& h : halves) {
      EXPECT_GT(h.get<double>(), 0.0);
      EXPECT_LT(h.get<double>(), 1.0);
      sum += h.get<double>();
    }
    EXPECT_NEAR(shc[metric]["other_half_recall@10"].get<double>(), sum / 4, 1e-12) << metric;
  }
  EXPECT_LE(
      shc["halves_ndcg_choice_higher"].get<int>() + shc["halves_recall_choice_higher"].get<int>(),
      4);
  // Each recall channel alone, on validation and on test: the test block compares the served
  // funnel with it on the same users (the difference is the difference of the two means).
  for (const char* ch : {"popularity", "ials"}) {
    ASSERT_TRUE(j["selection"]["channels_alone"].contains(ch)) << ch;
    const auto& c = j["channels_alone"][ch];
    const double r10 = c["recall@10"].get<double>();
    EXPECT_GT(r10, 0.0) << ch;
    EXPECT_LE(r10, c["recall@50"].get<double>()) << ch;
    EXPECT_NEAR(c["funnel_vs_channel"]["recall@10"]["diff"].get<double>(),
                f["recall@10"].get<double>() - r10, 1e-9)
        << ch;
  }
  // iALS alone orders items better than popularity alone on this dataset.
  EXPECT_GT(j["channels_alone"]["ials"]["recall@10"].get<double>(),
            j["channels_alone"]["popularity"]["recall@10"].get<double>());
  // Cold vs warm users: the buckets hold every evaluated user once, and their weighted means are
  // the overall figures.
  size_t bucket_users = 0;
  std::map<std::string, double> weighted;
  for (const auto& bk : j["user_buckets"]["buckets"]) {
    const size_t n = bk["users"].get<size_t>();
    bucket_users += n;
    if (n == 0) continue;
    for (const auto& [name, v] : bk["recall@10"].items()) weighted[name] += n * v.get<double>();
  }
  EXPECT_EQ(bucket_users, j["users"].get<size_t>());
  const double n_users = j["users"].get<double>();
  EXPECT_NEAR(weighted["pool"] / n_users, j["pool"]["recall@10"].get<double>(), 1e-12);
  EXPECT_NEAR(weighted["funnel"] / n_users, f["recall@10"].get<double>(), 1e-12);
  EXPECT_NEAR(weighted["gbdt"] / n_users, j["rankers"]["gbdt"]["recall@10"].get<double>(), 1e-12);

  // The run store has the run, its chosen funnel as a tag and its test figure as a metric.
  EXPECT_NEAR(eval_metric(tmp / "mlruns", "bench_funnel", "test_recall@10"), f["recall@10"].get<double>(), 1e-12);

  // The chosen funnel is what `bundle --funnel-from` builds, and its manifest records the spec.
  Result b = run(std::string(CASCADE_BIN) + " bundle --data data/ml-latest-small --dataset ml-latest --threads 2" +
                 " --funnel-from " + (tmp / "f.json").string() + " --out " + (tmp / "bundle").string() +
                 " mlruns=" + (tmp / "mlruns").string() +
                 " rank.rankers.gbdt.rounds=50 recall.fusion.tune=false +rank.rankers.deepfm.epochs=3");
  ASSERT_EQ(b.code, 0) << b.output;
  std::ifstream min(tmp / "bundle" / "manifest.json");
  const auto m = nlohmann::json::parse(min);
  EXPECT_EQ(m["funnel"], chosen["spec"]);
  EXPECT_EQ(m["request_time"], "serving");
  EXPECT_EQ(m["channels_fit"], "train");  // the folds came with --funnel-from
  // Offline = online: the bundle, evaluated as served, scores what bench funnel scored.
  EXPECT_DOUBLE_EQ(m["offline"]["test"]["recall@10"].get<double>(), f["recall@10"].get<double>());
  EXPECT_DOUBLE_EQ(m["offline"]["test"]["ndcg@10"].get<double>(), f["ndcg@10"].get<double>());
  fs::remove_all(tmp);
}

// `bench funnel ... ARGS` on the embedded dataset fails and its message names every one of `words`.
void expect_bench_funnel_refuses(const std::string& args,
                                 std::initializer_list<const char*> words) {
  Result r = run(
      std::string(CASCADE_BIN) +
      " bench funnel --data data/ml-latest-small --dataset ml-latest --protocol seed-oof " + args);
  EXPECT_NE(r.code, 0) << args;
  for (const char* w : words)
    EXPECT_NE(r.output.find(w), std::string::npos) << w << ": " << r.output;
}

// `bench funnel` on the embedded dataset, small enough for the selections that cost funnels:
// two channels, LR and DeepFM (2 epochs), pools of 50 and 100 (and the configured 200), keeps
// of 20 and 50, quota 200 (and the configured 500), no ablations.
std::string small_cost_funnel(const fs::path& tmp) {
  return std::string(CASCADE_BIN) +
         " bench funnel --data data/ml-latest-small --dataset ml-latest --protocol seed-oof"
         " --channels popularity,ials --rankers lr,deepfm --gbdt-objectives binary:logistic"
         " --random-negatives-ablation '' --sum-ablation false --time-ablations false"
         " --select-time-features false --lambdas 0 --pool-depths 50,100 --pre-keeps 20,50"
         " --quotas 200 --threads 2 recall.fusion.tune=false rank.funnel.pre_rank=lr"
         " rank.funnel.fine_rank=deepfm +rank.rankers.deepfm.epochs=2 mlruns=" +
         (tmp / "mlruns").string();
}

// A serving budget for the ranking stage: pairs and cuts are chosen together among those whose
// estimated cost fits, every estimate follows the recorded cost model, and the chosen pair is the
// best logged one; a budget nothing fits is refused with the cheapest estimate.
TEST(CliEndToEnd, BenchFunnelChoosesWithinARankingBudget) {
  fs::path tmp = temp_dir("funnel-budget");
  const std::string cmd = small_cost_funnel(tmp);
  Result r = run(cmd + " --rank-budget-ms 1000 --json " + (tmp / "f.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(tmp / "f.json");
  const auto j = nlohmann::json::parse(in);
  const auto& sel = j["selection"];
  const auto& cm = sel["cost_model"];
  EXPECT_EQ(cm["budget_ms"].get<double>(), 1000.0);
  auto at = [](const nlohmann::json& c, double rows) {
    EXPECT_GE(c["per_call_ms"].get<double>(), 0.0);
    EXPECT_GT(c["per_row_ms"].get<double>(), 0.0);
    return c["per_call_ms"].get<double>() + c["per_row_ms"].get<double>() * rows;
  };
  auto estimate = [&](const std::string& pre, const std::string& fine, double depth, double keep) {
    return at(cm["features"], depth) + at(cm["rankers"][pre], depth) +
           at(cm["rankers"][fine], keep);
  };
  ASSERT_EQ(sel["pairs"].size(), 4u);
  double best = 0;
  for (const auto& [name, m] : sel["pairs"].items()) {
    const auto gt = name.find('>');
    EXPECT_NEAR(m["estimate_ms"].get<double>(),
                estimate(name.substr(0, gt), name.substr(gt + 1), m["pool_depth"].get<double>(),
                         m["pre_keep"].get<double>()),
                1e-9)
        << name;
    best = std::max(best, m["recall@10"].get<double>());
  }
  const auto& chosen = sel["chosen"];
  const std::string pair =
      chosen["pre_rank"].get<std::string>() + ">" + chosen["fine_rank"].get<std::string>();
  EXPECT_EQ(sel["pairs"][pair]["recall@10"].get<double>(), best);
  EXPECT_EQ(sel["pairs"][pair]["pool_depth"], chosen["pool_depth"]);
  EXPECT_NEAR(cm["chosen_estimate_ms"].get<double>(),
              estimate(chosen["pre_rank"], chosen["fine_rank"], chosen["pool_depth"].get<double>(),
                       chosen["pre_keep"].get<double>()),
              1e-9);
  Result none = run(cmd + " --rank-budget-ms 0.000001");
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.output.find("no funnel fits --rank-budget-ms"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("the cheapest is estimated at"), std::string::npos);
  fs::remove_all(tmp);
}

// The one-standard-error rule with a recorded cost model: of the funnels within one standard
// error of the best on validation, the cheapest by the file's costs (LR nearly free, DeepFM
// dear), whatever this machine's timings; the file must cover every candidate, and is read only
// by a rule or a budget that needs costs.
TEST(CliEndToEnd, BenchFunnelOneStandardErrorRuleTakesTheCheapestFunnelValidationCannotTellApart) {
  fs::path tmp = temp_dir("funnel-one-se");
  const std::string cmd = small_cost_funnel(tmp);
  const nlohmann::json costs = {{"features", {{"per_call_ms", 0.01}, {"per_row_ms", 0.001}}},
                                {"rankers",
                                 {{"lr", {{"per_call_ms", 0.0}, {"per_row_ms", 0.0001}}},
                                  {"deepfm", {{"per_call_ms", 0.05}, {"per_row_ms", 0.01}}}}}};
  {
    std::ofstream o(tmp / "costs.json");
    o << nlohmann::json{{"selection", {{"cost_model", costs}}}}.dump();
  }
  Result r = run(cmd + " --select-rule one-se --cost-model " + (tmp / "costs.json").string() +
                 " --json " + (tmp / "f.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("one-standard-error rule: the best on validation"), std::string::npos)
      << r.output;
  std::ifstream in(tmp / "f.json");
  const auto j = nlohmann::json::parse(in);
  const auto& sel = j["selection"];
  const auto& cm = sel["cost_model"];
  EXPECT_EQ(cm["rankers"], costs["rankers"]);  // read, not timed
  EXPECT_FALSE(cm.contains("sample_users"));
  auto at = [&](const std::string& part, double rows) {
    const auto& c = part == "features" ? costs["features"] : costs["rankers"][part];
    return c["per_call_ms"].get<double>() + c["per_row_ms"].get<double>() * rows;
  };
  auto estimate = [&](const std::string& pre, const std::string& fine, double depth, double keep) {
    return at("features", depth) + at(pre, depth) + at(fine, keep);
  };
  // The best is the best pair at its best cut; every pair and cut was scored.
  ASSERT_EQ(sel["pairs"].size(), 4u);
  double best = 0;
  for (const auto& [name, m] : sel["pairs"].items())
    best = std::max(best, m["recall@10"].get<double>());
  const auto& rule = sel["one_se"];
  EXPECT_EQ(rule["best"]["valid"].get<double>(), best);
  // 4 pairs x 12 cuts: quotas 200 and the configured 500, pools 50, 100 and the configured 200,
  // pre-rank keeps 20 and 50.
  EXPECT_EQ(rule["best"]["funnels_scored"], 4 * 12);
  // The chosen funnel: within one standard error, no dearer than the best, costed by the file.
  const auto& ch = rule["chosen"];
  const double se = ch["standard_error"].get<double>();
  EXPECT_LE(ch["below_best"].get<double>(), se + 1e-12);
  EXPECT_NEAR(ch["valid"].get<double>(), best - ch["below_best"].get<double>(), 1e-12);
  EXPECT_LE(ch["estimate_ms"].get<double>(), rule["best"]["estimate_ms"].get<double>());
  const auto& chosen = sel["chosen"];
  EXPECT_NEAR(cm["chosen_estimate_ms"].get<double>(),
              estimate(chosen["pre_rank"], chosen["fine_rank"], chosen["pool_depth"].get<double>(),
                       chosen["pre_keep"].get<double>()),
              1e-12);
  EXPECT_EQ(ch["estimate_ms"], cm["chosen_estimate_ms"]);
  EXPECT_EQ(ch["funnel"].get<std::string>(),
            chosen["pre_rank"].get<std::string>() + "@" + chosen["pre_keep"].dump() + " > " +
                chosen["fine_rank"].get<std::string>() + "@" + chosen["fine_keep"].dump() +
                ", pool " + chosen["pool_depth"].dump() + ", quota " + chosen["quota"].dump());
  // When the chosen funnel is not the best, it is strictly cheaper (ties go to the metric).
  if (ch["funnel"] != rule["best"]["funnel"]) {
    EXPECT_LT(ch["estimate_ms"].get<double>(), rule["best"]["estimate_ms"].get<double>());
    EXPECT_GT(se, 0.0);
  }

  // A cost model without a candidate's cost names it and what the file has.
  {
    nlohmann::json partial = costs;
    partial["rankers"].erase("deepfm");
    std::ofstream o(tmp / "partial.json");
    o << partial.dump();
  }
  Result missing =
      run(cmd + " --select-rule one-se --cost-model " + (tmp / "partial.json").string());
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.output.find("has no cost for candidate ranker 'deepfm' (it has: lr)"),
            std::string::npos)
      << missing.output;
  expect_bench_funnel_refuses("--cost-model " + (tmp / "costs.json").string(),
                              {"--cost-model is read only with"});
  fs::remove_all(tmp);
}

TEST(CliEndToEnd, BenchFunnelRefusesAnUnknownFeatureGroup) {
  expect_bench_funnel_refuses("--feature-ablations similarity,colour",
                              {"--feature-ablations", "colour"});
}

TEST(CliEndToEnd, BenchFunnelRefusesAnUnknownSelectionMetric) {
  expect_bench_funnel_refuses("--select-metric map@10", {"--select-metric"});
}

TEST(CliEndToEnd, BenchFunnelRefusesAProtocolWithoutARankerSlice) {
  Result r = run(std::string(CASCADE_BIN) +
                 " bench funnel --data data/ml-latest-small --dataset ml-latest --protocol seed-loo");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("seed-oof"), std::string::npos) << r.output;
}

// Determinism: the same command on the same data and seed builds the same funnel twice, neural
// channels and rankers included: every model file is byte-identical and so are the bundle's
// offline figures.
TEST(CliEndToEnd, TheSameBundleCommandTwiceGivesIdenticalModelsAndMetrics) {
  fs::path tmp = temp_dir("determinism");
  const std::string cmd = std::string(CASCADE_BIN) +
                          " bundle --data data/ml-latest-small --dataset ml-latest --threads 2"
                          " --funnel 'popularity+sasrec(epochs=1,eval_every=1,loss=sampled,negatives=64)"
                          "+two_tower(epochs=1,eval_every=1) > norm(pool=60,quota=100) > deepfm(epochs=1)@30"
                          " > din(epochs=1)@20 > mmr(diversity=0.2,vectors=sasrec)'";
  nlohmann::json m[2];
  for (int i = 0; i < 2; ++i) {
    const fs::path out = tmp / ("b" + std::to_string(i));
    Result r = run(cmd + " --out " + out.string() + " mlruns=" + (tmp / "mlruns").string());
    ASSERT_EQ(r.code, 0) << r.output;
    std::ifstream in(out / "manifest.json");
    m[i] = nlohmann::json::parse(in);
  }
  ASSERT_EQ(m[0]["files"].size(), m[1]["files"].size());
  size_t models = 0;
  for (const auto& [path, info] : m[0]["files"].items()) {
    ASSERT_TRUE(m[1]["files"].contains(path)) << path;
    EXPECT_EQ(info["xxh3"], m[1]["files"][path]["xxh3"]) << path << " differs between two identical runs";
    models += path.rfind("channels/", 0) == 0 || path.rfind("rankers/", 0) == 0;
  }
  EXPECT_GT(models, 8u);
  EXPECT_EQ(m[0]["offline"]["test"]["recall@10"], m[1]["offline"]["test"]["recall@10"]);
  EXPECT_EQ(m[0]["offline"]["valid"]["ndcg@10"], m[1]["offline"]["valid"]["ndcg@10"]);
  EXPECT_EQ(m[0]["fusion"], m[1]["fusion"]);
  fs::remove_all(tmp);
}
