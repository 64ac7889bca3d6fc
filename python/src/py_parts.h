// The parts of the module, each in its own file, and the types they share.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "cascade/core/params.h"
#include "cascade/data/dataset.h"
#include "cascade/recall/recaller.h"

namespace cascade::py {

void init_data(pybind11::module_& m);      // py_data.cc
void init_channels(pybind11::module_& m);  // py_channels.cc
void init_rankers(pybind11::module_& m);   // py_rankers.cc
void init_eval(pybind11::module_& m);      // py_eval.cc
void init_bundle(pybind11::module_& m);    // py_bundle.cc

/// A recall channel as Python holds it. fit() and load() put a NEW model in place rather than
/// refitting the old one, so NumPy views handed out earlier keep the model they view alive.
struct PyChannel {
  std::string kind;
  Params params;  ///< the keyword arguments as given (re-read by each new model)
  std::shared_ptr<const Recaller> model;
  std::shared_ptr<const Dataset> dataset;        ///< what fit() used (null after load())
  std::shared_ptr<const Interactions> fit_rows;  ///< the matrix it was fitted on: histories
  std::string dataset_hash;  ///< content hash of the data it was trained on ("" = unknown)

  const Recaller& fitted(const char* what) const;
};

/// Throws cascade::Error when `ds` is not the data the channel was trained on: another catalogue
/// size, or (when both are known) another content hash than its manifest records — the rule of
/// `cascade eval`.
void check_catalogue(const PyChannel& c, const Dataset& ds);

/// The matrix channels are fitted on and evaluated against, as the CLI picks it: the recall
/// slice under seed-oof (cut once), otherwise the training split itself (the pointer aliases the
/// dataset and keeps it alive: no copy). It has one row per user of the dataset.
std::shared_ptr<const Interactions> channel_matrix(const std::shared_ptr<const Dataset>& ds);

}  // namespace cascade::py
