// The Recaller contract, checked for EVERY registered channel (whatever
// Registry<Recaller> holds when the test binary starts, including channels added later):
//   - fit on the tiny dataset, finite scores for known, folded-in and cold queries;
//   - top_n: min(k, n_items - |history U exclude|) unique items, none masked, best first
//     (ties: lower id), scores equal to score();
//   - score_items == gathered score();
//   - save -> load_recaller gives bit-identical scores (and item vectors);
//   - a tampered, truncated or missing data file, or a corrupt manifest, throws cascade::Error;
//   - unknown channel names and unknown parameters throw, naming what is known;
//   - params() round-trips through a spec; refitting starts from scratch;
//   - concurrent score() calls agree with serial ones.
// Each test is instantiated per channel, so gtest prints the channel in the test name;
// SCOPED_TRACE adds it to every failure message too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cascade/ann/ann_index.h"
#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/recall/recaller.h"
#include "support/tiny_data.h"
#include "support/test_util.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::TinyData;

// Specs for channels whose defaults are slow or too large for 40 items; any other
// registered channel is created from its bare name. Add an entry when a new channel
// needs one (keep them small: the whole suite must stay fast, also under ASan).
std::string spec_for(const std::string& name) {
  static const std::map<std::string, std::string> kOverrides = {
      {"ials", "ials:factors=8,iters=5"},
      {"sasrec", "sasrec:dim=8,blocks=1,max_len=6,epochs=2,batch=8,eval_every=0"},
      {"two_tower", "two_tower:dim=8,feat_dim=4,epochs=2,batch=16,negatives=4,eval_every=0"},
  };
  auto it = kOverrides.find(name);
  return it == kOverrides.end() ? name : it->second;
}

std::vector<std::string> registered_channels() { return Registry<Recaller>::instance().names(); }

const TinyData& data() {
  static const TinyData d = test::make_tiny_data();
  return d;
}

// Users with long, short, single and empty histories.
const std::vector<UserId> kUsers = {0, 1, 5, 10, 17, TinyData::kSingleUser, TinyData::kEmptyUser};

std::vector<float> all_scores(const Recaller& r, const UserQuery& q) {
  std::vector<float> s(r.n_items());
  r.score(q, s);
  return s;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

class RecallContract : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& name() const { return GetParam(); }

  std::unique_ptr<Recaller> make() const { return make_recaller(spec_for(name())); }

  std::unique_ptr<Recaller> fitted(const Interactions& train) const {
    auto m = make();
    m->fit(FitInput{.train = train, .catalog = data().catalog, .threads = 1, .seed = 42,
                    .valid = nullptr, .dataset_hash = data().hash});
    return m;
  }
  std::unique_ptr<Recaller> fitted() const { return fitted(data().train); }
};

TEST_P(RecallContract, FitsAndScoresFiniteForKnownFoldedAndColdQueries) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  EXPECT_EQ(m->kind(), name());
  ASSERT_EQ(m->n_items(), TinyData::kItems);
  for (UserId u : kUsers) {
    auto known = all_scores(*m, data().query(u));
    UserQuery folded = data().query(u);
    folded.user = kUnknownUser;  // fold the history in
    auto fold = all_scores(*m, folded);
    for (ItemId i = 0; i < TinyData::kItems; ++i) {
      ASSERT_TRUE(std::isfinite(known[i])) << "user " << u << " item " << i;
      ASSERT_TRUE(std::isfinite(fold[i])) << "folded user " << u << " item " << i;
    }
  }
  auto cold = all_scores(*m, UserQuery{});
  for (ItemId i = 0; i < TinyData::kItems; ++i) ASSERT_TRUE(std::isfinite(cold[i])) << "cold query, item " << i;
}

TEST_P(RecallContract, TopNMasksDedupesAndSorts) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  const std::vector<std::vector<ItemId>> excludes = {{}, {3, 3, 39, 1000}};
  for (UserId u : kUsers) {
    UserQuery q = data().query(u);
    auto scores = all_scores(*m, q);
    for (const auto& excl : excludes) {
      std::set<ItemId> masked(q.history.begin(), q.history.end());
      for (ItemId e : excl) if (e < TinyData::kItems) masked.insert(e);
      for (size_t k : {size_t{1}, size_t{7}, size_t{TinyData::kItems}, size_t{100}}) {
        auto top = m->top_n(q, k, excl);
        SCOPED_TRACE("user " + std::to_string(u) + ", k " + std::to_string(k) + ", " +
                     std::to_string(excl.size()) + " exclusions");
        ASSERT_EQ(top.size(), std::min(k, TinyData::kItems - masked.size()));
        std::set<ItemId> seen;
        for (size_t r = 0; r < top.size(); ++r) {
          const ScoredItem& s = top[r];
          ASSERT_LT(s.item, TinyData::kItems);
          EXPECT_TRUE(seen.insert(s.item).second) << "item " << s.item << " twice";
          EXPECT_FALSE(masked.count(s.item)) << "masked item " << s.item << " returned";
          EXPECT_EQ(s.score, scores[s.item]) << "top_n score differs from score() for item " << s.item;
          if (r > 0) {
            const ScoredItem& p = top[r - 1];
            EXPECT_TRUE(p.score > s.score || (p.score == s.score && p.item < s.item))
                << "rank " << r << " out of order: (" << p.item << ", " << p.score << ") before ("
                << s.item << ", " << s.score << ")";
          }
        }
        // Nothing left out scores above the last kept item.
        if (!top.empty()) {
          for (ItemId i = 0; i < TinyData::kItems; ++i) {
            if (masked.count(i) || seen.count(i)) continue;
            EXPECT_LE(scores[i], top.back().score) << "item " << i << " should have been returned";
          }
        }
      }
    }
  }
}

TEST_P(RecallContract, ScoreItemsEqualsGatheredScore) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  std::vector<ItemId> cand;
  for (ItemId i = TinyData::kItems; i-- > 0;) cand.push_back(i);  // every item, reversed
  cand.insert(cand.end(), {5, 5, 0});                               // and repeats
  for (UserId u : kUsers) {
    UserQuery q = data().query(u);
    auto all = all_scores(*m, q);
    std::vector<float> out(cand.size());
    m->score_items(q, cand, out);
    for (size_t k = 0; k < cand.size(); ++k) {
      // Equal up to float summation order (a channel may score candidates with dot
      // products and the catalogue with one mat-vec).
      EXPECT_NEAR(out[k], all[cand[k]], 1e-5 * std::max(1.0f, std::fabs(all[cand[k]])))
          << "user " << u << " item " << cand[k];
    }
    std::vector<float> none;
    EXPECT_NO_THROW(m->score_items(q, {}, none));
  }
}

TEST_P(RecallContract, WrongScoreBufferThrows) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  std::vector<float> small(TinyData::kItems - 1);
  EXPECT_THROW(m->score(data().query(0), small), Error);
}

TEST_P(RecallContract, SaveLoadIsBitIdentical) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  TempDir tmp("contract_" + name());
  m->save(tmp.path());
  ASSERT_TRUE(fs::exists(tmp.path() / "manifest.json"));
  EXPECT_EQ(manifest_kind(tmp.path()), name());

  auto l = load_recaller(tmp.path());
  ASSERT_EQ(l->kind(), m->kind());
  ASSERT_EQ(l->n_items(), m->n_items());
  EXPECT_EQ(l->params().raw(), m->params().raw());
  for (UserId u : kUsers) {
    UserQuery q = data().query(u);
    EXPECT_TRUE(bit_equal(all_scores(*l, q), all_scores(*m, q))) << "user " << u;
    q.user = kUnknownUser;
    EXPECT_TRUE(bit_equal(all_scores(*l, q), all_scores(*m, q))) << "folded user " << u;
  }
  EXPECT_TRUE(bit_equal(all_scores(*l, UserQuery{}), all_scores(*m, UserQuery{}))) << "cold query";

  bool m_vec = true, l_vec = true;
  ItemVectorsView mv, lv;
  try { mv = m->item_vectors(); } catch (const NotSupported&) { m_vec = false; }
  try { lv = l->item_vectors(); } catch (const NotSupported&) { l_vec = false; }
  ASSERT_EQ(m_vec, l_vec);
  if (m_vec) {
    ASSERT_EQ(mv.rows, lv.rows);
    ASSERT_EQ(mv.dim, lv.dim);
    EXPECT_EQ(mv.rows, TinyData::kItems);
    EXPECT_EQ(std::memcmp(mv.data, lv.data, sizeof(float) * mv.rows * mv.dim), 0);
  }

  // Saving the loaded model again gives a loadable directory too.
  TempDir tmp2("contract2_" + name());
  l->save(tmp2.path());
  auto l2 = load_recaller(tmp2.path());
  EXPECT_TRUE(bit_equal(all_scores(*l2, data().query(0)), all_scores(*m, data().query(0))));
}

TEST_P(RecallContract, DamagedArtefactsThrow) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  TempDir tmp("damage_" + name());
  const fs::path good = tmp.path() / "good";
  m->save(good);

  std::vector<fs::path> data_files;
  for (const auto& e : fs::recursive_directory_iterator(good)) {
    if (e.is_regular_file() && e.path().filename() != "manifest.json") {
      data_files.push_back(fs::relative(e.path(), good));
    }
  }
  ASSERT_FALSE(data_files.empty()) << "a saved model should have at least one data file";

  int case_no = 0;
  auto fresh_copy = [&]() {
    fs::path dir = tmp.path() / ("case" + std::to_string(case_no++));
    fs::copy(good, dir, fs::copy_options::recursive);
    return dir;
  };
  for (const fs::path& rel : data_files) {
    SCOPED_TRACE("file " + rel.string());
    {  // one flipped byte in the middle
      fs::path dir = fresh_copy();
      std::string bytes = read_file(dir / rel);
      if (bytes.empty()) {
        bytes.push_back('x');
      } else {
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
      }
      write_file_atomic(dir / rel, bytes);
      EXPECT_THROW(load_recaller(dir), Error) << "flipped byte accepted";
    }
    {  // truncated
      fs::path dir = fresh_copy();
      std::string bytes = read_file(dir / rel);
      if (!bytes.empty()) {
        write_file_atomic(dir / rel, bytes.substr(0, bytes.size() - 1));
        EXPECT_THROW(load_recaller(dir), Error) << "truncated file accepted";
      }
    }
    {  // missing
      fs::path dir = fresh_copy();
      fs::remove(dir / rel);
      EXPECT_THROW(load_recaller(dir), Error) << "missing file accepted";
    }
  }
  {  // corrupt manifest
    fs::path dir = fresh_copy();
    std::string text = read_file(dir / "manifest.json");
    write_file_atomic(dir / "manifest.json", text.substr(0, text.size() / 2));
    EXPECT_THROW(load_recaller(dir), Error) << "corrupt manifest accepted";
  }
  {  // no manifest (an interrupted save)
    fs::path dir = fresh_copy();
    fs::remove(dir / "manifest.json");
    EXPECT_THROW(load_recaller(dir), Error) << "directory without manifest accepted";
  }
  EXPECT_NO_THROW(load_recaller(good));
}

TEST_P(RecallContract, UnknownParameterThrows) {
  SCOPED_TRACE("channel " + name());
  std::string spec = spec_for(name());
  spec += (spec.find(':') == std::string::npos ? ":" : ",");
  spec += "no_such_param=1";
  try {
    make_recaller(spec);
    FAIL() << "spec '" << spec << "' was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_param"), std::string::npos) << e.what();
  }
}

TEST_P(RecallContract, ParamsRoundTripThroughASpec) {
  SCOPED_TRACE("channel " + name());
  auto m = make();
  Params p = m->params();
  EXPECT_FALSE(p.raw().empty()) << "params() should list the parameters in force";
  auto again = make_recaller(name() + ":" + p.to_string());
  EXPECT_EQ(again->params().raw(), p.raw());
}

TEST_P(RecallContract, RefitStartsFromScratch) {
  SCOPED_TRACE("channel " + name());
  // First fit on a different matrix: the first half of every user's row.
  const Interactions& full = data().train;
  Interactions half = full.slice_rows([](uint32_t) { return uint64_t{0}; },
                                      [&](uint32_t r) { return uint64_t{(full.row_size(r) + 1) / 2}; });
  auto m = fitted(half);
  m->fit(FitInput{.train = full, .catalog = data().catalog, .threads = 1, .seed = 42,
                  .valid = nullptr, .dataset_hash = data().hash});
  auto ref = fitted();
  for (UserId u : kUsers) {
    auto a = all_scores(*m, data().query(u));
    auto b = all_scores(*ref, data().query(u));
    for (ItemId i = 0; i < TinyData::kItems; ++i) {
      EXPECT_NEAR(a[i], b[i], 1e-5 * std::max(1.0f, std::fabs(b[i]))) << "user " << u << " item " << i;
    }
  }
}

TEST_P(RecallContract, ConcurrentScoringMatchesSerial) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  std::vector<std::vector<float>> serial;
  for (UserId u = 0; u < TinyData::kUsers; ++u) serial.push_back(all_scores(*m, data().query(u)));
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        for (UserId u = 0; u < TinyData::kUsers; ++u) {
          UserId v = (u + static_cast<UserId>(t) * 7) % TinyData::kUsers;
          if (!bit_equal(all_scores(*m, data().query(v)), serial[v])) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// A channel that reports user vectors scores exactly <user vector, item vector>, so an ANN
// index over item_vectors() ranks like score() (known, folded-in and cold queries).
TEST_P(RecallContract, UserVectorDotItemVectorsIsTheScore) {
  SCOPED_TRACE("channel " + name());
  auto m = fitted();
  ItemVectorsView v;
  try {
    v = m->item_vectors();
  } catch (const NotSupported&) {
    std::vector<float> any(8);
    EXPECT_FALSE(m->user_vector(data().query(0), any)) << "user vectors without item vectors";
    return;
  }
  std::vector<float> u(v.dim);
  if (!m->user_vector(data().query(0), u)) {
    // Item vectors without user vectors (content: cosine of TF-IDF rows): an ANN index
    // cannot serve the channel, and attaching one says so.
    auto idx = std::make_shared<AnnIndex>(v.data, v.rows, v.dim, AnnOptions{});
    EXPECT_NE(test::error_of([&] { m->attach_index(idx); }).find("no user vectors"), std::string::npos);
    return;
  }
  for (UserId user : kUsers) {
    for (bool fold : {false, true}) {
      UserQuery q = data().query(user);
      if (fold) q.user = kUnknownUser;
      ASSERT_TRUE(m->user_vector(q, u));
      auto s = all_scores(*m, q);
      for (ItemId i = 0; i < v.rows; ++i) {
        double dot = 0;
        for (uint32_t j = 0; j < v.dim; ++j) dot += double(u[j]) * v.data[size_t(i) * v.dim + j];
        EXPECT_NEAR(s[i], dot, 1e-4 * std::max(1.0, std::fabs(dot)))
            << "user " << user << (fold ? " (folded)" : "") << " item " << i;
      }
    }
  }
}

// Same data, same seed, same thread count -> the same model, bit for bit, in one process and
// across processes (the printed fingerprint, a hash of the scores, is compared between runs
// and before/after refactors). Fitted with 1 and 2 threads (OpenMP reductions, libtorch's
// pools) and with a validation set, so the early-stopping paths of the neural channels run.
TEST_P(RecallContract, FitIsDeterministic) {
  SCOPED_TRACE("channel " + name());
  // One held-out item per user that is not in its training row.
  std::vector<std::vector<uint32_t>> rows(TinyData::kUsers);
  for (UserId u = 0; u < TinyData::kUsers; ++u) {
    const auto h = data().train.row(u);
    for (uint32_t i = (u * 7 + 3) % TinyData::kItems;; i = (i + 1) % TinyData::kItems) {
      if (std::find(h.begin(), h.end(), i) == h.end()) {
        rows[u].push_back(i);
        break;
      }
    }
  }
  const Interactions valid = test::make_rows(TinyData::kItems, rows);
  std::string spec = spec_for(name());
  if (auto at = spec.find("eval_every=0"); at != std::string::npos) spec.replace(at, 12, "eval_every=1");
  for (int threads : {1, 2}) {
    std::string fingerprint;
    std::map<std::string, nlohmann::json> files;
    for (int run = 0; run < 2; ++run) {
      auto m = make_recaller(spec);
      m->fit(FitInput{.train = data().train, .catalog = data().catalog, .threads = threads, .seed = 42,
                      .valid = &valid, .dataset_hash = data().hash});
      std::string bytes;
      for (UserId u : kUsers) {
        for (bool fold : {false, true}) {
          UserQuery q = data().query(u);
          if (fold) q.user = kUnknownUser;
          const auto s = all_scores(*m, q);
          bytes.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(float));
        }
      }
      TempDir tmp("determinism_" + name());
      m->save(tmp.path());
      const auto manifest = nlohmann::json::parse(read_file(tmp.path() / "manifest.json"));
      const std::string fp = hash_hex(bytes);
      if (run == 0) {
        fingerprint = fp;
        files[name()] = manifest.at("files");
        std::cout << "[fingerprint] recall " << name() << " threads=" << threads << " " << fp << "\n";
      } else {
        EXPECT_EQ(fp, fingerprint) << "threads " << threads << ": a second fit scores differently";
        EXPECT_EQ(manifest.at("files"), files[name()]) << "threads " << threads << ": saved files differ";
      }
    }
  }
}

std::string channel_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllChannels, RecallContract, ::testing::ValuesIn(registered_channels()),
                         channel_test_name);

TEST(RecallRegistry, HasTheBuiltInChannels) {
  auto names = registered_channels();
  for (const char* n : {"popularity", "content"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n << " is not registered";
  }
}

TEST(RecallRegistry, UnknownNameListsTheKnownOnes) {
  try {
    make_recaller("no_such_channel:factors=3");
    FAIL() << "unknown channel accepted";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no_such_channel"), std::string::npos) << msg;
    for (const auto& n : registered_channels()) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
  EXPECT_THROW(make_recaller(""), Error);
  EXPECT_THROW(make_recaller("popularity:half_life_days"), Error);  // not key=value
}

}  // namespace
}  // namespace cascade
