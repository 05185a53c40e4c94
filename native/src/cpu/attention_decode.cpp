// One decoding step of softmax attention on the CPU: a single query per
// (batch, head) against the cached keys and values.
//
// q: (B, H, D)   k: (B, S, H, D)   v: (B, S, H, V)   o: (B, H, V)
#include <cmath>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

template <class T>
void attn_decode_kernel(OpCall& call) {
  const T* q = call.input("q")->data<T>();
  const T* k = call.input("k")->data<T>();
  const T* v = call.input("v")->data<T>();
  T* o = call.output("o")->data<T>();
  const int64_t B = call.dims.at("B"), S = call.dims.at("S"), H = call.dims.at("H"), D = call.dims.at("D"),
                V = call.dims.at("V");
  const AttentionParams a = attention_params(call);
  const double scale = a.scale;
  const int64_t window = a.window;
  const int64_t first = window > 0 && window < S ? S - window : 0;
  parallel_for(B * H, [&](int64_t bh) {
    const int64_t b = bh / H, h = bh % H;
    const T* qr = q + bh * D;
    std::vector<double> p(static_cast<size_t>(S - first));
    double max = -INFINITY;
    for (int64_t s = first; s < S; ++s) {
      const T* kr = k + ((b * S + s) * H + h) * D;
      double dot = 0;
      for (int64_t d = 0; d < D; ++d) dot += double(qr[d]) * double(kr[d]);
      p[s - first] = dot * scale;
      max = std::max(max, p[s - first]);
    }
    double sum = 0;
    for (auto& x : p) sum += (x = std::exp(x - max));
    std::vector<double> acc(static_cast<size_t>(V), 0.0);
    for (int64_t s = first; s < S; ++s) {
      const T* vr = v + ((b * S + s) * H + h) * V;
      const double w = p[s - first] / sum;
      for (int64_t c = 0; c < V; ++c) acc[c] += w * double(vr[c]);
    }
    for (int64_t c = 0; c < V; ++c) o[bh * V + c] = static_cast<T>(acc[c]);
  });
}

}  // namespace

void register_cpu_attention_decode_kernels(Backend& backend) {
  backend.add_kernel("softmax_attn_decode", DType::f32, attn_decode_kernel<float>);
  backend.add_kernel("softmax_attn_decode", DType::f64, attn_decode_kernel<double>);
}

}  // namespace linea
