// cascade bench ann [--data PATH --dataset NAME --channels ials,two_tower,sasrec]
//                   [--vectors SET.bin] [--synthetic 100000,1000000] [--kind hnsw,ivf]
//                   [--index-dir DIR] --json OUT.json
// HNSW / IVF against exact inner-product search over item vectors (ann/ann_bench.h): recall
// against the exact top-k and single-query latency, for the item vectors of vector channels
// fitted on a real dataset (pipeline/ann_catalogue.h; --save-vectors keeps them so later runs
// skip the load and fit), for saved vector sets and for synthetic catalogues.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/ann/ann_bench.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/ann_catalogue.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bench_ann(CLI::App* bench) {
  struct Opts {
    DataFlags data;
    std::vector<std::string> channels = {"ials"};
    std::string json;
    std::vector<std::string> vectors;
    std::string save_vectors;
    std::string index_dir;
    AnnBenchOptions bench;
  };
  auto o = std::make_shared<Opts>();
  AnnBenchOptions& b = o->bench;
  CLI::App* cmd =
      bench->add_subcommand("ann", "HNSW / IVF vs exact search: recall and latency per query");
  o->data.add_to(cmd);
  // The real-data catalogue is optional here: synthetic catalogues need no data.
  cmd->get_option("--data")->required(false);
  cmd->get_option("--dataset")->required(false);
  cmd->add_option("--channels", o->channels,
                  "with --data: vector channels whose item vectors are indexed")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--synthetic", b.synthetic, "synthetic catalogue sizes (0 = none)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--synthetic-kind", b.synthetic_kind,
                  "synthetic vectors: clustered (factor-model-like) or gaussian (i.i.d. N(0,1))")
      ->check(CLI::IsMember({"clustered", "gaussian"}))
      ->capture_default_str();
  cmd->add_option("--vectors", o->vectors, "vector sets saved by --save-vectors, benchmarked first")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--save-vectors", o->save_vectors,
                  "with --data: save each channel's vector set as DIR/<catalogue>.vectors (reuse "
                  "with --vectors)");
  cmd->add_option(
      "--index-dir", o->index_dir,
      "save built indexes and exact ground truth here; later runs with the same vectors and "
      "build parameters load them");
  cmd->add_option("--kind", b.kinds, "index kinds: hnsw, ivf")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"pruned", "hnsw", "ivf"}))
      ->capture_default_str();
  cmd->add_option("--dim", b.dim, "synthetic vector dimension")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  cmd->add_option("--queries", b.queries, "queries per catalogue")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  cmd->add_option("--k", b.ks, "recall cut-offs")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--m", b.m, "HNSW M")->capture_default_str()->check(CLI::Range(2, 512));
  cmd->add_option("--ef-construction", b.ef_construction, "HNSW efConstruction")
      ->capture_default_str();
  cmd->add_option("--ef-search", b.ef_search, "HNSW efSearch values")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--nlist", b.nlist, "IVF lists")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--nprobe", b.nprobe, "IVF nprobe values")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--train-size", b.train_size, "IVF k-means sample (0 = min(items, 64 nlist))")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--quantizer", b.quantizer, "IVF coarse quantizer: flat, hnsw")
      ->check(CLI::IsMember({"flat", "hnsw"}))
      ->capture_default_str();
  cmd->add_option("--threads", b.threads, "index build threads (0 = hardware); searches use one")
      ->capture_default_str();
  cmd->add_option("--metric", b.metric,
                  "HNSW graph / IVF k-means metric: ip, or l2 over the MIPS reduction")
      ->check(CLI::IsMember({"ip", "l2"}))
      ->capture_default_str();
  cmd->add_option("--seed", b.seed, "seed of the synthetic vectors")->capture_default_str();
  cmd->add_option("--json", o->json, "write the results here");
  cmd->callback([o] {
    std::vector<VectorSet> given;
    o->bench.index_dir = o->index_dir;
    for (const std::string& path : o->vectors) given.push_back(read_vector_set(path));
    if (!o->data.data.empty()) {
      const DataSource src = o->data.to_source();
      const Dataset ds =
          prepare_dataset(load_dataset(src.dataset, src.path, src.load), src.tag, src.prepare);
      const auto specs = channel_specs_from_yaml(load_config({})["recall"]["channels"]);
      for (const ChannelSpec& spec : select_channels(specs, o->channels)) {
        given.push_back(
            channel_vector_set(ds, spec, o->bench.queries, o->bench.threads, o->bench.seed));
        if (!o->save_vectors.empty()) {
          std::filesystem::create_directories(o->save_vectors);
          write_vector_set(given.back(), std::filesystem::path(o->save_vectors) /
                                             (given.back().name + ".vectors"));
        }
      }
    }
    const std::string text = run_ann_bench(o->bench, given).dump(2);
    fmt::print("{}\n", text);
    if (!o->json.empty()) write_file_atomic(o->json, text + "\n");
  });
}

}  // namespace cascade::cli
