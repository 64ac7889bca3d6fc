#include "cascade/data/catalog.h"

namespace cascade {

int32_t age_bucket(int32_t age) {
  if (age < 0) return -1;
  if (age < 18) return 0;
  if (age < 25) return 1;
  if (age < 35) return 2;
  if (age < 45) return 3;
  if (age < 50) return 4;
  if (age < 56) return 5;
  return 6;
}

int32_t year_bucket(int32_t year) {
  if (year < 0) return -1;
  if (year < 1970) return 0;
  if (year < 1980) return 1;
  if (year < 1990) return 2;
  if (year < 2000) return 3;
  return 4;
}

}  // namespace cascade
