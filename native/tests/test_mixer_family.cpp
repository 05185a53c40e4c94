// The whole mixer family on the CPU: the chunked form against the recurrent
// reference (forward and every gradient), finite-difference gradients in
// float64, strong gates over long sequences, the delta rule's boundedness
// and negative eigenvalues, and the errors of bad calls. Outputs are
// NaN-poisoned before every kernel, so an unwritten element fails.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "grad_check.h"
#include "mixer_harness.h"

using namespace linea;
using namespace linea::test;

namespace {

double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double x : a) m = std::max(m, std::abs(x));
  return m;
}

// ‖a − b‖ / ‖b‖, with ‖b‖ floored at an RMS of 1e-4 per element: some
// gradients are exactly zero in exact arithmetic (e.g. dg at T = 1 without an
// initial state, dq when the max1 denominator cancels q's scale) and both forms
// then return rounding noise (up to ~1e-13 for sums over K x V products).
double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-4 * std::sqrt(double(a.size())));
}

// Forward and backward of both forms on the same inputs; every output and
// gradient must agree to `tol`.
void check_forms_agree(const Switches& sw, const MixerDims& d, int64_t chunk, bool with_state, double tol,
                       uint32_t seed) {
  PoisonOutputs poison;
  const auto in = mixer_inputs(sw, d, seed, with_state);
  HostTensors bwd_in = in;
  for (auto& [name, value] : upstream(sw, d, seed + 1)) bwd_in[name] = value;
  const std::string where = sw.name() + " T=" + std::to_string(d.T) + " K=" + std::to_string(d.K) +
                            " V=" + std::to_string(d.V) + " H=" + std::to_string(d.H) +
                            " chunk=" + std::to_string(chunk) + (with_state ? " with s0" : "");
  const auto rec = run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, "recurrent", chunk), forward_outputs(sw));
  const auto chk = run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, "chunked", chunk), forward_outputs(sw));
  // Named copies, not structured bindings: doctest's message macros capture them in lambdas.
  for (const auto& entry : rec) {
    const std::string& name = entry.first;
    const std::vector<double>& ref = entry.second;
    REQUIRE_MESSAGE(all_finite(ref), where << ": recurrent " << name << " is not finite");
    CHECK_MESSAGE(rel_err(chk.at(name), ref) < tol,
                  where << ": forward " << name << " differs, rel err " << rel_err(chk.at(name), ref));
  }
  const auto grec = run_cpu<double>("mixer_bwd", bwd_in, mixer_attrs(sw, "recurrent", chunk), backward_outputs(sw));
  const auto gchk = run_cpu<double>("mixer_bwd", bwd_in, mixer_attrs(sw, "chunked", chunk), backward_outputs(sw));
  for (const auto& entry : grec) {
    const std::string& name = entry.first;
    const std::vector<double>& ref = entry.second;
    REQUIRE_MESSAGE(all_finite(ref), where << ": recurrent " << name << " is not finite");
    CHECK_MESSAGE(rel_err(gchk.at(name), ref) < tol,
                  where << ": gradient " << name << " differs, rel err " << rel_err(gchk.at(name), ref));
  }
}

}  // namespace

TEST_CASE("chunked == recurrent, forward and every gradient, every switch combination, awkward shapes") {
  const MixerDims shapes[] = {
      {1, 1, 1, 60, 100},   // a single step
      {2, 63, 1, 60, 100},  // T not a multiple of the chunk, dk != dv, H = 1
      {1, 500, 2, 60, 100},
  };
  uint32_t seed = 100;
  for (const auto& sw : all_switches())
    for (const auto& d : shapes)
      for (int64_t chunk : {16, 64}) {
        const uint32_t case_seed = seed++;  // half the cases start from a given state
        check_forms_agree(sw, d, chunk, (case_seed % 2) == 0, 1e-9, case_seed);
      }
}

TEST_CASE("chunked == recurrent at T = 1000, dk = 60, dv = 100") {
  uint32_t seed = 900;
  for (const auto& sw : all_switches())
    for (int64_t chunk : {16, 64}) check_forms_agree(sw, {1, 1000, 1, 60, 100}, chunk, true, 1e-9, seed++);
}

TEST_CASE("float64 finite-difference gradients of every mixer kind, both forms") {
  const MixerDims d{2, 37, 2, 5, 6};
  uint32_t seed = 7;
  for (const auto& sw : all_switches()) {
    for (const char* form : {"recurrent", "chunked"}) {
      CAPTURE(sw.name());
      CAPTURE(form);
      HostTensors in = mixer_inputs(sw, d, seed, true);
      const HostTensors up = upstream(sw, d, seed + 1);
      const auto attrs = mixer_attrs(sw, form, 16);
      auto loss = [&]() {
        const auto out = run_cpu<double>("mixer_fwd", in, attrs, forward_outputs(sw));
        double l = dot(out.at("o"), up.at("do").second);
        if (up.count("ds_final")) l += dot(out.at("s_final"), up.at("ds_final").second);
        if (up.count("dz_final")) l += dot(out.at("z_final"), up.at("dz_final").second);
        return l;
      };
      HostTensors bwd_in = in;
      for (const auto& [name, value] : up) bwd_in[name] = value;
      const auto grads = run_cpu<double>("mixer_bwd", bwd_in, attrs, backward_outputs(sw));
      std::vector<GradInput> checks;
      for (const char* name : {"q", "k", "v", "g", "i", "beta", "s0", "z0"})
        if (in.count(name)) checks.push_back({name, &in.at(name).second, &grads.at(std::string("d") + name)});
      check_gradients(loss, checks, sw.input_gate == "exp" ? 1e-7 : 1e-5, 1e-6, seed);
      seed += 2;
    }
  }
}

TEST_CASE("strong vector gates over long sequences: finite, and chunked == recurrent (f32 and f64)") {
  for (bool delta : {false, true}) {
    Switches sw;
    sw.gate = "vector";
    sw.delta = delta;
    sw.min_log_gate = -5;
    const MixerDims d{1, 4096, 1, 32, 32};
    auto in = mixer_inputs(sw, d, 42, true);
    // Push the gates towards the clamp: many steps at -5.
    auto& g = in.at("g").second;
    for (size_t n = 0; n < g.size(); n += 3) g[n] = -5;
    PoisonOutputs poison;
    const auto attrs_r = mixer_attrs(sw, "recurrent", 64), attrs_c = mixer_attrs(sw, "chunked", 64);
    const auto ref = run_cpu<double>("mixer_fwd", in, attrs_r, {"s_final"});
    const auto chk = run_cpu<double>("mixer_fwd", in, attrs_c, {"s_final"});
    const auto f32 = run_cpu<float>("mixer_fwd", in, attrs_c, {"s_final"});
    for (const char* name : {"o", "s_final"}) {
      CAPTURE(name);
      CAPTURE(delta);
      REQUIRE(all_finite(chk.at(name)));
      REQUIRE(all_finite(f32.at(name)));
      CHECK(rel_err(chk.at(name), ref.at(name)) < 1e-10);
      CHECK(rel_err(f32.at(name), ref.at(name)) < 1e-4);
    }
    HostTensors bwd_in = in;
    for (const auto& [name, value] : upstream(sw, d, 43)) bwd_in[name] = value;
    const auto gref = run_cpu<double>("mixer_bwd", bwd_in, attrs_r, {"ds0"});
    const auto gchk = run_cpu<double>("mixer_bwd", bwd_in, attrs_c, {"ds0"});
    const auto g32 = run_cpu<float>("mixer_bwd", bwd_in, attrs_c, {"ds0"});
    for (const auto& entry : gref) {
      const std::string& name = entry.first;
      const std::vector<double>& value = entry.second;
      CAPTURE(name);
      CAPTURE(delta);
      REQUIRE(all_finite(gchk.at(name)));
      REQUIRE(all_finite(g32.at(name)));
      CHECK(rel_err(gchk.at(name), value) < 1e-9);
      CHECK(rel_err(g32.at(name), value) < 1e-3);
    }
  }
}

TEST_CASE("gates steeper than a block can scale take the exact path and stay finite") {
  Switches sw;
  sw.gate = "vector";
  sw.min_log_gate = -40;
  const MixerDims d{1, 96, 1, 8, 8};
  auto in = mixer_inputs(sw, d, 5, false);
  for (auto& x : in.at("g").second) x = -20;  // 15 steps: exp(300), past f32 and at the f64 limit
  const auto ref = run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, "recurrent", 32), {});
  const auto f64 = run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, "chunked", 32), {});
  const auto f32 = run_cpu<float>("mixer_fwd", in, mixer_attrs(sw, "chunked", 32), {});
  REQUIRE(all_finite(f64.at("o")));
  REQUIRE(all_finite(f32.at("o")));
  CHECK(rel_err(f64.at("o"), ref.at("o")) < 1e-12);
  CHECK(rel_err(f32.at("o"), ref.at("o")) < 1e-5);
}

TEST_CASE("the delta rule with l2-normalized keys keeps the state bounded over T = 10000") {
  for (bool neg : {false, true}) {
    Switches sw;
    sw.delta = true;
    sw.negative_eigen = neg;
    const MixerDims d{1, 10000, 1, 16, 16};
    const auto in = mixer_inputs(sw, d, 11, false);
    double max_v = 0;
    const auto& v = in.at("v").second;
    for (int64_t t = 0; t < d.T; ++t) {
      double n = 0;
      for (int64_t c = 0; c < d.V; ++c) n += v[t * d.V + c] * v[t * d.V + c];
      max_v = std::max(max_v, std::sqrt(n));
    }
    const auto out = run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, "chunked", 64), {"s_final"});
    double norm = 0;
    for (double x : out.at("s_final")) norm += x * x;
    norm = std::sqrt(norm);
    CAPTURE(neg);
    // (I − β k kᵀ) has eigenvalues in [1 − β, 1] ⊂ [−1, 1]: the state stores at
    // most K values, so its norm stays near sqrt(K) · max ‖v‖, not sqrt(T).
    CHECK(norm < 2 * std::sqrt(double(d.K)) * max_v);
    // The additive rule on the same inputs grows with T.
    Switches add;
    HostTensors add_in = in;
    add_in.erase("beta");
    const auto additive = run_cpu<double>("mixer_fwd", add_in, mixer_attrs(add, "chunked", 64), {"s_final"});
    double add_norm = 0;
    for (double x : additive.at("s_final")) add_norm += x * x;
    CHECK(std::sqrt(add_norm) > 4 * norm);
  }
}

TEST_CASE("beta in (0, 2) produces a negative eigenvalue: the stored value flips sign") {
  // One key dim, one value dim: S' = s0, and with v = 0, S = (1 − β) s0.
  for (const char* form : {"recurrent", "chunked"}) {
    Switches sw;
    sw.delta = true;
    HostTensors in;
    in["q"] = {{1, 3, 1, 1}, {1, 1, 1}};
    in["k"] = {{1, 3, 1, 1}, {1, 1, 1}};
    in["v"] = {{1, 3, 1, 1}, {0, 0, 0}};
    in["s0"] = {{1, 1, 1, 1}, {2.0}};
    for (double beta : {0.5, 1.5}) {
      in["beta"] = {{1, 3, 1}, {beta, beta, beta}};
      const auto out = run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, form, 16), {"s_final"});
      const auto& o = out.at("o");
      CAPTURE(form);
      CAPTURE(beta);
      if (beta < 1) {
        CHECK(o[0] > 0);
        CHECK(o[1] > 0);
        CHECK(o[2] > 0);
      } else {
        // s_t = (1 − β)^t s0 alternates: −1, 0.5, −0.25
        CHECK(o[0] == doctest::Approx(-1.0));
        CHECK(o[1] == doctest::Approx(0.5));
        CHECK(o[2] == doctest::Approx(-0.25));
      }
    }
  }
}

TEST_CASE("the fixed gate's gradient is summed over batch and time") {
  Switches sw;
  sw.gate = "fixed";
  const MixerDims d{3, 20, 2, 4, 5};
  HostTensors in = mixer_inputs(sw, d, 77, true);
  const HostTensors up = upstream(sw, d, 78);
  HostTensors bwd_in = in;
  for (const auto& [name, value] : up) bwd_in[name] = value;
  const auto g = run_cpu<double>("mixer_bwd", bwd_in, mixer_attrs(sw, "chunked", 16), {"dg"});
  // Batch by batch, the per-batch gradients must add up to the whole one.
  std::vector<double> sum(d.H, 0.0);
  for (int64_t b = 0; b < d.B; ++b) {
    HostTensors one;
    for (const auto& [name, value] : bwd_in) {
      if (name == "g") {
        one[name] = value;
        continue;
      }
      const auto& shape = value.first;
      const int64_t per = numel(shape) / d.B;
      Shape s1 = shape;
      s1[0] = 1;
      one[name] = {s1, std::vector<double>(value.second.begin() + b * per, value.second.begin() + (b + 1) * per)};
    }
    const auto gb = run_cpu<double>("mixer_bwd", one, mixer_attrs(sw, "chunked", 16), {"dg"});
    for (int64_t h = 0; h < d.H; ++h) sum[h] += gb.at("dg")[h];
  }
  for (int64_t h = 0; h < d.H; ++h) CHECK(g.at("dg")[h] == doctest::Approx(sum[h]).epsilon(1e-10));
  CHECK(max_abs(g.at("dg")) > 0);
}

TEST_CASE("the fixed gate's gradient is computed only when asked for") {
  Switches sw;
  sw.gate = "fixed";
  const MixerDims d{2, 37, 2, 4, 3};
  HostTensors in = mixer_inputs(sw, d, 5, true);
  for (const auto& [name, value] : upstream(sw, d, 6)) in[name] = value;
  for (const char* form : {"chunked", "recurrent"}) {
    CAPTURE(form);
    const auto with = run_cpu<double>("mixer_bwd", in, mixer_attrs(sw, form, 16), {"dg"});
    const auto without = run_cpu<double>("mixer_bwd", in, mixer_attrs(sw, form, 16), {});
    CHECK(with.count("dg") == 1);
    CHECK(without.count("dg") == 0);
    for (const char* name : {"dq", "dk", "dv"}) CHECK(without.at(name) == with.at(name));
  }
}

TEST_CASE("bad mixer calls name the value and what is valid") {
  Switches sw;
  sw.gate = "vector";
  const MixerDims d{1, 8, 2, 4, 4};
  auto in = mixer_inputs(sw, d, 1, false);
  auto attrs = mixer_attrs(sw, "chunked", 24);
  CHECK(error_of([&] {
          run_cpu<double>("mixer_fwd", in, attrs, {});
        }).find("chunk_size = 24 is not valid; valid: 16, 32, 48, ..., 128") != std::string::npos);
  in["g"] = {{1, 8, 2}, std::vector<double>(16, -0.1)};
  CHECK(error_of([&] {
          run_cpu<double>("mixer_fwd", in, mixer_attrs(sw, "chunked", 16), {});
        }).find("g has shape [1, 8, 2], expected [B=1, T=8, H=2, K=4]") != std::string::npos);
  Switches delta;
  delta.delta = true;
  auto din = mixer_inputs(delta, d, 2, false);
  din.erase("beta");
  CHECK(error_of([&] {
          run_cpu<double>("mixer_fwd", din, mixer_attrs(delta, "chunked", 16), {});
        }).find("missing input beta [B,T,H]") != std::string::npos);
  delta.normalize = "sum";
  CHECK(error_of([&] {
          run_cpu<double>("mixer_fwd", mixer_inputs(delta, d, 2, false), mixer_attrs(delta, "chunked", 16), {});
        }).find("normalize 'sum' is for additive writes only") != std::string::npos);
  Switches expg;
  expg.input_gate = "exp";
  expg.normalize = "none";
  CHECK(error_of([&] {
          run_cpu<double>("mixer_fwd", mixer_inputs(expg, d, 3, false), mixer_attrs(expg, "chunked", 16), {});
        }).find("input_gate 'exp' needs normalize 'max1'") != std::string::npos);
  Switches plain;
  auto pin = mixer_inputs(plain, d, 4, false);
  pin["beta"] = {{1, 8, 2}, std::vector<double>(16, 0.5)};
  CHECK(error_of([&] {
          run_cpu<double>("mixer_fwd", pin, mixer_attrs(plain, "chunked", 16), {});
        }).find("input beta must not be given (delta is off)") != std::string::npos);
}
