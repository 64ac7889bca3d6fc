#include "cli_common.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "cascade/dist/world.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/funnel_spec.h"
#include "cascade/tracking/run_store.h"

namespace fs = std::filesystem;

namespace cascade::cli {

void DataFlags::add_to(CLI::App* app) {
  app->add_option("--data", data, "data folder (or file, for --dataset csv)")->required();
  app->add_option("--dataset", dataset,
                  "ml-100k | ml-1m | ml-10m | ml-latest | ml-20m | ml-25m | csv")
      ->required();
  app->add_option("--protocol", protocol, "seed-loo | seed-oof | time")->capture_default_str();
  app->add_option("--sep", sep, "csv: field separator (',', 'tab', '::', ...)")
      ->capture_default_str();
  app->add_option("--columns", columns,
                  "csv: column names in order, from user,item[,rating][,timestamp]");
  app->add_flag("--header", header, "csv: the first line is a header");
  app->add_flag("--skip-bad-rows", skip_bad_rows,
                "skip malformed rows (and report how many) instead of failing");
  app->add_option("--min-rating", min_rating, "ratings >= this are positives")
      ->capture_default_str();
  app->add_option("--min-positives", min_positives, "drop users with fewer positives")
      ->capture_default_str();
  app->add_option("--oof-fraction", oof_fraction,
                  "seed-oof: share of each user's training rows in the ranker slice")
      ->capture_default_str();
  app->add_option("--time-train", time_train, "time: train share")->capture_default_str();
  app->add_option("--time-valid", time_valid, "time: validation share")->capture_default_str();
  app->add_flag("--keep-seen", keep_seen,
                "seed protocols: keep ratings below --min-rating as seen events (never positives; "
                "a request excludes the ones before it from every list)");
}

DataSource DataFlags::to_source() const {
  DataSource s;
  s.dataset = dataset;
  s.path = data;
  s.tag = dataset;
  s.prepare.protocol = parse_protocol(protocol);
  s.prepare.min_rating = min_rating;
  s.prepare.min_positives = min_positives;
  s.prepare.oof_fraction = oof_fraction;
  s.prepare.time_train = time_train;
  s.prepare.time_valid = time_valid;
  s.prepare.keep_seen = keep_seen;
  s.load.skip_bad_rows = skip_bad_rows;
  s.load.sep = (sep == "tab" || sep == "\\t") ? "\t" : sep;
  s.load.header = header;
  if (!columns.empty()) s.load.columns = parse_columns(columns);
  return s;
}

YAML::Node load_config(const std::vector<std::string>& overrides) {
  ConfigLoader loader{default_config_dir()};
  return loader.compose("config", overrides);
}

fs::path workdir_for(const YAML::Node& cfg, const std::string& tag) {
  std::string root = cfg["workdir"] ? cfg["workdir"].as<std::string>() : "runs";
  return fs::path(root) / tag;
}

int config_threads(const YAML::Node& cfg) {
  return cfg["threads"] ? cfg["threads"].as<int>() : 0;
}
uint64_t config_seed(const YAML::Node& cfg) {
  return cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42;
}

std::vector<size_t> config_ks(const YAML::Node& cfg) {
  std::vector<size_t> ks = {10, 200};
  if (cfg["eval"] && cfg["eval"]["ks"]) ks = cfg["eval"]["ks"].as<std::vector<size_t>>();
  if (ks.empty()) throw Error("config: eval.ks is empty");
  return ks;
}

std::vector<ChannelSpec> Workspace::channels(const std::vector<std::string>& only) const {
  return select_channels(channel_specs_from_yaml(cfg["recall"]["channels"]), only);
}

namespace {

Workspace open_workspace_here(const std::vector<std::string>& overrides) {
  Workspace w;
  w.cfg = load_config(overrides);
  w.source = data_source_from_yaml(w.cfg["data"]);
  w.dir = workdir_for(w.cfg, w.source.tag);
  w.ds = prepare_or_load(w.source, w.dir / "data");
  const bool oof = w.ds.options.protocol == Protocol::kSeedOof;
  w.train = oof ? w.ds.recall_slice() : w.ds.train;
  if (oof) {
    spdlog::info("seed-oof: channels fit on the recall slice ({} of {} training rows)",
                 w.train.nnz(), w.ds.train.nnz());
  }
  w.mlruns = w.cfg["mlruns"] ? w.cfg["mlruns"].as<std::string>() : "mlruns";
  w.experiment = w.cfg["experiment"] ? w.cfg["experiment"].as<std::string>() : "cascade";
  w.eval.ks = config_ks(w.cfg);
  w.eval.threads = config_threads(w.cfg);
  return w;
}

}  // namespace

Workspace open_workspace(const std::vector<std::string>& overrides) {
  // On MPI, rank 0 prepares (and caches) the snapshot first; the other ranks then load the cache
  // instead of all writing it at once.
  const dist::World& world = dist::world();
  if (world.size > 1 && world.rank != 0) dist::barrier();
  Workspace w = open_workspace_here(overrides);
  if (world.size > 1 && world.rank == 0) dist::barrier();
  return w;
}

std::vector<std::string> funnel_from_overrides(const std::string& funnel_from) {
  if (funnel_from.empty()) return {};
  std::vector<std::string> out;
  try {
    const auto j = nlohmann::json::parse(read_file(funnel_from));
    for (const auto& o : j.value("/selection/chosen/overrides"_json_pointer, nlohmann::json::array()))
      out.push_back(o.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("--funnel-from {}: {}", funnel_from, e.what()));
  }
  return out;
}

std::string apply_funnel_flags(YAML::Node& cfg, const std::string& funnel, const std::string& funnel_from,
                               const std::vector<std::string>& channels) {
  CASCADE_CHECK(funnel.empty() || funnel_from.empty(), "give --funnel or --funnel-from, not both");
  if (!funnel_from.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(funnel_from));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("--funnel-from {}: not valid JSON: {}", funnel_from, e.what()));
    }
    const auto spec = j.value("/selection/chosen/spec"_json_pointer, std::string());
    CASCADE_CHECK(!spec.empty(), fmt::format("--funnel-from {}: no selection.chosen.spec (not a `bench funnel` "
                                             "result?)",
                                             funnel_from));
    cfg["funnel"] = spec;
    // Choices outside the spec (time features) come as config overrides; load_config applied
    // them already when the command read funnel_from_overrides().
  }
  if (!funnel.empty()) cfg["funnel"] = funnel;
  if (!channels.empty()) {
    FunnelSpec spec = funnel_spec_of(cfg);
    std::vector<SpecPart> kept;
    for (const auto& name : channels) {
      const auto it = std::find_if(spec.channels.begin(), spec.channels.end(),
                                   [&](const SpecPart& p) { return p.name == name; });
      if (it == spec.channels.end()) {
        std::vector<std::string> known;
        for (const auto& p : spec.channels) known.push_back(p.name);
        throw Error(fmt::format("--channels: '{}' is not a channel of the funnel ({})", name, fmt::join(known, ", ")));
      }
      kept.push_back(*it);
    }
    spec.channels = kept;
    cfg["funnel"] = spec.str();
  }
  return resolve_funnel(cfg).str();
}

bool funnel_named(const YAML::Node& cfg, const std::string& funnel, const std::string& funnel_from,
                  const std::vector<std::string>& channels) {
  const YAML::Node f = cfg["funnel"];
  const bool in_config = f && !f.IsNull() && !(f.IsScalar() && f.Scalar().empty());
  return in_config || !funnel.empty() || !funnel_from.empty() || !channels.empty();
}

DataShape recall_shape(const Dataset& ds) {
  return {ds.train.n_rows, std::max<uint32_t>(ds.train.n_cols, static_cast<uint32_t>(ds.catalog.items.size())),
          ds.train.nnz()};
}

namespace {

// (name, reason) of each spec that cannot be fitted on `shape`, in order.
std::vector<std::pair<std::string, std::string>> unfit(const std::vector<ChannelSpec>& specs,
                                                       const DataShape& shape) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& spec : specs) {
    const std::string why = make_recaller(spec.spec())->cannot_fit(shape);
    if (!why.empty()) out.emplace_back(spec.name, why);
  }
  return out;
}

void warn_left_out(const std::string& name, const std::string& why, const DataShape& shape) {
  spdlog::warn("{} left out of the default funnel for {} users x {} items ({} rows): {}", name, shape.n_users,
               shape.n_items, shape.nnz, why);
}

}  // namespace

std::vector<ChannelSpec> fit_channels_to_data(std::vector<ChannelSpec> specs, const DataShape& shape,
                                              bool user_chose) {
  const auto bad = unfit(specs, shape);
  if (bad.empty()) return specs;
  if (user_chose) throw Error(bad.front().second);
  for (const auto& [name, why] : bad) {
    warn_left_out(name, why, shape);
    std::erase_if(specs, [&](const ChannelSpec& s) { return s.name == name; });
  }
  return specs;
}

std::string fit_funnel_to_data(YAML::Node& cfg, const DataShape& shape, bool user_chose) {
  // cfg's recall channels are the funnel's, in its order (apply_funnel_flags resolved it).
  const auto specs = channel_specs_from_yaml(cfg["recall"]["channels"]);
  const auto kept = fit_channels_to_data(specs, shape, user_chose);
  if (kept.size() == specs.size()) return resolve_funnel(cfg).str();
  CASCADE_CHECK(!kept.empty(), "funnel: every recall channel was left out for this data's size");
  std::vector<std::string> names;
  for (const auto& s : kept) names.push_back(s.name);
  return apply_funnel_flags(cfg, "", "", names);  // the --channels filter: same rewrite of the spec
}

std::string record_funnel_run(const YAML::Node& cfg, const std::string& command, const std::string& spec,
                              const std::map<std::string, double>& metrics, const std::string& result_json) {
  RunStore store(cfg["mlruns"] ? cfg["mlruns"].as<std::string>() : "mlruns");
  Run run = store.start_run(cfg["experiment"] ? cfg["experiment"].as<std::string>() : "cascade", command);
  for (const auto& [k, v] : flatten_config(cfg)) run.log_param(k, v);
  run.set_tag("cascade.command", command);
  run.set_tag("cascade.funnel", spec);
  for (const auto& [k, v] : metrics) run.log_metric(k, v);
  run.log_artifact_text("config.yaml", yaml_dump(cfg));
  run.log_artifact_text("result.json", result_json);
  run.finish(true);
  return run.id();
}

void print_table(const std::vector<std::string>& columns,
                 const std::vector<std::pair<std::string, std::map<std::string, double>>>& rows) {
  size_t name_w = 8;
  for (const auto& [name, _] : rows) name_w = std::max(name_w, name.size());
  std::string line = fmt::format("{:<{}}", "channel", name_w);
  for (const auto& c : columns) line += fmt::format("  {:>11}", c);
  std::puts(line.c_str());
  std::puts(std::string(line.size(), '-').c_str());
  for (const auto& [name, values] : rows) {
    std::string row = fmt::format("{:<{}}", name, name_w);
    for (const auto& c : columns) {
      auto it = values.find(c);
      if (it == values.end() || !std::isfinite(it->second)) {
        row += fmt::format("  {:>11}", "-");
      } else {
        row += fmt::format("  {:>11.4f}", it->second);
      }
    }
    std::puts(row.c_str());
  }
  std::fflush(stdout);
}

}  // namespace cascade::cli
