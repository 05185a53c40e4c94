// Zero padding of head dims is exact for the ops whose CUDA tensor-core paths
// take padded copies (src/cuda/pad_dims.h): the delta rule and the additive
// mixer with a vector gate (mixer_padded.cu), and softmax attention. Checked on
// the CPU reference in float64, so it holds in CI and pins the op semantics
// those paths rely on: a call at K, V (or D, V) and the same call zero-padded to
// 64 give the same outputs and gradients in the unpadded positions, with the
// scale given (its default, 1/sqrt of the key dim, would change with the pad).
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

// [n, r, c] -> [n, rp, cp], zeros past r and c.
std::vector<double> pad(const std::vector<double>& x, int64_t n, int64_t r, int64_t c, int64_t rp, int64_t cp) {
  std::vector<double> out(size_t(n * rp * cp), 0.0);
  for (int64_t m = 0; m < n; ++m)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) out[size_t((m * rp + i) * cp + j)] = x[size_t((m * r + i) * c + j)];
  return out;
}

// The top-left [n, r, c] of [n, rp, cp].
std::vector<double> unpad(const std::vector<double>& x, int64_t n, int64_t rp, int64_t cp, int64_t r, int64_t c) {
  std::vector<double> out(size_t(n * r * c));
  for (int64_t m = 0; m < n; ++m)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) out[size_t((m * r + i) * c + j)] = x[size_t((m * rp + i) * cp + j)];
  return out;
}

std::vector<double> uniform(int64_t n, uint32_t seed, double lo, double hi) {
  std::vector<double> v = random_vector<double>(n, seed);
  for (double& x : v) x = lo + (hi - lo) * (0.5 + 0.5 * std::tanh(x));
  return v;
}

// Host tensors by name, each with its shape.
using Host = std::map<std::string, std::pair<Shape, std::vector<double>>>;

TensorMap on_cpu(const Host& in) {
  Backend& cpu = get_backend("cpu");
  TensorMap t;
  for (const auto& [name, v] : in) t[name] = upload<double>(cpu, v.first, v.second);
  return t;
}

std::map<std::string, std::vector<double>> run(const std::string& op, const Host& in,
                                               const std::map<std::string, AttrValue>& attrs,
                                               const std::vector<std::string>& want = {}) {
  PoisonOutputs poison;
  const TensorMap out = run_op(get_backend("cpu"), op, on_cpu(in), attrs, want);
  std::map<std::string, std::vector<double>> r;
  for (const auto& [name, t] : out) r[name] = download<double>(t);
  return r;
}

void same(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  CAPTURE(what);
  REQUIRE(got.size() == want.size());
  CHECK(rel_error(got, want) < 1e-12);
}

}  // namespace

TEST_CASE("softmax attention zero-padded to D = V = 64 gives the unpadded outputs and gradients") {
  const int64_t B = 2, T = 37, H = 2, D = 32, V = 24, P = 64, rows = B * T * H;
  for (const int64_t window : {int64_t{0}, int64_t{7}}) {
    CAPTURE(window);
    const std::map<std::string, AttrValue> attrs{{"scale", 1 / std::sqrt(double(D))}, {"window", window}};
    const auto q = random_vector<double>(rows * D, 1), k = random_vector<double>(rows * D, 2);
    const auto v = random_vector<double>(rows * V, 3), d_o = random_vector<double>(rows * V, 4);
    const Host small{{"q", {{B, T, H, D}, q}}, {"k", {{B, T, H, D}, k}}, {"v", {{B, T, H, V}, v}}};
    const Host big{{"q", {{B, T, H, P}, pad(q, rows, 1, D, 1, P)}},
                   {"k", {{B, T, H, P}, pad(k, rows, 1, D, 1, P)}},
                   {"v", {{B, T, H, P}, pad(v, rows, 1, V, 1, P)}}};
    const auto fs = run("softmax_attn_fwd", small, attrs), fb = run("softmax_attn_fwd", big, attrs);
    same(unpad(fb.at("o"), rows, 1, P, 1, V), fs.at("o"), "o");
    same(fb.at("lse"), fs.at("lse"), "lse");
    Host small_b = small, big_b = big;
    small_b["o"] = {{B, T, H, V}, fs.at("o")};
    small_b["lse"] = {{B, H, T}, fs.at("lse")};
    small_b["do"] = {{B, T, H, V}, d_o};
    big_b["o"] = {{B, T, H, P}, fb.at("o")};
    big_b["lse"] = {{B, H, T}, fb.at("lse")};
    big_b["do"] = {{B, T, H, P}, pad(d_o, rows, 1, V, 1, P)};
    const auto bs = run("softmax_attn_bwd", small_b, attrs), bb = run("softmax_attn_bwd", big_b, attrs);
    same(unpad(bb.at("dq"), rows, 1, P, 1, D), bs.at("dq"), "dq");
    same(unpad(bb.at("dk"), rows, 1, P, 1, D), bs.at("dk"), "dk");
    same(unpad(bb.at("dv"), rows, 1, P, 1, V), bs.at("dv"), "dv");
  }
}

TEST_CASE("the mixer zero-padded to K = V = 64 gives the unpadded outputs, states and gradients") {
  const int64_t B = 2, T = 70, H = 2, K = 32, V = 48, P = 64, rows = B * T * H, BH = B * H;
  struct Kind {
    const char* name;
    std::map<std::string, AttrValue> attrs;
  };
  const double scale = 1 / std::sqrt(double(K));
  for (const Kind& kind :
       {Kind{"delta rule, scalar gate", {{"gate", std::string("scalar")}, {"delta", true}, {"scale", scale}}},
        Kind{"additive, vector gate", {{"gate", std::string("vector")}, {"scale", scale}}}}) {
    CAPTURE(kind.name);
    const bool delta = kind.attrs.count("delta") > 0;
    const auto q = random_vector<double>(rows * K, 11), v = random_vector<double>(rows * V, 13);
    // Keys of norm about 1 (the delta rule's stable range), gates in log space, beta in (0, 1).
    const auto k = random_vector<double>(rows * K, 12, 1 / std::sqrt(double(K)));
    const auto s0 = random_vector<double>(BH * K * V, 14), ds_final = random_vector<double>(BH * K * V, 15);
    const auto d_o = random_vector<double>(rows * V, 16);
    Host small{
        {"q", {{B, T, H, K}, q}}, {"k", {{B, T, H, K}, k}}, {"v", {{B, T, H, V}, v}}, {"s0", {{B, H, K, V}, s0}}};
    Host big{{"q", {{B, T, H, P}, pad(q, rows, 1, K, 1, P)}},
             {"k", {{B, T, H, P}, pad(k, rows, 1, K, 1, P)}},
             {"v", {{B, T, H, P}, pad(v, rows, 1, V, 1, P)}},
             {"s0", {{B, H, P, P}, pad(s0, BH, K, V, P, P)}}};
    if (delta) {
      const auto g = uniform(rows, 17, -0.5, -0.01), beta = uniform(rows, 18, 0.1, 0.9);
      small["g"] = big["g"] = {{B, T, H}, g};
      small["beta"] = big["beta"] = {{B, T, H}, beta};
    } else {
      // A vector gate's padding is log decay 0: the zero state rows stay as they are.
      const auto g = uniform(rows * K, 17, -0.5, -0.01);
      small["g"] = {{B, T, H, K}, g};
      big["g"] = {{B, T, H, P}, pad(g, rows, 1, K, 1, P)};
    }
    const auto fs = run("mixer_fwd", small, kind.attrs, {"s_final"}),
               fb = run("mixer_fwd", big, kind.attrs, {"s_final"});
    same(unpad(fb.at("o"), rows, 1, P, 1, V), fs.at("o"), "o");
    same(unpad(fb.at("s_final"), BH, P, P, K, V), fs.at("s_final"), "s_final");
    small["do"] = {{B, T, H, V}, d_o};
    big["do"] = {{B, T, H, P}, pad(d_o, rows, 1, V, 1, P)};
    small["ds_final"] = {{B, H, K, V}, ds_final};
    big["ds_final"] = {{B, H, P, P}, pad(ds_final, BH, K, V, P, P)};
    const auto bs = run("mixer_bwd", small, kind.attrs, {"ds0"}), bb = run("mixer_bwd", big, kind.attrs, {"ds0"});
    same(unpad(bb.at("dq"), rows, 1, P, 1, K), bs.at("dq"), "dq");
    same(unpad(bb.at("dk"), rows, 1, P, 1, K), bs.at("dk"), "dk");
    same(unpad(bb.at("dv"), rows, 1, P, 1, V), bs.at("dv"), "dv");
    same(unpad(bb.at("ds0"), BH, P, P, K, V), bs.at("ds0"), "ds0");
    if (delta) {
      same(bb.at("dg"), bs.at("dg"), "dg");
      same(bb.at("dbeta"), bs.at("dbeta"), "dbeta");
    } else {
      same(unpad(bb.at("dg"), rows, 1, P, 1, K), bs.at("dg"), "dg");
    }
  }
}
