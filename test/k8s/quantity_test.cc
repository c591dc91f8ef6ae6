#include "k8s/quantity.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace mlsched::k8s {
namespace {

struct QuantityCase {
  std::string in;
  bool ok;
  int64_t milli;
  int64_t value;
};

TEST_CASE("ParseQuantity: table") {
  const QuantityCase cases[] = {
      {"0", true, 0, 0},
      {"1", true, 1000, 1},
      {"64", true, 64000, 64},
      {"100m", true, 100, 1},  // Value() rounds 0.1 up
      {"1500m", true, 1500, 2},
      {"1.5", true, 1500, 2},
      {".5", true, 500, 1},
      {"5.", true, 5000, 5},
      {"+3", true, 3000, 3},
      {"-1", true, -1000, -1},
      {"-1.5", true, -1500, -1},  // ceil toward +infinity
      {"1Ki", true, 1024000, 1024},
      {"4Gi", true, (int64_t{4} << 30) * 1000, int64_t{4} << 30},
      {"512Gi", true, (int64_t{512} << 30) * 1000, int64_t{512} << 30},
      {"1Ti", true, (int64_t{1} << 40) * 1000, int64_t{1} << 40},
      {"1.5Gi", true, (int64_t{3} << 29) * 1000, int64_t{3} << 29},
      {"1k", true, 1000000, 1000},
      {"1M", true, 1000000000, 1000000},
      {"2G", true, 2000000000000, 2000000000},
      {"1E", false, 0, 0},  // 1e18 * 1000 overflows milli
      {"2e3", true, 2000000, 2000},
      {"2E3", true, 2000000, 2000},
      {"1e-3", true, 1, 1},
      {"1.5e+2", true, 150000, 150},
      {"1n", true, 1, 1},  // tiny positive rounds up to one milli
      {"1u", true, 1, 1},
      {"1000000n", true, 1, 1},
      {"1000000000n", true, 1000, 1},
      {"0.0000000000000000000000000000000000001", true, 1, 1},
      {"000123", true, 123000, 123},
      {"9223372036854775807", false, 0, 0},  // milli overflows
      {"", false, 0, 0},
      {"m", false, 0, 0},
      {".", false, 0, 0},
      {"1..2", false, 0, 0},
      {"1.2.3", false, 0, 0},
      {"abc", false, 0, 0},
      {"1 ", false, 0, 0},
      {" 1", false, 0, 0},
      {"1Kb", false, 0, 0},
      {"1ki", false, 0, 0},
      {"1K", false, 0, 0},  // decimal kilo is lower-case k
      {"1e", false, 0, 0},
      {"1e+", false, 0, 0},
      {"1e99999", false, 0, 0},
      {"1Ei", false, 0, 0},
      {"--1", false, 0, 0},
      {"1234567890123456789012345678901234567890", false, 0, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    int64_t milli = -7, value = -7;
    bool ok_m = ParseQuantityMilli(c.in, &milli);
    CHECK(ok_m == c.ok);
    if (c.ok) {
      CHECK(milli == c.milli);
    } else {
      CHECK(milli == -7);  // untouched on failure
    }
    if (c.ok) {
      REQUIRE(ParseQuantityValue(c.in, &value));
      CHECK(value == c.value);
    }
  }
}

TEST_CASE("ParseQuantityValue: large values that do not fit in milli") {
  int64_t v = 0;
  REQUIRE(ParseQuantityValue("1E", &v));
  CHECK(v == 1000000000000000000);
  REQUIRE(ParseQuantityValue("4Ei", &v));
  CHECK(v == int64_t{4} << 60);
  CHECK_FALSE(ParseQuantityValue("8Ei", &v));
  CHECK_FALSE(ParseQuantityValue("9223372036854775808", &v));
  REQUIRE(ParseQuantityValue("9223372036854775807", &v));
  CHECK(v == INT64_MAX);
}

}  // namespace
}  // namespace mlsched::k8s
