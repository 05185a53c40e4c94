// exp_vectorizable (src/cpu/vector_exp.h), the exp of the softmax kernels,
// against std::exp in units in the last place, and at the ends of its range.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "../src/cpu/vector_exp.h"

using namespace linea;

namespace {

// |a - b| in units of b's last place.
template <class T>
double ulp_distance(T a, T b) {
  const T ulp = std::nextafter(b, std::numeric_limits<T>::infinity()) - b;
  return std::abs(double(a) - double(b)) / double(ulp);
}

// The largest ulp error over evenly spaced and random points of [lo, hi].
template <class T>
double max_ulp_error(double lo, double hi) {
  double worst = 0;
  const int steps = 200000;
  for (int i = 0; i <= steps; ++i) {
    const T x = static_cast<T>(lo + (hi - lo) * i / steps);
    worst = std::max(worst, ulp_distance(exp_vectorizable(x), std::exp(x)));
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(lo, hi);
  for (int i = 0; i < steps; ++i) {
    const T x = static_cast<T>(uniform(rng));
    worst = std::max(worst, ulp_distance(exp_vectorizable(x), std::exp(x)));
  }
  return worst;
}

}  // namespace

TEST_CASE("exp_vectorizable is within 2 ulp of std::exp over the normal range (softmax kernels)") {
  // Up to the ends of the unclamped range, (1 - bias) ln 2 .. bias ln 2.
  CHECK(max_ulp_error<float>(-87.3, 88.0) <= 2.0);
  CHECK(max_ulp_error<float>(-1.0, 1.0) <= 2.0);
  CHECK(max_ulp_error<double>(-708.3, 709.0) <= 2.0);
  CHECK(max_ulp_error<double>(-1.0, 1.0) <= 2.0);
  CHECK(exp_vectorizable(0.0f) == 1.0f);
  CHECK(exp_vectorizable(0.0) == 1.0);
}

TEST_CASE("exp_vectorizable floors tiny results and -inf at the smallest normal, never NaN (softmax kernels)") {
  const float inf32 = std::numeric_limits<float>::infinity();
  const double inf64 = std::numeric_limits<double>::infinity();
  for (float x : {-inf32, -1e30f, -200.0f, -88.0f}) {
    CAPTURE(x);
    const float y = exp_vectorizable(x);
    CHECK(y >= 0.0f);
    CHECK(y <= 2 * std::numeric_limits<float>::min());
  }
  for (double x : {-inf64, -1e300, -1000.0, -745.0}) {
    CAPTURE(x);
    const double y = exp_vectorizable(x);
    CHECK(y >= 0.0);
    CHECK(y <= 2 * std::numeric_limits<double>::min());
  }
  // Large arguments saturate at a finite value.
  CHECK(std::isfinite(exp_vectorizable(inf32)));
  CHECK(std::isfinite(exp_vectorizable(1e4)));
}
