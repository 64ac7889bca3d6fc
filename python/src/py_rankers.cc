// cascade.RankingData and cascade.Ranker: the ranking stage's models from Python. RankingData is
// what `cascade bundle` trains its rankers from (channels on the seed-oof recall slice, or k-fold
// channels with rank.channel_folds; fusion
// tuned on validation, training pools, the feature pipeline, seed-oof examples); Ranker is any
// registered ranker by name with its YAML parameters as keywords, fitted on it exactly as the
// bundle fits the funnel's rankers, saved in the bundle's rankers/<name> format.
#include <fmt/format.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/pipeline/funnel_spec.h"
#include "cascade/pipeline/funnel_train.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/rank/blend.h"
#include "cascade/rank/ranker.h"
#include "py_common.h"
#include "py_parts.h"

namespace cascade::py {

namespace {

struct PyRankingData {
  std::shared_ptr<const Dataset> dataset;
  std::string funnel;
  uint64_t seed = 42;
  int threads = 0;
  std::unique_ptr<FunnelInputs> inputs;
  std::unique_ptr<TrainingSets> sets;

  // The training set of the configured example mix: (fit groups, held-out groups).
  const std::pair<RankTrainSet, RankTrainSet>& examples() { return sets->get(inputs->rank.examples); }
};

struct PyRanker {
  std::string kind;
  Params params;
  std::shared_ptr<const Ranker> model;

  const Ranker& fitted(const char* what) const {
    if (!model) throw Error(kind + "." + what + ": the ranker is not fitted (call fit() or Ranker.load())");
    return *model;
  }
};

std::vector<float> score_rows(const Ranker& model, const RankBatch& batch) {
  std::vector<float> out(batch.rows());
  model.score(batch, out);
  return out;
}

}  // namespace

void init_rankers(pyb::module_& m) {
  pyb::class_<PyRankingData, std::shared_ptr<PyRankingData>>(m, "RankingData", R"doc(
What rankers learn from, built as `cascade bundle` builds it on a seed-oof dataset: the funnel's
recall channels fitted on the recall slice (with the override rank.channel_folds=k: served channels
on every training row, each fold's training requests answered by channels that never saw its
ranker slice), fusion weights tuned on the validation item, every
user's training pool and the seed-oof examples (positives from the ranker slice, hard negatives
from the pool, random negatives), through the one feature pipeline serving uses.

RankingData(dataset, funnel="ials+ease > norm(quota=200,pool=100) > lr@50 > gbdt@20", overrides=[])
— funnel and overrides as in build_bundle (the rankers named in it are not fitted here).)doc")
      .def(pyb::init([](std::shared_ptr<const Dataset> ds, const std::string& funnel,
                        const std::vector<std::string>& overrides, int threads, const std::string& config_dir,
                        const std::string& channel_cache) {
             if (!ds) throw pyb::type_error("RankingData: dataset is None");
             if (ds->options.protocol != Protocol::kSeedOof)
               throw Error("RankingData: the dataset must be split seed-oof (rankers learn from the ranker slice), got " +
                           protocol_name(ds->options.protocol));
             auto d = std::make_shared<PyRankingData>();
             d->dataset = ds;
             d->threads = threads;
             YAML::Node cfg =
                 ConfigLoader{config_dir.empty() ? default_config_dir() : std::filesystem::path(config_dir)}.compose("config", overrides);
             if (!funnel.empty()) cfg["funnel"] = funnel;
             d->seed = cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42;
             run_interruptible([&] {
               d->funnel = resolve_funnel(cfg).str();
               FunnelTrainOptions to;
               to.threads = threads;
               to.channel_cache = channel_cache;
               to.heldout_test = false;
               d->inputs = std::make_unique<FunnelInputs>(prepare_funnel_inputs(cfg, *ds, to));
               d->sets = std::make_unique<TrainingSets>(
                   d->inputs->training_features(), *ds, d->inputs->train_pools,
                   d->inputs->rank.valid_share, threads, d->seed);
               d->examples();  // built now, inside the interruptible call
             });
             return d;
           }),
           pyb::arg("dataset"), pyb::kw_only(), pyb::arg("funnel") = "",
           pyb::arg("overrides") = std::vector<std::string>{}, pyb::arg("threads") = 0,
           pyb::arg("config_dir") = "", pyb::arg("channel_cache") = "")
      .def_property_readonly("funnel", [](const PyRankingData& d) { return d.funnel; }, "The resolved funnel spec.")
      .def_property_readonly("channels", [](const PyRankingData& d) { return d.inputs->names; })
      .def_property_readonly("features", [](const PyRankingData& d) {
        const FeatureSchema& s = d.inputs->features->schema();
        std::vector<std::string> names = s.dense;
        for (const auto& f : s.fields) names.push_back(f.name);
        return names;
      }, "The feature columns every row carries (dense, then categorical: the serving schema).")
      .def(
          "labels",
          [](PyRankingData& d, const std::string& part) {
            const auto& [fit, held] = d.examples();
            const RankTrainSet& s = part == "fit" ? fit : part == "heldout" ? held
                                                        : throw Error("part must be fit or heldout, got '" + part + "'");
            return to_numpy(std::vector<float>(s.labels), {static_cast<ssize_t>(s.labels.size())});
          },
          pyb::arg("part") = "heldout", "Labels (1 positive, 0 negative) of the fit or held-out rows.")
      .def("__repr__", [](PyRankingData& d) {
        const auto& [fit, held] = d.examples();
        return "<cascade.RankingData " + d.funnel + ": " + std::to_string(fit.batch.rows()) + " fit rows, " +
               std::to_string(held.batch.rows()) + " held-out rows>";
      });

  pyb::class_<PyRanker, std::shared_ptr<PyRanker>>(m, "Ranker", pyb::dynamic_attr(), R"doc(
A ranker (lr, gbdt, deepfm, din, bst, blend) by registry name with the parameters of its
rank.rankers.<name> YAML entry as keywords, e.g. Ranker("gbdt", rounds=200). A blend's members
are the RankingData's configured rankers: Ranker("blend", members="gbdt+din"). Unknown names or
keywords and out-of-range values raise cascade.Error naming them. fit() trains it on RankingData
as the bundle trains its funnel's rankers; save() writes the bundle's rankers/<name> format.)doc")
      .def(pyb::init([](const std::string& kind, pyb::kwargs kwargs) {
             auto r = std::make_shared<PyRanker>();
             r->kind = kind;
             r->params = params_from_kwargs(kwargs);
             Registry<Ranker>::instance().create(kind, Params(r->params.raw()));  // validate now
             return r;
           }),
           pyb::arg("kind"))
      .def_static(
          "load",
          [](const std::filesystem::path& dir) {
            auto r = std::make_shared<PyRanker>();
            std::shared_ptr<const Ranker> model;
            {
              pyb::gil_scoped_release release;
              model = load_ranker(dir);
            }
            r->kind = model->kind();
            r->params = model->params();
            r->model = std::move(model);
            return r;
          },
          pyb::arg("dir"),
          "Loads a ranker saved by Ranker.save or a bundle's rankers/<name> (manifest checked).")
      .def_static("kinds", [] { return Registry<Ranker>::instance().names(); })
      .def_property_readonly("kind", [](const PyRanker& r) { return r.kind; })
      .def_property_readonly("fitted", [](const PyRanker& r) { return static_cast<bool>(r.model); })
      .def_property_readonly("params",
                             [](const PyRanker& r) {
                               return r.model
                                          ? params_dict(r.model->params())
                                          : params_dict(Registry<Ranker>::instance()
                                                            .create(r.kind, Params(r.params.raw()))
                                                            ->params());
                             })
      .def(
          "fit",
          [](PyRanker& r, PyRankingData& data, int threads, std::optional<uint64_t> seed) {
            RankerSpec spec;
            spec.name = r.kind;
            spec.kind = r.kind;
            spec.params = Params(r.params.raw());
            spec.examples = data.inputs->rank.examples;
            // A blend's members are the data's configured rankers of those names.
            if (r.kind == "blend" && r.params.raw().count("members"))
              for (const auto& name : blend_member_names(r.params.raw().at("members"))) {
                const RankerSpec& m = data.inputs->rank.ranker(name);
                CASCADE_CHECK(
                    m.kind != "blend",
                    fmt::format("Ranker('blend'): members names '{}', itself a blend", name));
                spec.members.push_back(m);
              }
            std::shared_ptr<const Ranker> model;
            run_interruptible([&] {
              model = fit_ranker_on(spec, *data.sets, threads, seed.value_or(data.seed), data.dataset->content_hash);
            });
            r.model = std::move(model);
          },
          pyb::arg("data"), pyb::kw_only(), pyb::arg("threads") = 0,
          pyb::arg("seed") = std::nullopt, R"doc(
Trains on the data's fit groups, with its held-out groups for early stopping, exactly as
`cascade bundle` fits a funnel ranker (seed: the config's). Releases the GIL; Ctrl-C stops it.)doc")
      .def(
          "score",
          [](const PyRanker& r, PyRankingData& data, const std::string& part) {
            const Ranker& model = r.fitted("score");
            const auto& [fit, held] = data.examples();
            const RankTrainSet& s = part == "fit" ? fit : part == "heldout" ? held
                                                        : throw Error("part must be fit or heldout, got '" + part + "'");
            std::vector<float> out;
            {
              pyb::gil_scoped_release release;
              out = score_rows(model, s.batch);
            }
            const auto n = static_cast<ssize_t>(out.size());
            return to_numpy(std::move(out), {n});
          },
          pyb::arg("data"), pyb::arg("part") = "heldout",
          "Scores of the fit or held-out rows (RankingData.labels order).")
      .def(
          "auc",
          [](const PyRanker& r, PyRankingData& data) {
            const Ranker& model = r.fitted("auc");
            const auto& held = data.examples().second;
            pyb::gil_scoped_release release;
            const std::vector<float> s = score_rows(model, held.batch);
            return grouped_auc(held.batch, held.labels, s);
          },
          pyb::arg("data"),
          "In-pool AUC on the held-out groups (mean over groups with both labels).")
      .def(
          "save",
          [](const PyRanker& r, const std::filesystem::path& dir) {
            const Ranker& model = r.fitted("save");
            pyb::gil_scoped_release release;
            model.save(dir);
          },
          pyb::arg("dir"))
      .def("__repr__", [](const PyRanker& r) {
        return "<cascade.Ranker " + r.kind + (r.model ? " fitted" : " not fitted") + ">";
      });
}

}  // namespace cascade::py
