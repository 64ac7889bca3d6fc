#include <gtest/gtest.h>

#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/params.h"

namespace cascade {

TEST(Params, ParsesSpecAndDefaults) {
  Spec s = Spec::parse("ials:factors=32, reg=0.5");
  EXPECT_EQ(s.name, "ials");
  EXPECT_EQ(s.params.get_int("factors", 64, 1, 1024), 32);
  EXPECT_DOUBLE_EQ(s.params.get_double("reg", 1.0, 0, 1e9), 0.5);
  EXPECT_EQ(s.params.get_int("iters", 15, 1, 1000), 15);
  EXPECT_EQ(s.params.resolved().at("iters"), "15");
  EXPECT_NO_THROW(s.params.check_unused("ials"));
}

TEST(Params, RejectsUnknownKeysAndBadValues) {
  Params p = Params::parse("factors=abc,bogus=1");
  EXPECT_THROW(p.get_int("factors", 1, 1, 10), Error);
  Params q = Params::parse("bogus=1");
  q.get_int("factors", 1, 1, 10);
  try {
    q.check_unused("ials");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("factors"), std::string::npos);
  }
  Params r = Params::parse("factors=5000");
  EXPECT_THROW(r.get_int("factors", 1, 1, 1024), Error);
  EXPECT_THROW(Params::parse("novalue"), Error);
  Params b = Params::parse("flag=maybe");
  EXPECT_THROW(b.get_bool("flag", false), Error);
}

TEST(Params, LayerListsParseStrictly) {
  const LayerLimits lim{.min_width = 1, .max_width = 4096, .max_layers = 3, .none = ""};
  Params p = Params::parse("hidden=64-32");
  EXPECT_EQ(p.get_layers("hidden", "8", lim), (std::vector<int>{64, 32}));
  EXPECT_EQ(p.resolved().at("hidden"), "64-32");
  EXPECT_EQ(p.get_layers("other", "16", lim), std::vector<int>{16});
  for (const char* bad : {"", "-", "64-", "-64", "64--32", "abc", "+64", " 64", "0", "4097", "1-2-3-4",
                          "99999999999"}) {
    try {
      Params::parse_layers("hidden", bad, lim);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("hidden"), std::string::npos) << e.what();
    }
  }
  LayerLimits none = lim;
  none.none = "0";
  EXPECT_TRUE(Params::parse_layers("mlp", "0", none).empty());
  EXPECT_THROW(Params::parse_layers("mlp", "0", lim), Error);
}

}  // namespace cascade
