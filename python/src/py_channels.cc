// cascade.Channel: every registered recall channel by name, with keyword parameters; fit,
// batch recommend / score over arrays of users, item and user vectors, save / load in the
// CLI's artefact format.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/util/parallel.h"
#include "cascade/util/topk.h"
#include "py_common.h"
#include "py_parts.h"

namespace cascade::py {

using IdArray = pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast>;

std::shared_ptr<const Interactions> channel_matrix(const std::shared_ptr<const Dataset>& ds) {
  if (ds->options.protocol != Protocol::kSeedOof) return std::shared_ptr<const Interactions>(ds, &ds->train);
  return std::make_shared<const Interactions>(ds->recall_slice());
}

void check_catalogue(const PyChannel& c, const Dataset& ds) {
  const uint32_t n = c.fitted("dataset").n_items();
  if (ds.n_items != n)
    throw Error(c.kind + ": the channel scores " + std::to_string(n) + " items but dataset '" + ds.name + "' has " +
                std::to_string(ds.n_items) + ": it was not trained on this dataset");
  if (!c.dataset_hash.empty() && !ds.content_hash.empty() && c.dataset_hash != ds.content_hash)
    throw Error(c.kind + " was trained on dataset " + c.dataset_hash + " but this dataset is " + ds.content_hash +
                ": retrain it (or load the snapshot it was trained on)");
}

const Recaller& PyChannel::fitted(const char* what) const {
  if (!model) throw Error(kind + "." + what + ": the channel is not fitted (call fit() or Channel.load())");
  return *model;
}

namespace {

std::string manifest_dataset_hash(const std::filesystem::path& dir) {
  const auto m = nlohmann::json::parse(read_file(dir / "manifest.json"));
  return m.contains("dataset_hash") && m["dataset_hash"].is_string() ? m["dataset_hash"].get<std::string>() : "";
}

std::unique_ptr<Recaller> create(const std::string& kind, const Params& params) {
  return Registry<Recaller>::instance().create(kind, Params(params.raw()));
}

// The rows to recommend for, checked against the catalogue the channel knows.
std::vector<UserId> user_list(const IdArray& users, uint32_t n_users, const char* who) {
  std::vector<UserId> out(static_cast<size_t>(users.size()));
  const int64_t* p = users.data();
  for (size_t i = 0; i < out.size(); ++i) {
    if (p[i] < 0 || p[i] >= static_cast<int64_t>(n_users))
      throw pyb::index_error(std::string(who) + ": user " + std::to_string(p[i]) + " out of range [0, " +
                             std::to_string(n_users) + ")");
    out[i] = static_cast<UserId>(p[i]);
  }
  return out;
}

// Histories come from the matrix fit() used, or from `dataset` (needed after load()).
std::shared_ptr<const Interactions> histories(const PyChannel& c, const std::shared_ptr<const Dataset>& ds) {
  if (ds && ds == c.dataset && c.fit_rows) return c.fit_rows;
  if (ds) {
    check_catalogue(c, *ds);
    return channel_matrix(ds);
  }
  if (c.fit_rows) return c.fit_rows;
  throw Error(c.kind + ": pass dataset= (a loaded channel does not know the users' histories)");
}

UserQuery query_of(const Interactions& rows, UserId u) {
  UserQuery q;
  q.user = u;
  if (u < rows.n_rows) q.history = rows.row(u);
  return q;
}

void recommend_one(const Recaller& model, const Interactions& rows, UserId u, size_t k, bool filter_seen,
                   std::vector<float>& scratch, int32_t* items, float* scores) {
  const UserQuery q = query_of(rows, u);
  std::vector<ScoredItem> top;
  if (filter_seen) {
    top = model.top_n(q, k);
  } else {
    scratch.resize(model.n_items());
    model.score(q, scratch);
    top = top_k(scratch, k);
  }
  for (size_t j = 0; j < k; ++j) {
    items[j] = j < top.size() ? static_cast<int32_t>(top[j].item) : -1;
    scores[j] = j < top.size() ? top[j].score : -std::numeric_limits<float>::infinity();
  }
}

}  // namespace

void init_channels(pyb::module_& m) {
  pyb::class_<PyChannel, std::shared_ptr<PyChannel>>(m, "Channel", pyb::dynamic_attr(), R"doc(
A recall channel (popularity, content, ials, ease, two_tower, sasrec, ...) by registry name with
the parameters of its YAML group as keywords, e.g. Channel("ials", factors=64, reg=15.0).

Unknown names or keywords and out-of-range values raise cascade.Error naming them, exactly as the
CLI does. fit() trains it on a Dataset (the recall slice under seed-oof); save() writes the CLI's
artefact folder, which `cascade eval` and Channel.load read.)doc")
      .def(pyb::init([](const std::string& kind, pyb::kwargs kwargs) {
             auto c = std::make_shared<PyChannel>();
             c->kind = kind;
             c->params = params_from_kwargs(kwargs);
             create(kind, c->params);  // validates the name and every keyword now, not at fit
             return c;
           }),
           pyb::arg("kind"))
      .def_static(
          "load",
          [](const std::filesystem::path& dir) {
            auto c = std::make_shared<PyChannel>();
            std::shared_ptr<const Recaller> model;
            {
              pyb::gil_scoped_release release;
              model = load_recaller(dir);
            }
            c->kind = model->kind();
            c->params = model->params();
            c->model = std::move(model);
            c->dataset_hash = manifest_dataset_hash(dir);
            return c;
          },
          pyb::arg("dir"), "Loads a channel saved by Channel.save or `cascade train` (manifest checked).")
      .def_static("kinds", [] { return Registry<Recaller>::instance().names(); }, "The registered channel names.")
      .def_property_readonly("kind", [](const PyChannel& c) { return c.kind; })
      .def_property_readonly(
          "params",
          [](const PyChannel& c) { return c.model ? params_dict(c.model->params()) : params_dict(create(c.kind, c.params)->params()); },
          "Every parameter in force, defaults filled in (what the manifest records).")
      .def_property_readonly("fitted", [](const PyChannel& c) { return static_cast<bool>(c.model); })
      .def_property_readonly("n_items", [](const PyChannel& c) { return c.fitted("n_items").n_items(); })
      .def(
          "fit",
          [](PyChannel& c, std::shared_ptr<const Dataset> ds, int threads, uint64_t seed) {
            if (!ds) throw pyb::type_error("fit: dataset is None");
            std::shared_ptr<Recaller> model = create(c.kind, c.params);
            auto rows = channel_matrix(ds);
            run_interruptible([&] {
              FitInput in{*rows, ds->catalog, threads, seed, &ds->valid, ds->content_hash};
              model->fit(in);
            });
            c.model = std::move(model);
            c.dataset_hash = ds->content_hash;
            c.dataset = std::move(ds);
            c.fit_rows = std::move(rows);
          },
          pyb::arg("dataset"), pyb::kw_only(), pyb::arg("threads") = 0, pyb::arg("seed") = 42, R"doc(
Trains on the dataset's recall matrix (the recall slice under seed-oof, train otherwise), with
its validation split for the channels that tune on it. threads=0 uses every core. Releases the
GIL; Ctrl-C stops it at the next iteration / epoch and raises KeyboardInterrupt (the channel keeps
its previous state). Returns None.)doc")
      .def(
          "save",
          [](const PyChannel& c, const std::filesystem::path& dir) {
            const Recaller& model = c.fitted("save");
            pyb::gil_scoped_release release;
            save_recaller(model, dir);
          },
          pyb::arg("dir"), "Writes manifest.json and the model's arrays (atomically), the CLI's format.")
      .def(
          "recommend",
          [](const PyChannel& c, pyb::object users_obj, size_t k, std::shared_ptr<const Dataset> ds,
             bool filter_seen, int threads) -> pyb::tuple {
            const Recaller& model = c.fitted("recommend");
            if (k == 0) throw pyb::value_error("recommend: k must be > 0");
            const auto rows = histories(c, ds);
            const uint32_t n_users = rows->n_rows;  // one history row per user of the dataset
            const IdArray user_array = users_obj.cast<IdArray>();
            if (user_array.ndim() == 0) {  // one user (int or NumPy scalar): 1-D answers
              const auto users = user_list(user_array, n_users, "recommend");
              std::vector<int32_t> items(k);
              std::vector<float> scores(k), scratch;
              {
                pyb::gil_scoped_release release;
                recommend_one(model, *rows, users[0], k, filter_seen, scratch, items.data(), scores.data());
              }
              const auto kk = static_cast<ssize_t>(k);
              return pyb::make_tuple(to_numpy(std::move(items), {kk}), to_numpy(std::move(scores), {kk}));
            }
            if (user_array.ndim() != 1) throw pyb::value_error("recommend: users must be an int or a 1-D array");
            const auto users = user_list(user_array, n_users, "recommend");
            std::vector<int32_t> items(users.size() * k);
            std::vector<float> scores(users.size() * k);
            {
              pyb::gil_scoped_release release;
              parallel_for_dynamic(users.size(), threads, 64, [&](size_t i, int) {
                thread_local std::vector<float> scratch;
                recommend_one(model, *rows, users[i], k, filter_seen, scratch, items.data() + i * k,
                              scores.data() + i * k);
              });
            }
            const std::vector<ssize_t> shape = {static_cast<ssize_t>(users.size()), static_cast<ssize_t>(k)};
            return pyb::make_tuple(to_numpy(std::move(items), shape), to_numpy(std::move(scores), shape));
          },
          pyb::arg("users"), pyb::arg("k") = 10, pyb::kw_only(), pyb::arg("dataset") = nullptr,
          pyb::arg("filter_seen") = true, pyb::arg("threads") = 0, R"doc(
Top-k items for one user (an int: 1-D arrays) or an array of dense user ids (2-D arrays, one row
per user): (items int32, scores float32), best first, ties toward the lower item id. Histories
are the rows the channel was fitted on (pass dataset= after Channel.load). filter_seen removes
the user's history, as `cascade eval` does; rows shorter than k are padded with -1 / -inf.
Users are spread over `threads` workers (0 = every core) without the GIL.)doc")
      .def(
          "score",
          [](const PyChannel& c, pyb::object users_obj, pyb::object items_obj, std::shared_ptr<const Dataset> ds,
             int threads) {
            const Recaller& model = c.fitted("score");
            const auto rows = histories(c, ds);
            const uint32_t n_users = rows->n_rows;  // one history row per user of the dataset
            const IdArray user_array = users_obj.cast<IdArray>();
            if (user_array.ndim() > 1) throw pyb::value_error("score: users must be an int or a 1-D array");
            const auto users = user_list(user_array, n_users, "score");
            const bool all_items = items_obj.is_none();
            std::vector<ItemId> items;
            if (!all_items) {
              const IdArray item_array = items_obj.cast<IdArray>();
              if (item_array.ndim() != 1) throw pyb::value_error("score: items must be a 1-D array");
              for (ssize_t i = 0; i < item_array.size(); ++i) {
                const int64_t v = item_array.data()[i];
                if (v < 0 || v >= static_cast<int64_t>(model.n_items()))
                  throw pyb::index_error("score: item " + std::to_string(v) + " out of range [0, " +
                                         std::to_string(model.n_items()) + ")");
                items.push_back(static_cast<ItemId>(v));
              }
            }
            const size_t width = all_items ? model.n_items() : items.size();
            std::vector<float> out(users.size() * width);
            {
              pyb::gil_scoped_release release;
              parallel_for_dynamic(users.size(), users.size() > 1 ? threads : 1, 16, [&](size_t i, int) {
                std::span<float> row(out.data() + i * width, width);
                if (all_items)
                  model.score(query_of(*rows, users[i]), row);
                else
                  model.score_items(query_of(*rows, users[i]), items, row);
              });
            }
            if (user_array.ndim() == 0) return to_numpy(std::move(out), {static_cast<ssize_t>(width)});
            return to_numpy(std::move(out), {static_cast<ssize_t>(users.size()), static_cast<ssize_t>(width)});
          },
          pyb::arg("users"), pyb::arg("items") = pyb::none(), pyb::kw_only(), pyb::arg("dataset") = nullptr,
          pyb::arg("threads") = 0, R"doc(
Scores (float32, unmasked, higher is better) for one user (an int: 1-D) or an array of dense
user ids (2-D, one row per user): every item, or only `items` (dense ids, in that order).)doc")
      .def_property_readonly(
          "item_vectors",
          [](pyb::object self) {
            const PyChannel& c = self.cast<const PyChannel&>();
            const ItemVectorsView v = c.fitted("item_vectors").item_vectors();
            // The base is a capsule holding the model: a later fit() replaces c.model, never
            // this memory.
            auto* keep = new std::shared_ptr<const Recaller>(c.model);
            pyb::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<const Recaller>*>(p); });
            return float_view(v.data, v.rows, v.dim, owner);
          },
          "Item vectors (n_items x dim, read-only) viewing the model's own memory: no copy. "
          "Raises cascade.NotSupported for channels without vectors.")
      .def(
          "user_vectors",
          [](const PyChannel& c, pyb::object users_obj, std::shared_ptr<const Dataset> ds) {
            const Recaller& model = c.fitted("user_vectors");
            const ItemVectorsView v = model.item_vectors();
            const auto rows = histories(c, ds);
            const uint32_t n_users = rows->n_rows;  // one history row per user of the dataset
            const auto users = user_list(users_obj.cast<IdArray>(), n_users, "user_vectors");
            std::vector<float> out(users.size() * v.dim);
            for (size_t i = 0; i < users.size(); ++i) {
              if (!model.user_vector(query_of(*rows, users[i]), {out.data() + i * v.dim, v.dim}))
                throw NotSupported(c.kind + ": scores are not an inner product of user and item vectors");
            }
            return to_numpy(std::move(out), {static_cast<ssize_t>(users.size()), static_cast<ssize_t>(v.dim)});
          },
          pyb::arg("users"), pyb::kw_only(), pyb::arg("dataset") = nullptr,
          "User vectors (len(users) x dim, computed: a copy) such that scores = user_vector @ item_vectors.T.")
      .def("__repr__", [](const PyChannel& c) {
        return "<cascade.Channel " + c.kind + (c.model ? " fitted" : " not fitted") + ">";
      });
}

}  // namespace cascade::py
