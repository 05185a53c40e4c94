// Test harness for the mixer ops: random inputs drawn like real ones for a
// set of switches, and calls of mixer_fwd / mixer_bwd in either form and
// dtype, with named host vectors in and out.
#pragma once

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "test_util.h"

namespace linea::test {

struct Switches {
  std::string gate = "none";        // none, fixed, scalar, vector
  std::string input_gate = "none";  // none, sigmoid, softplus, exp
  std::string normalize = "none";   // none, sum, max1
  bool delta = false;
  bool negative_eigen = false;  // beta in (0, 2)
  double min_log_gate = -8;     // gates are clamped here (strong-gate tests use -5)

  std::string name() const {
    std::string n = "gate=" + gate;
    if (delta) n += negative_eigen ? " delta(0,2)" : " delta(0,1)";
    else n += " additive input_gate=" + input_gate + " normalize=" + normalize;
    return n;
  }
};

struct MixerDims {
  int64_t B = 1, T = 1, H = 1, K = 1, V = 1;
};

using HostTensors = std::map<std::string, std::pair<Shape, std::vector<double>>>;

inline std::vector<double> normal_vector(std::mt19937& rng, int64_t n, double mean = 0, double std = 1) {
  std::normal_distribution<double> dist(mean, std);
  std::vector<double> out(static_cast<size_t>(n));
  for (auto& x : out) x = dist(rng);
  return out;
}

inline double log_sigmoid_d(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

// Inputs for one call: q, k, v always; g, i, beta as the switches need; s0
// (and z0, m0 where they exist) when with_state.
inline HostTensors mixer_inputs(const Switches& sw, const MixerDims& d, uint32_t seed, bool with_state) {
  std::mt19937 rng(seed);
  HostTensors in;
  const Shape qk{d.B, d.T, d.H, d.K}, vs{d.B, d.T, d.H, d.V}, bth{d.B, d.T, d.H};
  auto q = normal_vector(rng, d.B * d.T * d.H * d.K);
  auto k = normal_vector(rng, d.B * d.T * d.H * d.K);
  if (sw.normalize == "sum") {
    // Positive features (as after elu+1) keep the sum denominator away from zero.
    for (auto& x : q) x = std::abs(x) + 0.1;
    for (auto& x : k) x = std::abs(x) + 0.1;
  }
  if (sw.delta) {
    // l2-normalized keys, as the delta rule expects
    for (int64_t r = 0; r < d.B * d.T * d.H; ++r) {
      double n = 0;
      for (int64_t a = 0; a < d.K; ++a) n += k[r * d.K + a] * k[r * d.K + a];
      n = std::sqrt(n) + 1e-12;
      for (int64_t a = 0; a < d.K; ++a) k[r * d.K + a] /= n;
    }
  }
  in["q"] = {qk, q};
  in["k"] = {qk, k};
  in["v"] = {vs, normal_vector(rng, d.B * d.T * d.H * d.V)};
  auto gate_values = [&](int64_t n) {
    // logsigmoid of a normal, like a real gate, clamped at min_log_gate
    auto g = normal_vector(rng, n, 1.0, 1.5);
    for (auto& x : g) x = std::max(log_sigmoid_d(x), sw.min_log_gate);
    return g;
  };
  if (sw.gate == "fixed") {
    std::vector<double> g(d.H);
    for (int64_t h = 0; h < d.H; ++h) g[h] = std::log(1.0 - std::pow(2.0, -5.0 - double(h)));  // RetNet
    in["g"] = {{d.H}, g};
  } else if (sw.gate == "scalar") {
    in["g"] = {bth, gate_values(d.B * d.T * d.H)};
  } else if (sw.gate == "vector") {
    in["g"] = {qk, gate_values(d.B * d.T * d.H * d.K)};
  }
  if (sw.input_gate != "none") in["i"] = {bth, normal_vector(rng, d.B * d.T * d.H, 0, sw.input_gate == "exp" ? 2 : 1)};
  if (sw.delta) {
    auto beta = normal_vector(rng, d.B * d.T * d.H);
    for (auto& x : beta) x = (sw.negative_eigen ? 2.0 : 1.0) / (1.0 + std::exp(-x));
    in["beta"] = {bth, beta};
  }
  if (with_state) {
    in["s0"] = {{d.B, d.H, d.K, d.V}, normal_vector(rng, d.B * d.H * d.K * d.V, 0, 0.5)};
    if (sw.normalize != "none") {
      auto z0 = normal_vector(rng, d.B * d.H * d.K);
      if (sw.normalize == "sum")
        for (auto& x : z0) x = std::abs(x);
      in["z0"] = {{d.B, d.H, d.K}, z0};
    }
    if (sw.input_gate == "exp") in["m0"] = {{d.B, d.H}, normal_vector(rng, d.B * d.H)};
  }
  return in;
}

inline std::map<std::string, AttrValue> mixer_attrs(const Switches& sw, const std::string& form, int64_t chunk) {
  return {{"form", form},
          {"chunk_size", chunk},
          {"gate", sw.gate},
          {"input_gate", sw.input_gate},
          {"normalize", sw.normalize},
          {"delta", sw.delta}};
}

// Runs `op` on the CPU backend in dtype T; returns every output as doubles.
template <class T>
std::map<std::string, std::vector<double>> run_cpu(const std::string& op, const HostTensors& in,
                                                   const std::map<std::string, AttrValue>& attrs,
                                                   const std::vector<std::string>& want) {
  Backend& cpu = get_backend("cpu");
  TensorMap tensors;
  for (const auto& [name, value] : in) {
    std::vector<T> data(value.second.begin(), value.second.end());
    tensors[name] = upload<T>(cpu, value.first, data);
  }
  const auto out = run_op(cpu, op, tensors, attrs, want);
  std::map<std::string, std::vector<double>> result;
  for (const auto& [name, t] : out) {
    const auto data = download<T>(t);
    result[name] = std::vector<double>(data.begin(), data.end());
  }
  return result;
}

// Forward outputs: o and every final state the switches have.
inline std::vector<std::string> forward_outputs(const Switches& sw) {
  std::vector<std::string> want{"s_final"};
  if (sw.normalize != "none") want.push_back("z_final");
  if (sw.input_gate == "exp") want.push_back("m_final");
  return want;
}

// Upstream gradients for o and the final states (none for the exp gate's
// states: its stabilizer is not differentiated).
inline HostTensors upstream(const Switches& sw, const MixerDims& d, uint32_t seed) {
  std::mt19937 rng(seed);
  HostTensors up;
  up["do"] = {{d.B, d.T, d.H, d.V}, normal_vector(rng, d.B * d.T * d.H * d.V)};
  if (sw.input_gate == "exp") return up;
  up["ds_final"] = {{d.B, d.H, d.K, d.V}, normal_vector(rng, d.B * d.H * d.K * d.V)};
  if (sw.normalize != "none") up["dz_final"] = {{d.B, d.H, d.K}, normal_vector(rng, d.B * d.H * d.K)};
  return up;
}

inline std::vector<std::string> backward_outputs(const Switches& sw) {
  std::vector<std::string> want{"ds0"};
  if (sw.normalize != "none") want.push_back("dz0");
  if (sw.gate == "fixed") want.push_back("dg");  // optional for the fixed gate only
  return want;
}

// Every switch combination the mixer defines.
inline std::vector<Switches> all_switches() {
  std::vector<Switches> out;
  for (const char* gate : {"none", "fixed", "scalar", "vector"}) {
    for (const char* ig : {"none", "sigmoid", "softplus"})
      for (const char* norm : {"none", "sum", "max1"}) {
        Switches s;
        s.gate = gate, s.input_gate = ig, s.normalize = norm;
        out.push_back(s);
      }
    Switches e;
    e.gate = gate, e.input_gate = "exp", e.normalize = "max1";
    out.push_back(e);
    for (bool neg : {false, true}) {
      Switches dl;
      dl.gate = gate, dl.delta = true, dl.negative_eigen = neg;
      out.push_back(dl);
    }
  }
  return out;
}

}  // namespace linea::test
