// cascade.Dataset: loading (MovieLens / CSV as the CLI does, or arrays from Python), the
// protocols' splits, snapshots, id maps and the split matrices as NumPy arrays.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "cascade/core/error.h"
#include "cascade/data/dataset.h"
#include "cascade/data/loaders.h"
#include "cascade/data/snapshot.h"
#include "py_common.h"
#include "py_parts.h"

namespace cascade::py {

namespace {

PrepareOptions prepare_options(const std::string& protocol, double min_rating, int64_t min_positives,
                               double oof_fraction, double time_train, double time_valid) {
  PrepareOptions o;
  o.protocol = parse_protocol(protocol);
  o.min_rating = static_cast<float>(min_rating);
  if (min_positives < 0) throw Error("min_positives must be >= 0, got " + std::to_string(min_positives));
  o.min_positives = static_cast<uint32_t>(min_positives);
  o.oof_fraction = oof_fraction;
  o.time_train = time_train;
  o.time_valid = time_valid;
  validate_prepare_options(o);
  return o;
}

const Interactions& split_of(const Dataset& ds, const std::string& name) {
  if (name == "train") return ds.train;
  if (name == "valid") return ds.valid;
  if (name == "test") return ds.test;
  throw Error("split must be train, valid or test, got '" + name + "'");
}

// A split as (indptr, indices, values, times) NumPy copies: the caller may keep them past the
// dataset, and scipy's CSR wants its own int32/int64 arrays anyway.
pyb::tuple csr_arrays(const Interactions& m) {
  std::vector<int64_t> indptr(m.indptr.begin(), m.indptr.end());
  std::vector<int32_t> indices(m.indices.begin(), m.indices.end());
  std::vector<float> values(m.values);
  std::vector<int64_t> times(m.times);
  const auto n = static_cast<ssize_t>(m.nnz());
  return pyb::make_tuple(to_numpy(std::move(indptr), {static_cast<ssize_t>(m.n_rows) + 1}),
                         to_numpy(std::move(indices), {n}), to_numpy(std::move(values), {n}),
                         to_numpy(std::move(times), {n}));
}

// An optional column of from_arrays as a vector of n values (converted by NumPy).
template <class T>
std::vector<T> column(const pyb::object& values, size_t n, const char* what) {
  auto a = values.cast<pyb::array_t<T, pyb::array::c_style | pyb::array::forcecast>>();
  if (static_cast<size_t>(a.size()) != n)
    throw Error(std::string(what) + " has " + std::to_string(a.size()) + " rows but users has " + std::to_string(n));
  return std::vector<T>(a.data(), a.data() + n);
}

std::shared_ptr<Dataset> from_codes(pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast> users,
                                    std::vector<std::string> user_keys,
                                    pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast> items,
                                    std::vector<std::string> item_keys, pyb::object ratings, pyb::object timestamps,
                                    const std::string& name, const PrepareOptions& opt) {
  const size_t n = static_cast<size_t>(users.size());
  if (static_cast<size_t>(items.size()) != n)
    throw Error("items has " + std::to_string(items.size()) + " rows but users has " + std::to_string(n));
  RawLog log;
  log.source = name;
  log.user_keys = std::move(user_keys);
  log.item_keys = std::move(item_keys);
  log.user.resize(n);
  log.item.resize(n);
  auto u = users.unchecked<1>();
  auto it = items.unchecked<1>();
  for (size_t i = 0; i < n; ++i) {
    if (u(i) < 0 || static_cast<size_t>(u(i)) >= log.user_keys.size())
      throw DataError(name, i + 1, "user", "code out of range");
    if (it(i) < 0 || static_cast<size_t>(it(i)) >= log.item_keys.size())
      throw DataError(name, i + 1, "item", "code out of range");
    log.user[i] = static_cast<uint32_t>(u(i));
    log.item[i] = static_cast<uint32_t>(it(i));
  }
  log.has_rating = !ratings.is_none();
  if (log.has_rating) {
    log.rating = column<float>(ratings, n, "rating");
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(log.rating[i])) throw DataError(name, i + 1, "rating", "not a finite number");
  } else {
    log.rating.assign(n, 1.0f);
  }
  log.has_timestamp = !timestamps.is_none();
  if (log.has_timestamp) {
    log.timestamp = column<int64_t>(timestamps, n, "timestamp");
  } else {
    log.timestamp.resize(n);
    for (size_t i = 0; i < n; ++i) log.timestamp[i] = static_cast<int64_t>(i);
  }
  pyb::gil_scoped_release release;
  return std::make_shared<Dataset>(prepare_dataset(log, name, opt));
}

}  // namespace

void init_data(pyb::module_& m) {
  pyb::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset", pyb::dynamic_attr(), R"doc(
A prepared interaction log: filtered, densely re-indexed and split by a protocol
(seed-loo, seed-oof or time), exactly as `cascade prepare` makes it.

Make one with cascade.load_dataset (MovieLens folders, CSV files), cascade.load_snapshot (a
folder `cascade prepare` or Dataset.save wrote) or Dataset.from_frame / Dataset.from_arrays.
Dense ids run 0..n_users-1 and 0..n_items-1; user_ids / item_ids map them back to raw ids.)doc")
      .def_property_readonly("name", [](const Dataset& d) { return d.name; })
      .def_property_readonly("source", [](const Dataset& d) { return d.source; })
      .def_property_readonly("protocol", [](const Dataset& d) { return protocol_name(d.options.protocol); })
      .def_property_readonly("n_users", [](const Dataset& d) { return d.n_users; })
      .def_property_readonly("n_items", [](const Dataset& d) { return d.n_items; })
      .def_property_readonly("content_hash", [](const Dataset& d) { return d.content_hash; },
                             "Hex digest of the data; every model trained on it records it.")
      .def_property_readonly("raw_user_ids", [](const Dataset& d) { return d.user_ids; },
                             "Raw user ids as text, indexed by dense id.")
      .def_property_readonly("raw_item_ids", [](const Dataset& d) { return d.item_ids; },
                             "Raw item ids as text, indexed by dense id.")
      .def("_find_user", [](const Dataset& d, const std::string& raw) { return d.find_user(raw); })
      .def("_find_item", [](const Dataset& d, const std::string& raw) { return d.find_item(raw); })
      .def(
          "split_arrays",
          [](const Dataset& d, const std::string& split) { return csr_arrays(split_of(d, split)); },
          pyb::arg("split") = "train",
          "(indptr, indices, values, times) of a split (train, valid or test) as NumPy arrays: "
          "rows are users, each in time order.")
      .def(
          "recall_arrays", [](const Dataset& d) { return csr_arrays(d.recall_slice()); },
          "The matrix the channels are fitted on: the recall slice under seed-oof, train otherwise.")
      .def(
          "history",
          [](const Dataset& d, int64_t user) {
            if (user < 0 || user >= d.n_users)
              throw pyb::index_error("user " + std::to_string(user) + " out of range [0, " +
                                     std::to_string(d.n_users) + ")");
            auto row = d.train.row(static_cast<uint32_t>(user));
            return to_numpy(std::vector<int32_t>(row.begin(), row.end()), {static_cast<ssize_t>(row.size())});
          },
          pyb::arg("user"), "The user's training items (dense ids), oldest first.")
      .def(
          "item_title", [](const Dataset& d, int64_t item) {
            if (item < 0 || item >= d.n_items) throw pyb::index_error("item " + std::to_string(item) + " out of range");
            return d.catalog.items.empty() ? std::string() : d.catalog.items[item].title;
          },
          pyb::arg("item"))
      .def(
          "save",
          [](Dataset& d, const std::filesystem::path& dir) {
            pyb::gil_scoped_release release;
            save_snapshot(d, dir.string());
          },
          pyb::arg("dir"), "Writes the snapshot (dataset.snap, id maps, summary.json) that the CLI loads.")
      .def("__repr__", [](const Dataset& d) {
        return "<cascade.Dataset " + d.name + " " + protocol_name(d.options.protocol) + ": " +
               std::to_string(d.n_users) + " users, " + std::to_string(d.n_items) + " items, " +
               std::to_string(d.train.nnz()) + " train rows>";
      });

  m.def(
      "load_dataset",
      [](const std::string& name, const std::filesystem::path& path, const std::string& protocol, double min_rating,
         int64_t min_positives, double oof_fraction, double time_train, double time_valid, const std::string& sep,
         const std::vector<std::string>& columns, bool header, const std::string& encoding, bool skip_bad_rows) {
        const PrepareOptions opt =
            prepare_options(protocol, min_rating, min_positives, oof_fraction, time_train, time_valid);
        LoadOptions lo;
        lo.sep = sep;
        if (!columns.empty()) {
          std::string joined;
          for (const auto& c : columns) joined += (joined.empty() ? "" : ",") + c;
          lo.columns = parse_columns(joined);
        }
        lo.header = header;
        lo.encoding = encoding;
        lo.skip_bad_rows = skip_bad_rows;
        std::shared_ptr<Dataset> out;
        run_interruptible([&] { out = std::make_shared<Dataset>(prepare_dataset(load_dataset(name, path.string(), lo), name, opt)); });
        return out;
      },
      pyb::arg("name"), pyb::arg("path"), pyb::kw_only(), pyb::arg("protocol") = "seed-loo",
      pyb::arg("min_rating") = 4.0, pyb::arg("min_positives") = 5, pyb::arg("oof_fraction") = 0.1,
      pyb::arg("time_train") = 0.8, pyb::arg("time_valid") = 0.1, pyb::arg("sep") = ",",
      pyb::arg("columns") = std::vector<std::string>{}, pyb::arg("header") = false, pyb::arg("encoding") = "",
      pyb::arg("skip_bad_rows") = false, R"doc(
Loads a log with the CLI's loaders and prepares it with the CLI's protocol code.

name: ml-100k, ml-1m, ml-10m, ml-latest, ml-latest-small, ml-20m, ml-25m or csv.
path: the dataset folder (or the CSV file).
protocol: seed-loo, seed-oof or time; min_rating, min_positives, oof_fraction, time_train,
time_valid as `cascade prepare`. CSV only: sep, columns (e.g. ["user", "item", "rating",
"timestamp"]), header, encoding. Bad rows raise cascade.DataError naming file, line and field
unless skip_bad_rows.)doc");

  m.def("load_snapshot", [](const std::filesystem::path& path) {
        std::shared_ptr<Dataset> out;
        run_interruptible([&] { out = std::make_shared<Dataset>(load_snapshot(path.string())); });
        return out;
      },
      pyb::arg("path"), "Loads a snapshot folder (or dataset.snap) written by `cascade prepare` or Dataset.save.");

  m.def(
      "_dataset_from_codes",
      [](pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast> users, std::vector<std::string> user_keys,
         pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast> items, std::vector<std::string> item_keys,
         pyb::object ratings, pyb::object timestamps, const std::string& name, const std::string& protocol,
         double min_rating, int64_t min_positives, double oof_fraction, double time_train, double time_valid) {
        const PrepareOptions opt =
            prepare_options(protocol, min_rating, min_positives, oof_fraction, time_train, time_valid);
        return from_codes(users, std::move(user_keys), items, std::move(item_keys), ratings, timestamps, name, opt);
      });
}

}  // namespace cascade::py
