#include "cascade/pipeline/bundle.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <ctime>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "cascade/data/snapshot.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/funnel_spec.h"
#include "cascade/pipeline/funnel_train.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/pipeline/recall_job.h"
#include "cascade/pipeline/recommender.h"
#include "cascade/pipeline/request_time.h"
#include "cascade/pipeline/served_eval.h"
#include "cascade/util/stopwatch.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {

using Json = nlohmann::json;

std::string utc_stamp(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string build_bundle(const YAML::Node& cfg_in, const Dataset& ds, const fs::path& out,
                         const BundleBuildOptions& opt) {
  const Stopwatch total;
  YAML::Node cfg = YAML::Clone(cfg_in);
  const FunnelSpec spec = resolve_funnel(cfg);
  spdlog::info("bundle: funnel {}", spec.str());
  const uint64_t seed = cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42;
  const int threads = opt.threads;

  // 1-2. Channels (rank.channel_folds says on which rows), fusion weights on the validation item
  // (never test).
  FunnelTrainOptions to;
  to.threads = threads;
  to.channel_cache = opt.channel_cache;
  to.heldout_test = false;
  const FunnelInputs in = prepare_funnel_inputs(cfg, ds, to);
  const RankConfig& rc = in.rank;
  const std::vector<std::string>& names = in.names;
  const FusionOptions& fopt = in.fusion;
  const RankerSpec& pre_spec = rc.ranker(rc.pre_rank);
  const RankerSpec& fine_spec = rc.ranker(rc.fine_rank);

  // 3. The funnel's two rankers on the ranker slice.
  TrainingSets sets(in.training_features(), ds, in.train_pools, rc.valid_share, threads, seed);
  auto pre = fit_ranker_on(pre_spec, sets, threads, seed, ds.content_hash);
  std::unique_ptr<Ranker> fine;
  if (fine_spec.name != pre_spec.name)
    fine = fit_ranker_on(fine_spec, sets, threads, seed, ds.content_hash);

  // 4. Write everything into a temporary directory, list it in the manifest, rename.
  fs::path tmp = out;
  tmp += fmt::format(".tmp.{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  Dataset copy = ds;
  save_snapshot(copy, (tmp / "data").string());
  for (size_t c = 0; c < names.size(); ++c)
    save_recaller(*in.channels[c], tmp / "channels" / names[c]);
  pre->save(tmp / "rankers" / pre_spec.name);
  if (fine) fine->save(tmp / "rankers" / fine_spec.name);
  write_file_atomic(tmp / "config.yaml", yaml_dump(cfg));

  Json m;
  m["format"] = "cascade-bundle";
  m["format_version"] = kBundleFormatVersion;
  m["created_utc"] = utc_stamp("%Y-%m-%dT%H:%M:%SZ");
  m["versions"] = {{"cascade", CASCADE_VERSION}, {"xgboost", [] {
                                                    int a = 0, b = 0, c = 0;
                                                    XGBoostVersion(&a, &b, &c);
                                                    return fmt::format("{}.{}.{}", a, b, c);
                                                  }()}};
  m["dataset"] = {{"name", ds.name},
                  {"hash", ds.content_hash},
                  {"users", ds.n_users},
                  {"items", ds.n_items},
                  {"protocol", protocol_name(ds.options.protocol)}};
  m["funnel"] = spec.str();
  m["request_time"] = time_policy_name(TimePolicy::kServing);
  m["channels"] = names;
  // What the channels were fitted on (rank.channel_folds): the feature pipeline's statistics
  // and the re-rank side data are computed from the same rows when the bundle is loaded.
  m["channels_fit"] = in.channels_fit();
  m["fusion"] = {{"method", fopt.method},
                 {"rrf_k", fopt.rrf_k},
                 {"pool_size", fopt.pool_size},
                 {"weights", fopt.weights},
                 {"quotas", fopt.quotas}};
  m["rank"] = {
      {"pool_depth", rc.pool_depth},
      {"pre_rank", {{"name", pre_spec.name}, {"kind", pre_spec.kind}, {"keep", rc.pre_keep}}},
      {"fine_rank", {{"name", fine_spec.name}, {"kind", fine_spec.kind}, {"keep", rc.fine_keep}}}};
  // Experiment JSONs kept with the bundle (the dashboard's offline page reads them).
  for (const auto& [name, path] : opt.reports) {
    CASCADE_CHECK(!name.empty() && std::all_of(name.begin(), name.end(),
                                               [](char c) {
                                                 return (c >= 'a' && c <= 'z') ||
                                                        (c >= '0' && c <= '9') || c == '_' ||
                                                        c == '-';
                                               }),
                  fmt::format("bundle: report name '{}' must be [a-z0-9_-]+", name));
    const std::string text = read_file(path);
    if (!Json::accept(text))
      throw Error(fmt::format("bundle: report {} ({}) is not valid JSON", name, path.string()));
    fs::create_directories(tmp / "reports");
    write_file_atomic(tmp / "reports" / (name + ".json"), text);
  }

  Json files = Json::object();
  std::string listing;
  for (const auto& rel : bundle_files(tmp)) {
    const std::string h = hash_file(tmp / rel);
    files[rel] = {{"bytes", fs::file_size(tmp / rel)}, {"xxh3", h}};
    listing += rel + " " + h + "\n";
  }
  m["files"] = files;
  const std::string version = utc_stamp("%Y%m%dT%H%M%SZ") + "-" + hash_hex(listing).substr(0, 8);
  m["version"] = version;
  write_file_atomic(tmp / "manifest.json", m.dump(2) + "\n");

  // 5. The bundle's own offline figures: its funnel, loaded and served exactly as `cascade serve`
  // runs it, on the validation and the test users. Nothing is chosen on them; /health shows them.
  {
    const Stopwatch sw;
    const Recommender rec(Bundle::load(tmp));
    Json& off = m["offline"];
    ServedEvalOptions valid_opt;  // the requests in parallel: the figures do not change
    valid_opt.threads = threads;
    off["valid"] = evaluate_served(rec, in.valid, valid_opt).to_json(10);
    ServedEvalOptions test_opt = valid_opt;
    if (opt.test_sees_valid) test_opt.prior_events = &ds.valid;
    const Interactions test_seen = ds.seen_since_train();  // no rows without keep_seen
    test_opt.prior_seen = &test_seen;
    off["test"] = evaluate_served(rec, in.test, test_opt).to_json(10);
    off["test_history"] = opt.test_sees_valid
                              ? "training rows + the validation item as a live event"
                              : "training rows";
    // The λ Pareto of the served re-rank on the validation users (nothing is chosen on it here).
    if (!opt.lambdas.empty()) {
      off["rerank_sweep"] = rerank_sweep(rec, in.valid, opt.lambdas, valid_opt, "bundle");
      off["rerank_sweep"]["split"] = "valid";
    }
    off["note"] =
        "the served funnel (this bundle, serving request time, its re-rank) on held-out users; "
        "channels and rankers never saw these items";
    if (const size_t cap = heldout_user_cap(cfg); cap > 0) {
      off["sampled_users"] = {{"eval.max_users", cap},
                              {"valid", nonempty_rows(in.valid)},
                              {"valid_of", nonempty_rows(ds.valid)},
                              {"test", nonempty_rows(in.test)},
                              {"test_of", nonempty_rows(ds.test)}};
      off["note"] = off["note"].get<std::string>() +
                    "; a seeded sample of the held-out users (eval.max_users)";
    }
    spdlog::info("bundle: offline Recall@10 valid {:.4f}, test {:.4f} (pool {:.4f}) in {:.1f} s",
                 off["valid"]["recall@10"].get<double>(), off["test"]["recall@10"].get<double>(),
                 off["test"]["pool"]["recall@10"].get<double>(), sw.seconds());
  }
  m["build_seconds"] = total.seconds();
  write_file_atomic(tmp / "manifest.json", m.dump(2) + "\n");

  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  fs::path old = out;
  old += fmt::format(".old.{}", ::getpid());
  if (fs::exists(out)) fs::rename(out, old);
  fs::rename(tmp, out);
  fs::remove_all(old);
  spdlog::info("bundle {} written to {} ({:.1f} s)", version, out.string(), total.seconds());
  return version;
}

nlohmann::json Bundle::report(const std::string& name) const {
  const fs::path p = dir_ / "reports" / (name + ".json");
  if (!manifest_.at("files").contains("reports/" + name + ".json")) return nullptr;
  return Json::parse(read_file(p));
}

std::shared_ptr<const Bundle> Bundle::load(const fs::path& dir) {
  const Stopwatch sw;
  std::shared_ptr<Bundle> b(new Bundle());
  b->dir_ = dir;
  b->manifest_ = verify_bundle(dir);
  const Json& m = b->manifest_;
  b->version_ = m["version"].get<std::string>();
  b->config_ = YAML::LoadFile((dir / "config.yaml").string());
  b->ds_ = load_snapshot((dir / "data").string());
  if (b->ds_.content_hash != m["dataset"].value("hash", ""))
    throw Error("bundle " + dir.string() +
                ": the dataset snapshot's hash differs from the manifest's");
  // Bundles written before channel folds carry no key: their channels saw the recall slice.
  const std::string fit = m.value("channels_fit", std::string("recall_slice"));
  if (fit == "recall_slice")
    b->fit_matrix_ = b->ds_.recall_slice();
  else if (fit == "train")
    b->fit_matrix_ = b->ds_.train;
  else
    throw Error(
        fmt::format("bundle {}: manifest channels_fit is '{}' (expected recall_slice or train)",
                    dir.string(), fit));
  b->log_clock_ = cascade::log_clock(b->ds_.train);

  for (const auto& name : m["channels"]) {
    b->names_.push_back(name.get<std::string>());
    b->channels_.push_back(load_recaller(dir / "channels" / b->names_.back()));
    b->channel_ptrs_.push_back(b->channels_.back().get());
  }
  const Json& f = m["fusion"];
  b->fusion_.method = f.at("method").get<std::string>();
  b->fusion_.rrf_k = f.at("rrf_k").get<double>();
  b->fusion_.pool_size = f.at("pool_size").get<size_t>();
  b->fusion_.weights = f.at("weights").get<std::vector<double>>();
  b->fusion_.quotas = f.at("quotas").get<std::vector<size_t>>();
  validate_fusion_options(b->fusion_, b->names_.size());

  const Json& r = m["rank"];
  b->pool_depth_ = r.at("pool_depth").get<size_t>();
  b->pre_name_ = r.at("pre_rank").at("name").get<std::string>();
  b->pre_keep_ = r.at("pre_rank").at("keep").get<size_t>();
  b->fine_name_ = r.at("fine_rank").at("name").get<std::string>();
  b->fine_keep_ = r.at("fine_rank").at("keep").get<size_t>();
  const FeatureConfig fconf = FeatureConfig::from_yaml(b->config_["rank"]["features"]);
  b->features_ = std::make_unique<FeatureBuilder>(b->ds_.catalog, b->fit_matrix_, b->channel_ptrs_,
                                                  b->names_, fconf);
  b->pre_ = load_ranker(dir / "rankers" / b->pre_name_);
  b->fine_ = load_ranker(dir / "rankers" / b->fine_name_);
  check_schema(b->pre_->schema(), b->features_->schema(), "bundle ranker " + b->pre_name_);
  check_schema(b->fine_->schema(), b->features_->schema(), "bundle ranker " + b->fine_name_);
  spdlog::info(
      "loaded bundle {} from {} ({} users, {} items, channels {}, {} -> {} -> {} -> {}; {:.2f} s)",
      b->version_, dir.string(), b->ds_.n_users, b->ds_.n_items, fmt::join(b->names_, ","),
      b->pre_name_, b->pre_keep_, b->fine_name_, b->fine_keep_, sw.seconds());
  return b;
}

int Bundle::channel_index(const std::string& name) const {
  for (size_t c = 0; c < names_.size(); ++c)
    if (names_[c] == name) return static_cast<int>(c);
  return -1;
}

}  // namespace cascade
