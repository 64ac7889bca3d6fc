#include "cascade/pipeline/recall_job.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>

#include "cascade/core/error.h"
#include "cascade/data/snapshot.h"
#include "cascade/io/artifact.h"
#include "cascade/util/build_id.h"
#include "cascade/util/stopwatch.h"

namespace fs = std::filesystem;

namespace cascade {

namespace {

template <class T>
T get_or(const YAML::Node& node, const char* key, T def) {
  if (!node[key]) return def;
  try {
    return node[key].as<T>();
  } catch (const YAML::Exception& e) {
    throw Error(
        fmt::format("config data.{}: cannot read '{}' ({})", key, YAML::Dump(node[key]), e.what()));
  }
}


// Unescapes the separators people type on a command line ("\t", "tab").
std::string unescape_sep(const std::string& s) {
  if (s == "\\t" || s == "tab" || s == "TAB") return "\t";
  return s;
}

}  // namespace

std::string DataSource::fingerprint() const {
  std::string cols;
  for (const auto& c : load.columns) cols += c + ",";
  return fmt::format(
             "dataset={};path={};protocol={};min_rating={};min_positives={};oof={};time={},{};skip="
             "{};sep="
             "{};"
             "columns={};header={}",
             dataset, fs::weakly_canonical(path).string(), protocol_name(prepare.protocol),
             prepare.min_rating, prepare.min_positives, prepare.oof_fraction, prepare.time_train,
             prepare.time_valid, load.skip_bad_rows, load.sep, cols, load.header) +
         // Only when on, so the fingerprints (and cached snapshots) of other runs stay valid.
         (prepare.keep_seen ? ";keep_seen=1" : "");
}

DataSource data_source_from_yaml(const YAML::Node& data) {
  if (!data || !data.IsMap())
    throw Error("config: missing 'data' section (choose one with data=NAME)");
  DataSource s;
  s.dataset = get_or<std::string>(data, "dataset", "");
  s.path = get_or<std::string>(data, "path", "");
  if (s.dataset.empty())
    throw Error("config: data.dataset is empty (ml-100k, ml-1m, ml-latest or csv)");
  if (s.path.empty()) throw Error("config: data.path is empty");
  s.tag = get_or<std::string>(data, "tag", s.dataset);
  s.prepare.protocol = parse_protocol(get_or<std::string>(data, "protocol", "seed-loo"));
  s.prepare.min_rating = get_or<float>(data, "min_rating", 4.0f);
  s.prepare.min_positives = get_or<uint32_t>(data, "min_positives", 5);
  s.prepare.oof_fraction = get_or<double>(data, "oof_fraction", 0.1);
  s.prepare.time_train = get_or<double>(data, "time_train", 0.8);
  s.prepare.time_valid = get_or<double>(data, "time_valid", 0.1);
  s.prepare.keep_seen = get_or<bool>(data, "keep_seen", false);
  s.load.skip_bad_rows = get_or<bool>(data, "skip_bad_rows", false);
  s.load.sep = unescape_sep(get_or<std::string>(data, "sep", ","));
  if (data["columns"]) s.load.columns = parse_columns(get_or<std::string>(data, "columns", ""));
  s.load.header = get_or<bool>(data, "header", false);
  return s;
}

Dataset prepare_or_load(const DataSource& src, const fs::path& snapshot_dir) {
  const fs::path stamp = snapshot_dir / "source.txt";
  const std::string fp = src.fingerprint();
  if (fs::exists(snapshot_dir / "dataset.snap") && fs::exists(stamp) && read_file(stamp) == fp) {
    const Stopwatch t0;
    Dataset ds = load_snapshot(snapshot_dir.string());
    spdlog::info("loaded snapshot {} in {:.1f} ms", (snapshot_dir / "dataset.snap").string(),
                 1000 * t0.seconds());
    return ds;
  }
  const Stopwatch t0;
  spdlog::info("loading {} from {}", src.dataset, src.path);
  RawLog log = load_dataset(src.dataset, src.path, src.load);
  if (log.skipped_rows > 0) spdlog::warn("skipped {} bad rows (--skip-bad-rows)", log.skipped_rows);
  spdlog::info("read {} rows in {:.2f} s; preparing ({})", log.size(), t0.seconds(),
               protocol_name(src.prepare.protocol));
  Dataset ds = prepare_dataset(log, src.tag, src.prepare);
  save_snapshot(ds, snapshot_dir.string());
  write_file_atomic(stamp, fp);
  spdlog::info("snapshot {}: {} users, {} items, {} train rows, hash {}", snapshot_dir.string(),
               ds.n_users, ds.n_items, ds.train.nnz(), ds.content_hash);
  return ds;
}

std::string ChannelSpec::spec() const {
  std::string s = kind;
  std::string p = params.to_string();
  if (!p.empty()) s += ":" + p;
  return s;
}

namespace {

std::optional<AnnOptions> ann_options_from_yaml(const YAML::Node& node, const std::string& channel) {
  if (!node || node.IsNull()) return std::nullopt;
  if (!node.IsMap()) {
    throw Error(fmt::format("config: recall.channels.{}.ann must be a map (kind: hnsw, m: 32, ...)",
                            channel));
  }
  Params p;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) {
      throw Error(fmt::format("config: recall.channels.{}.ann.{} must be a scalar", channel, key));
    }
    p.set(key, kv.second.as<std::string>());
  }
  try {
    if (p.get_string("kind", "hnsw", {"none", "exact", "pruned", "hnsw", "ivf"}) == "none")
      return std::nullopt;
    AnnOptions o = AnnOptions::from_params(p);
    p.check_unused("recall.channels." + channel + ".ann");
    return o;
  } catch (const Error& e) {
    throw Error(fmt::format("config: recall.channels.{}.ann: {}", channel, e.what()));
  }
}

}  // namespace

std::vector<ChannelSpec> channel_specs_from_yaml(const YAML::Node& channels) {
  if (!channels || !channels.IsMap() || channels.size() == 0) {
    throw Error("config: recall.channels must map channel names to their parameters");
  }
  std::vector<ChannelSpec> out;
  for (const auto& kv : channels) {
    ChannelSpec c;
    c.name = kv.first.as<std::string>();
    c.kind = c.name;
    const YAML::Node& body = kv.second;
    if (body && !body.IsNull()) {
      if (!body.IsMap())
        throw Error(fmt::format("config: recall.channels.{} must be a map of parameters", c.name));
      for (const auto& p : body) {
        std::string key = p.first.as<std::string>();
        if (key == "ann") {
          c.ann = ann_options_from_yaml(p.second, c.name);
          continue;
        }
        if (!p.second.IsScalar()) {
          throw Error(fmt::format("config: recall.channels.{}.{} must be a scalar", c.name, key));
        }
        if (key == "kind") {
          c.kind = p.second.as<std::string>();
        } else {
          c.params.set(key, p.second.as<std::string>());
        }
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ChannelSpec> select_channels(const std::vector<ChannelSpec>& all,
                                         const std::vector<std::string>& only) {
  if (only.empty()) return all;
  std::vector<ChannelSpec> out;
  for (const std::string& name : only) {
    auto it =
        std::find_if(all.begin(), all.end(), [&](const ChannelSpec& c) { return c.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const auto& c : all) known += (known.empty() ? "" : ", ") + c.name;
      throw Error(
          fmt::format("--channels: '{}' is not a configured channel; configured: {}", name, known));
    }
    out.push_back(*it);
  }
  return out;
}

FittedChannel fit_channel(const ChannelSpec& spec, const Dataset& ds, const Interactions& train,
                          int threads, uint64_t seed) {
  FittedChannel f;
  f.spec = spec;
  f.model = make_recaller(spec.spec());
  FitInput in{train, ds.catalog, 0, 42, nullptr, ""};
  in.threads = threads;
  in.seed = seed;
  in.valid = &ds.valid;
  in.dataset_hash = ds.content_hash;
  // keep_seen: the rows with the seen events known by their end, for sequence channels.
  const Interactions context = ds.options.keep_seen ? ds.with_seen(train) : Interactions();
  if (ds.options.keep_seen) in.context = &context;
  const Stopwatch t0;
  f.model->fit(in);
  f.fit_seconds = t0.seconds();
  if (spec.ann) {
    const Stopwatch t1;
    AnnOptions opt = *spec.ann;
    if (opt.threads == 0) opt.threads = threads;
    const ItemVectorsView v = f.model->item_vectors();
    f.model->attach_index(std::make_shared<AnnIndex>(v.data, v.rows, v.dim, opt));
    f.index_seconds = t1.seconds();
    spdlog::info("{}: {} index over {} x {} item vectors built in {:.3f} s", spec.name, opt.kind,
                 v.rows, v.dim, f.index_seconds);
  }
  return f;
}

FittedChannel fit_or_load_channel(const ChannelSpec& spec, const Dataset& ds, const Interactions& train,
                                  const std::string& tag, const std::filesystem::path& cache_dir, int threads,
                                  uint64_t seed) {
  std::filesystem::path dir;
  if (!cache_dir.empty()) {
    const std::string key =
        hash_hex(fmt::format("{}|{}|{}|{}|{}|{}", spec.spec(), ds.content_hash, seed, tag, spec.ann ? "ann" : "",
                             code_build_id()))
            .substr(0, 16);
    dir = cache_dir / fmt::format("{}-{}-{}", tag, spec.name, key);
    if (std::filesystem::exists(dir / "manifest.json")) {
      spdlog::info("{}: loading {} from the cache {}", tag, spec.name, dir.string());
      FittedChannel fc;
      fc.spec = spec;
      fc.model = load_recaller(dir);
      fc.fit_seconds = -1;  // not fitted in this run
      return fc;
    }
  }
  spdlog::info("{}: fitting recall channel {} ({})", tag, spec.name, spec.spec());
  FittedChannel fc = fit_channel(spec, ds, train, threads, seed);
  if (!dir.empty()) save_recaller(*fc.model, dir);
  return fc;
}

}  // namespace cascade
