// f16 (IEEE binary16), the WebGPU storage dtype: the host conversions every
// backend's f16 data goes through, and the CPU's cast to and from it.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "linea/ops.h"
#include "test_util.h"

using namespace linea;

namespace {

// The value of an f16 bit pattern, from its fields (the definition, not the code under test).
double f16_value(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -magnitude : magnitude;
}

}  // namespace

TEST_CASE("f16: every finite pattern widens exactly and narrows back to itself") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    if (((bits >> 10) & 0x1F) == 31) continue;  // infinities and NaNs below
    CAPTURE(h);
    const float x = f16_to_float(bits);
    CHECK(double(x) == f16_value(bits));
    // -0 narrows to -0: the pattern, not only the value, comes back.
    CHECK(f16_from_float(x) == bits);
  }
}

TEST_CASE("f16: narrowing rounds to nearest, ties to even, past 65504 to infinity, NaN stays NaN") {
  // Between 1 and its successor 1 + 2^-10: below, at and above the midpoint; ties go to the even mantissa.
  CHECK(f16_from_float(1.0f + 0x1p-12f) == 0x3C00);
  CHECK(f16_from_float(1.0f + 0x1p-11f) == 0x3C00);      // tie: 1.0 is even
  CHECK(f16_from_float(1.0f + 3 * 0x1p-11f) == 0x3C02);  // tie between 0x3C01 and 0x3C02: even
  CHECK(f16_from_float(1.0f + 0x1p-11f + 0x1p-20f) == 0x3C01);
  CHECK(f16_from_float(65504.0f) == 0x7BFF);
  CHECK(f16_from_float(65519.0f) == 0x7BFF);
  CHECK(f16_from_float(65520.0f) == 0x7C00);  // the tie past the largest finite value: infinity
  CHECK(f16_from_float(-1e6f) == 0xFC00);
  CHECK(f16_from_float(std::numeric_limits<float>::infinity()) == 0x7C00);
  const uint16_t nan = f16_from_float(std::numeric_limits<float>::quiet_NaN());
  CHECK(((nan >> 10) & 0x1F) == 31);
  CHECK((nan & 0x3FF) != 0);
  CHECK(std::isnan(f16_to_float(nan)));
  // Subnormals: multiples of 2^-24, ties to even; under half of 2^-24 is zero.
  CHECK(f16_from_float(0x1p-24f) == 0x0001);
  CHECK(f16_from_float(1.5f * 0x1p-24f) == 0x0002);  // tie between 1 and 2: even
  CHECK(f16_from_float(2.5f * 0x1p-24f) == 0x0002);  // tie between 2 and 3: even
  CHECK(f16_from_float(0x1p-26f) == 0x0000);
  CHECK(f16_from_float(-0x1p-26f) == 0x8000);
  CHECK(f16_from_float(0x1p-14f) == 0x0400);             // the smallest normal
  CHECK(f16_from_float(0x1p-14f - 0x1p-25f) == 0x0400);  // rounds up into it
}

TEST_CASE("f16: random f32 values narrow to the nearest f16") {
  const auto xs = test::random_vector<float>(20000, 7, 300.0);
  for (float x : xs) {
    CAPTURE(x);
    const uint16_t h = f16_from_float(x);
    const double got = f16_value(h);
    // No other finite f16 is nearer: the neighbours one pattern away on either side are not.
    for (int step : {-1, 1}) {
      const auto other = static_cast<uint16_t>(h + step);
      if (((other >> 10) & 0x1F) == 31 || ((other ^ h) & 0x8000)) continue;
      CHECK(std::fabs(f16_value(other) - double(x)) >= std::fabs(got - double(x)));
    }
  }
}

TEST_CASE("f16: the CPU casts f32 to f16 and back, and plans an f16 call's statistics in f32") {
  Backend& cpu = get_backend("cpu");
  const std::vector<float> xs = {0.f, -0.f, 1.f, 1.f + 0x1p-11f, 65519.f, 70000.f, 0x1p-25f, -3.14159f};
  const Tensor x = test::upload<float>(cpu, {static_cast<int64_t>(xs.size())}, xs);
  const Tensor h = run_op(cpu, "cast", {{"x", x}}, {{"to", std::string("f16")}}).at("y");
  CHECK(h.dtype == DType::f16);
  const Tensor back = run_op(cpu, "cast", {{"x", h}}, {{"to", std::string("f32")}}).at("y");
  const auto got = test::download<float>(back);
  for (size_t i = 0; i < xs.size(); ++i) CHECK(got[i] == f16_to_float(f16_from_float(xs[i])));
  CHECK(std::isinf(got[5]));
  // A 16-bit call keeps its statistics in f32 whichever 16-bit dtype it is.
  CHECK(plan_op("sum_squares", {{"x", {{3}, DType::f16}}}, {}).outputs[0].dtype == DType::f32);
  CHECK(cpu.accepts(plan_op("sum_squares", {{"x", {{3}, DType::f16}}}, {})) ==
        std::optional<std::string>("backend cpu has no kernel for sum_squares in f16"));
}
