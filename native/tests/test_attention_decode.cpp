// A decoding step of softmax attention equals the last row of the full
// causal attention over the same keys, with and without a window.
#include <doctest/doctest.h>

#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

TEST_CASE("softmax_attn_decode equals the last row of softmax_attn_fwd") {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  const int64_t B = 2, S = 37, H = 3, D = 12, V = 7;
  const auto q = random_vector<double>(B * S * H * D, 1);
  const auto k = random_vector<double>(B * S * H * D, 2);
  const auto v = random_vector<double>(B * S * H * V, 3);
  for (int64_t window : {0, 1, 5, 40}) {
    CAPTURE(window);
    const auto full = run_op(cpu, "softmax_attn_fwd",
                             {{"q", upload<double>(cpu, {B, S, H, D}, q)},
                              {"k", upload<double>(cpu, {B, S, H, D}, k)},
                              {"v", upload<double>(cpu, {B, S, H, V}, v)}},
                             {{"window", window}});
    const auto o_full = download<double>(full.at("o"));
    // the last position's query, (B, H, D)
    std::vector<double> q_last;
    for (int64_t b = 0; b < B; ++b)
      q_last.insert(q_last.end(), q.begin() + ((b * S + S - 1) * H) * D, q.begin() + ((b * S + S) * H) * D);
    const auto step = run_op(cpu, "softmax_attn_decode",
                             {{"q", upload<double>(cpu, {B, H, D}, q_last)},
                              {"k", upload<double>(cpu, {B, S, H, D}, k)},
                              {"v", upload<double>(cpu, {B, S, H, V}, v)}},
                             {{"window", window}});
    const auto o_step = download<double>(step.at("o"));
    std::vector<double> o_last;
    for (int64_t b = 0; b < B; ++b)
      o_last.insert(o_last.end(), o_full.begin() + ((b * S + S - 1) * H) * V, o_full.begin() + ((b * S + S) * H) * V);
    CHECK(rel_error(o_step, o_last) < 1e-12);
  }
}
