// The recurrent mixer forward against an independent quadratic (attention)
// form, and the state hand-off that lets sequences be split.
#include <doctest/doctest.h>

#include <cmath>

#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

// o_t = scale * (sum_{s<=t} (q_t . k_s) v_s + S0^T q_t), computed in double.
// q, k: (B, T, H, K)  v: (B, T, H, V)  s0: (B, H, K, V) or empty
template <class T>
std::vector<T> quadratic_reference(const std::vector<T>& q, const std::vector<T>& k, const std::vector<T>& v,
                                   const std::vector<T>& s0, int64_t B, int64_t Tn, int64_t H, int64_t K, int64_t V,
                                   double scale) {
  std::vector<T> o(static_cast<size_t>(B * Tn * H * V));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < Tn; ++t) {
        const int64_t rt = (b * Tn + t) * H + h;
        std::vector<double> acc(static_cast<size_t>(V), 0.0);
        for (int64_t s = 0; s <= t; ++s) {
          const int64_t rs = (b * Tn + s) * H + h;
          double dot = 0;
          for (int64_t a = 0; a < K; ++a) dot += double(q[rt * K + a]) * double(k[rs * K + a]);
          for (int64_t c = 0; c < V; ++c) acc[c] += dot * double(v[rs * V + c]);
        }
        if (!s0.empty())
          for (int64_t a = 0; a < K; ++a)
            for (int64_t c = 0; c < V; ++c) acc[c] += double(q[rt * K + a]) * double(s0[((b * H + h) * K + a) * V + c]);
        for (int64_t c = 0; c < V; ++c) o[rt * V + c] = static_cast<T>(scale * acc[c]);
      }
  return o;
}

template <class T>
void check_against_quadratic(int64_t B, int64_t Tn, int64_t H, int64_t K, int64_t V, bool with_s0, double tol) {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  const auto q = random_vector<T>(B * Tn * H * K, 11);
  const auto k = random_vector<T>(B * Tn * H * K, 12);
  const auto v = random_vector<T>(B * Tn * H * V, 13);
  const auto s0 = with_s0 ? random_vector<T>(B * H * K * V, 14) : std::vector<T>();
  TensorMap in{{"q", upload<T>(cpu, {B, Tn, H, K}, q)},
               {"k", upload<T>(cpu, {B, Tn, H, K}, k)},
               {"v", upload<T>(cpu, {B, Tn, H, V}, v)}};
  if (with_s0) in["s0"] = upload<T>(cpu, {B, H, K, V}, s0);
  const auto out = run_op(cpu, "mixer_fwd", in, {});
  const auto o = download<T>(out.at("o"));
  REQUIRE(all_finite(o));
  const auto ref = quadratic_reference(q, k, v, s0, B, Tn, H, K, V, 1.0 / std::sqrt(double(K)));
  CHECK(rel_error(o, ref) < tol);
}

}  // namespace

TEST_CASE("recurrent mixer_fwd equals the quadratic form (f64, awkward shapes)") {
  check_against_quadratic<double>(2, 63, 3, 60, 100, false, 1e-12);
  check_against_quadratic<double>(1, 1, 1, 5, 7, true, 1e-12);
  check_against_quadratic<double>(3, 17, 1, 8, 3, true, 1e-12);
}

TEST_CASE("recurrent mixer_fwd equals the quadratic form (f32)") {
  check_against_quadratic<float>(2, 100, 4, 16, 32, true, 1e-5);
}

TEST_CASE("splitting a sequence and passing the state gives the same outputs") {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  const int64_t B = 2, Tn = 63, H = 2, K = 12, V = 10, T1 = 30;
  const auto q = random_vector<double>(B * Tn * H * K, 21);
  const auto k = random_vector<double>(B * Tn * H * K, 22);
  const auto v = random_vector<double>(B * Tn * H * V, 23);
  auto slice = [&](const std::vector<double>& x, int64_t D, int64_t t0, int64_t t1) {
    std::vector<double> out;
    for (int64_t b = 0; b < B; ++b)
      out.insert(out.end(), x.begin() + (b * Tn + t0) * H * D, x.begin() + (b * Tn + t1) * H * D);
    return out;
  };
  auto run = [&](int64_t t0, int64_t t1, const Tensor* s0) {
    const int64_t n = t1 - t0;
    TensorMap in{{"q", upload<double>(cpu, {B, n, H, K}, slice(q, K, t0, t1))},
                 {"k", upload<double>(cpu, {B, n, H, K}, slice(k, K, t0, t1))},
                 {"v", upload<double>(cpu, {B, n, H, V}, slice(v, V, t0, t1))}};
    if (s0) in["s0"] = *s0;
    return run_op(cpu, "mixer_fwd", in, {}, {"s_final"});
  };
  const auto whole = run(0, Tn, nullptr);
  const auto first = run(0, T1, nullptr);
  const auto second = run(T1, Tn, &first.at("s_final"));
  const auto o_whole = download<double>(whole.at("o"));
  CHECK(rel_error(download<double>(first.at("o")), slice(o_whole, V, 0, T1)) < 1e-13);
  CHECK(rel_error(download<double>(second.at("o")), slice(o_whole, V, T1, Tn)) < 1e-13);
  CHECK(rel_error(download<double>(second.at("s_final")), download<double>(whole.at("s_final"))) < 1e-13);
}
