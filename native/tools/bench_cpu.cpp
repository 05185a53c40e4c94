// CPU benchmark of the mixer family and softmax attention: forward and
// forward+backward time of the recurrent and chunked forms, achieved GFLOP/s
// of the chunked form against BLAS sgemm measured in the same run.
//
//   linea_bench_cpu [--json out.json] [--quick]
//
// Method (shared BENCHMARKS.md): fresh random inputs, gates drawn like real
// gates (logsigmoid of a normal, clamped at -5), l2-normalized keys for the
// delta rule; warm-up, then the median of repeats (steady clock).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/cpu/blas.h"
#include "../src/cpu/parallel.h"
#include "linea/backend.h"
#include "linea/engine_info.h"

using namespace linea;

namespace {

struct BenchShape {
  int64_t B, T, H, K, V;
};

struct Kind {
  const char* name;
  const char* gate;
  bool delta;
};

double median_ms(const std::function<void()>& fn, int repeats, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

Tensor random_tensor(Backend& cpu, const Shape& shape, std::mt19937& rng, const std::function<float(float)>& f) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> data(static_cast<size_t>(numel(shape)));
  for (auto& x : data) x = f(n(rng));
  return cpu.from_host(shape, DType::f32, data.data());
}

float log_sigmoid(float x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

// FLOPs of the chunked forward per token (GEMM work; C = chunk): P, O, state.
double chunked_flops_per_token(const BenchShape& s, int64_t C, bool delta) {
  const double K = double(s.K), V = double(s.V), c = double(C);
  double per_chunk = 2 * c * c * K + 2 * c * K * V + 2 * c * c * V + 2 * K * c * V;
  if (delta) per_chunk += 2 * c * c * K + c * c * (K + V) + 2 * c * K * V;
  return per_chunk / c;
}

// sgemm rate of the whole machine as the kernels use it: one single-threaded
// BLAS call per pool thread, all at once, each on its own n x n matrices.
double sgemm_gflops(int64_t n, int repeats) {
  const int threads = cpu_threads();
  const int64_t calls = std::max<int64_t>(1, (int64_t(1) << 27) / (n * n * n));  // ~0.27 GFLOP per thread
  std::vector<std::vector<float>> a(threads, std::vector<float>(n * n, 1.0f)), b = a, c = a;
  const double ms = median_ms(
      [&] {
        parallel_for(threads, [&](int64_t t) {
          for (int64_t r = 0; r < calls; ++r)
            gemm<float>(false, false, n, n, n, 1.0f, a[t].data(), n, b[t].data(), n, 0.0f, c[t].data(), n);
        });
      },
      repeats, 2);
  return 2.0 * n * n * n * calls * threads / (ms * 1e6);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else {
      std::fprintf(stderr, "usage: linea_bench_cpu [--json out.json] [--quick]\n");
      return 2;
    }
  }
  Backend& cpu = get_backend("cpu");
  const auto info = engine_info();
  const int repeats = quick ? 3 : 5;
  const BenchShape shapes[] = {{4, 2048, 4, 64, 64}, {1, 8192, 4, 64, 64}};
  const Kind kinds[] = {
      {"linear attention (no gate)", "none", false}, {"fixed decay (retention)", "fixed", false},
      {"scalar gate (Mamba2)", "scalar", false},     {"vector gate (GLA)", "vector", false},
      {"delta rule (DeltaNet)", "none", true},       {"gated delta rule", "scalar", true},
  };
  const double gemm512 = sgemm_gflops(512, repeats);
  const double gemm64 = sgemm_gflops(64, 50);

  std::ostringstream rows;
  std::printf("sgemm, all %d threads: %.1f GFLOP/s at 512^3, %.1f GFLOP/s at 64^3 (%s)\n\n", cpu_threads(), gemm512,
              gemm64, info.blas.c_str());
  std::printf("%-28s %-18s %10s %10s %10s %10s %8s %8s %9s\n", "op", "shape B,T,H,K,V", "rec fwd", "rec f+b", "chk fwd",
              "chk f+b", "fwd x", "f+b x", "chk GF/s");
  bool first = true;
  for (const auto& s : shapes) {
    std::mt19937 rng(1);
    const Shape qk{s.B, s.T, s.H, s.K}, vs{s.B, s.T, s.H, s.V}, bth{s.B, s.T, s.H};
    Tensor q = random_tensor(cpu, qk, rng, [](float x) { return x; });
    Tensor k = random_tensor(cpu, qk, rng, [](float x) { return x; });
    Tensor v = random_tensor(cpu, vs, rng, [](float x) { return x; });
    Tensor d_o = random_tensor(cpu, vs, rng, [](float x) { return x; });
    Tensor g_scalar = random_tensor(cpu, bth, rng, [](float x) { return std::max(log_sigmoid(x + 2), -5.0f); });
    Tensor g_vector = random_tensor(cpu, qk, rng, [](float x) { return std::max(log_sigmoid(x + 2), -5.0f); });
    Tensor beta = random_tensor(cpu, bth, rng, [](float x) { return 1 / (1 + std::exp(-x)); });
    std::vector<float> gh(s.H);
    for (int64_t h = 0; h < s.H; ++h) gh[h] = std::log(1 - std::pow(2.0f, -5.0f - h));
    Tensor g_fixed = cpu.from_host({s.H}, DType::f32, gh.data());
    // l2-normalized keys for the delta rule
    std::vector<float> kn(static_cast<size_t>(numel(qk)));
    cpu.copy_to_host(k, kn.data(), k.bytes());
    for (int64_t r = 0; r < s.B * s.T * s.H; ++r) {
      float n = 0;
      for (int64_t a = 0; a < s.K; ++a) n += kn[r * s.K + a] * kn[r * s.K + a];
      for (int64_t a = 0; a < s.K; ++a) kn[r * s.K + a] /= std::sqrt(n);
    }
    Tensor k_unit = cpu.from_host(qk, DType::f32, kn.data());

    for (const auto& kind : kinds) {
      TensorMap in{{"q", q}, {"k", kind.delta ? k_unit : k}, {"v", v}};
      if (!std::strcmp(kind.gate, "fixed")) in["g"] = g_fixed;
      if (!std::strcmp(kind.gate, "scalar")) in["g"] = g_scalar;
      if (!std::strcmp(kind.gate, "vector")) in["g"] = g_vector;
      if (kind.delta) in["beta"] = beta;
      TensorMap bwd_in = in;
      bwd_in["do"] = d_o;
      double t[2][2];  // [form][fwd, fwd+bwd]
      for (int form = 0; form < 2; ++form) {
        const std::map<std::string, AttrValue> attrs{{"form", std::string(form ? "chunked" : "recurrent")},
                                                     {"chunk_size", int64_t(64)},
                                                     {"gate", std::string(kind.gate)},
                                                     {"delta", kind.delta}};
        t[form][0] = median_ms([&] { run_op(cpu, "mixer_fwd", in, attrs); }, repeats, 1);
        t[form][1] = median_ms(
            [&] {
              run_op(cpu, "mixer_fwd", in, attrs);
              run_op(cpu, "mixer_bwd", bwd_in, attrs);
            },
            repeats, 1);
      }
      const double tokens = double(s.B * s.T * s.H);
      const double gflops = chunked_flops_per_token(s, 64, kind.delta) * tokens / (t[1][0] * 1e6);
      char shape[64];
      std::snprintf(shape, sizeof shape, "%lld,%lld,%lld,%lld,%lld", (long long)s.B, (long long)s.T, (long long)s.H,
                    (long long)s.K, (long long)s.V);
      std::printf("%-28s %-18s %10.2f %10.2f %10.2f %10.2f %8.2f %8.2f %9.1f\n", kind.name, shape, t[0][0], t[0][1],
                  t[1][0], t[1][1], t[0][0] / t[1][0], t[0][1] / t[1][1], gflops);
      rows << (first ? "" : ",\n") << "    {\"op\": \"mixer\", \"kind\": \"" << kind.name << "\", \"gate\": \""
           << kind.gate << "\", \"delta\": " << (kind.delta ? "true" : "false") << ", \"B\": " << s.B
           << ", \"T\": " << s.T << ", \"H\": " << s.H << ", \"K\": " << s.K << ", \"V\": " << s.V
           << ", \"chunk\": 64, \"dtype\": \"f32\""
           << ", \"recurrent_fwd_ms\": " << t[0][0] << ", \"recurrent_fwd_bwd_ms\": " << t[0][1]
           << ", \"chunked_fwd_ms\": " << t[1][0] << ", \"chunked_fwd_bwd_ms\": " << t[1][1]
           << ", \"speedup_fwd\": " << t[0][0] / t[1][0] << ", \"speedup_fwd_bwd\": " << t[0][1] / t[1][1]
           << ", \"chunked_fwd_gflops\": " << gflops << "}";
      first = false;
    }
    // Softmax attention at the same shape, when the build has it.
    if (cpu.kernel("softmax_attn_fwd", DType::f32)) {
      TensorMap in{{"q", q}, {"k", k}, {"v", v}};
      TensorMap out;
      const double fwd = median_ms([&] { out = run_op(cpu, "softmax_attn_fwd", in, {}); }, repeats, 1);
      TensorMap bwd_in{{"q", q}, {"k", k}, {"v", v}, {"o", out.at("o")}, {"lse", out.at("lse")}, {"do", d_o}};
      const double fb = median_ms(
          [&] {
            run_op(cpu, "softmax_attn_fwd", in, {});
            run_op(cpu, "softmax_attn_bwd", bwd_in, {});
          },
          repeats, 1);
      // causal: half of QKᵀ and PV
      const double flops = 2.0 * double(s.B * s.H) * double(s.T) * double(s.T) * double(s.K + s.V) / 2;
      char shape[64];
      std::snprintf(shape, sizeof shape, "%lld,%lld,%lld,%lld,%lld", (long long)s.B, (long long)s.T, (long long)s.H,
                    (long long)s.K, (long long)s.V);
      std::printf("%-28s %-18s %10s %10s %10.2f %10.2f %8s %8s %9.1f\n", "softmax attention (causal)", shape, "-", "-",
                  fwd, fb, "-", "-", flops / (fwd * 1e6));
      rows << ",\n    {\"op\": \"softmax_attention\", \"B\": " << s.B << ", \"T\": " << s.T << ", \"H\": " << s.H
           << ", \"K\": " << s.K << ", \"V\": " << s.V << ", \"dtype\": \"f32\", \"fwd_ms\": " << fwd
           << ", \"fwd_bwd_ms\": " << fb << ", \"fwd_gflops\": " << flops / (fwd * 1e6) << "}";
    }
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    const auto& cpu_dev = info.devices.at(0);
    out << "{\n  \"benchmark\": \"cpu-mixers\",\n  \"machine\": {\"cpu\": \"" << json_escape(cpu_dev.name)
        << "\", \"threads\": " << info.cpu_threads << ", \"blas\": \"" << json_escape(info.blas)
        << "\", \"compiler\": \"" << json_escape(info.compiler) << "\", \"engine\": \"" << info.version << "\"},\n"
        << "  \"method\": \"median of " << repeats << " after warm-up, steady clock, f32, chunk 64\",\n"
        << "  \"sgemm_gflops\": {\"n512\": " << gemm512 << ", \"n64\": " << gemm64 << "},\n  \"rows\": [\n"
        << rows.str() << "\n  ]\n}\n";
    std::printf("\nwrote %s\n", json_path.c_str());
  }
  return 0;
}
