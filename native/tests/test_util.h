// Helpers shared by the C++ tests: random tensors, reads, error norms.
#pragma once

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "linea/backend.h"

namespace linea::test {

template <class T>
std::vector<T> random_vector(int64_t n, uint32_t seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<T> out(static_cast<size_t>(n));
  for (auto& x : out) x = static_cast<T>(dist(rng));
  return out;
}

template <class T>
DType dtype_of() {
  return sizeof(T) == 4 ? DType::f32 : DType::f64;
}

template <class T>
Tensor upload(Backend& backend, const Shape& shape, const std::vector<T>& data) {
  return backend.from_host(shape, dtype_of<T>(), data.data());
}

template <class T>
Tensor random_tensor(Backend& backend, const Shape& shape, uint32_t seed, double scale = 1.0) {
  return upload<T>(backend, shape, random_vector<T>(numel(shape), seed, scale));
}

template <class T>
std::vector<T> download(const Tensor& t) {
  std::vector<T> out(static_cast<size_t>(t.numel()));
  t.backend->copy_to_host(t, out.data(), t.bytes());
  return out;
}

// ||a - b|| / ||b||, the relative error used across Linea's tests.
template <class T>
double rel_error(const std::vector<T>& a, const std::vector<T>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

template <class T>
bool all_finite(const std::vector<T>& a) {
  for (T x : a)
    if (!std::isfinite(static_cast<double>(x))) return false;
  return true;
}

// The message of the OpError fn throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const OpError& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Turns NaN poisoning of op outputs on for the lifetime of a test.
struct PoisonOutputs {
  PoisonOutputs() { set_poison_outputs(true); }
  ~PoisonOutputs() { set_poison_outputs(false); }
};

}  // namespace linea::test
