// Finite-difference gradient checks in float64, directional: for a random
// direction d, (L(x + e d) - L(x - e d)) / 2e must equal <grad, d>. One
// direction per input localizes a wrong gradient to that input.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace linea::test {

// Sum of out * upstream: the scalar loss whose gradient w.r.t. out is `upstream`.
inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

struct GradInput {
  std::string name;
  std::vector<double>* value;       // perturbed in place, restored after
  const std::vector<double>* grad;  // the analytic gradient to check
};

// `loss` recomputes the forward from the current input values.
inline void check_gradients(const std::function<double()>& loss, const std::vector<GradInput>& inputs,
                            double eps = 1e-5, double tol = 1e-6, uint32_t seed = 1234, int directions = 2) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const auto& in : inputs) {
    REQUIRE_MESSAGE(in.grad->size() == in.value->size(),
                    in.name << ": gradient has " << in.grad->size() << " elements, input has " << in.value->size());
    for (int r = 0; r < directions; ++r) {
      std::vector<double> dir(in.value->size());
      for (auto& x : dir) x = normal(rng);
      const std::vector<double> saved = *in.value;
      for (size_t i = 0; i < dir.size(); ++i) (*in.value)[i] = saved[i] + eps * dir[i];
      const double up = loss();
      for (size_t i = 0; i < dir.size(); ++i) (*in.value)[i] = saved[i] - eps * dir[i];
      const double down = loss();
      *in.value = saved;
      const double numeric = (up - down) / (2 * eps);
      const double analytic = dot(*in.grad, dir);
      const double err = std::abs(numeric - analytic) / std::max(1.0, std::abs(numeric) + std::abs(analytic));
      CHECK_MESSAGE(err < tol, "gradient of " << in.name << ": finite difference " << numeric << ", analytic "
                                              << analytic << " (relative error " << err << ")");
    }
  }
}

}  // namespace linea::test
