// GPU benchmark of the mixer family and softmax attention on cuda:0, bf16,
// over the tokens32k grid of the shared BENCHMARKS.md: forward and
// forward+backward median time and peak memory per (op, B, T). The peer
// (flash-linear-attention, PyTorch SDPA) runs in bench/reference/gpu-mixers-peer.py
// in the same script on the same box; that script also compares outputs,
// reading what --compare-dir writes here.
//
//   linea_bench_gpu --json out.json [--compare-dir DIR] [--quick] [--ops a,b] [--decode]
//
// --ops also takes kinds outside the grid (denominator, input_gate, based,
// small_dims: kOps says what each is), which run only when named.
//
// --decode adds issue 18's decoding cells: one recurrent step (mixer_fwd, T = 1,
// from a state s0 to s_final) per mixer kind at B = 1 and 64, H = 16, dk = dv =
// 128 (d_model 2048), with the bytes a step must move at least (the state read
// and written once, q, k, v, o, gates), against which the time is a multiple.
//
// Method: fresh random inputs per cell, drawn like real ones (gates are
// logsigmoid of a normal over 16 for the vector gate and clamped at -5 for the
// scalar gate, fixed decays 1 - 2^(-5-h) as in RetNet, l2-normalized keys and
// sigmoid betas for the delta rules); two warm-up calls, then the median of
// repeats, each timed on the host around a call and a device synchronize
// (the peer script times the same way). Peak memory: the backend's own
// figure, from the inputs alone up to the end of the forward+backward.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "linea/engine_info.h"

using namespace linea;

namespace {

constexpr int64_t kHeads = 16, kDim = 128;

struct Op {
  const char* name;  // as in the JSON and the peer script
  const char* gate;  // mixer gate, or "" for softmax attention
  bool delta = false;
  bool softmax = false;
  const char* normalize = "none";
  const char* input_gate = "none";
  int64_t K = kDim, V = kDim;
  bool extra = false;  // not in the tokens32k grid: runs only when --ops names it
};

const Op kOps[] = {
    {"linear", "none"},
    {"fixed_decay", "fixed"},
    {"scalar_gate", "scalar"},
    {"vector_gate", "vector"},
    {"delta", "none", true},
    {"gated_delta", "scalar", true},
    {"softmax", "", false, true},
    // Calls the chunked kernels take only reshaped (mixer_lowered.cu; LINEA_MIXER_LOWERING=0: the
    // recurrent path): the Linear Transformer's denominator, Mamba2's softplus input gate (head dim
    // 64, state 128), Based's Taylor features of 16 dims (1 + 16 + 256 = 273) with the denominator,
    // and the small heads of the MQAR models.
    {"denominator", "none", false, false, "sum", "none", kDim, kDim, true},
    {"input_gate", "scalar", false, false, "none", "softplus", kDim, 64, true},
    {"based", "none", false, false, "sum", "none", 273, 64, true},
    {"small_dims", "scalar", false, false, "none", "none", 32, 32, true},
};

bool wanted(const Op& op, const std::string& only) {
  if (only.empty()) return !op.extra;
  return only.find("," + std::string(op.name) + ",") != std::string::npos;
}

struct GridPoint {
  int64_t B, T;
};
const GridPoint kGrid[] = {{16, 2048}, {8, 4096}, {4, 8192}, {2, 16384}, {1, 32768}};

using Host = std::vector<float>;

Host normal(std::mt19937& rng, int64_t n, double scale = 1.0) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  Host v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(d(rng) * scale);
  return v;
}

double logsigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

Tensor upload_bf16(Backend& be, const Shape& shape, const Host& v) {
  std::vector<uint16_t> bits(v.size());
  for (size_t i = 0; i < v.size(); ++i) bits[i] = bf16_from_float(v[i]);
  return be.from_host(shape, DType::bf16, bits.data());
}

Host download_float(Backend& be, const Tensor& t) {
  std::vector<uint16_t> bits(static_cast<size_t>(t.numel()));
  be.copy_to_host(t, bits.data(), t.bytes());
  Host v(bits.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = bf16_to_float(bits[i]);
  return v;
}

// The inputs of one cell (host copies kept for --compare-dir).
struct Inputs {
  std::map<std::string, Host> host;
  std::map<std::string, Shape> shape;
};

Inputs draw(const Op& op, int64_t B, int64_t T, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t H = kHeads, K = op.K, V = op.V;
  const bool den = std::string(op.normalize) != "none";
  Inputs in;
  auto add = [&](const std::string& name, Shape shape, Host v) {
    in.shape[name] = std::move(shape);
    in.host[name] = std::move(v);
  };
  // Nonnegative features with the denominator (as elu + 1 and Taylor maps give), so it stays positive.
  auto feature = [&](Host v) {
    if (den)
      for (auto& x : v) x = std::fabs(x) * 0.5f;
    return v;
  };
  add("q", {B, T, H, K}, feature(normal(rng, B * T * H * K)));
  Host k = feature(normal(rng, B * T * H * K));
  if (op.delta)  // unit keys, as every delta-rule model normalizes them
    for (int64_t r = 0; r < B * T * H; ++r) {
      double ss = 0;
      for (int64_t a = 0; a < K; ++a) ss += double(k[r * K + a]) * k[r * K + a];
      for (int64_t a = 0; a < K; ++a) k[r * K + a] = static_cast<float>(k[r * K + a] / std::sqrt(ss + 1e-6));
    }
  add("k", {B, T, H, K}, std::move(k));
  add("v", {B, T, H, V}, normal(rng, B * T * H * V));
  const std::string gate = op.gate;  // "" for softmax attention: no gate, no beta
  if (gate == "fixed") {
    Host g(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h) g[h] = static_cast<float>(std::log1p(-std::pow(2.0, -5.0 - double(h))));
    add("g", {H}, std::move(g));
  } else if (gate == "scalar") {
    Host g = normal(rng, B * T * H);
    for (auto& x : g) x = static_cast<float>(std::max(-5.0, logsigmoid(x)));
    add("g", {B, T, H}, std::move(g));
  } else if (gate == "vector") {
    Host g = normal(rng, B * T * H * K);
    for (auto& x : g) x = static_cast<float>(logsigmoid(x) / 16);
    add("g", {B, T, H, K}, std::move(g));
  }
  if (std::string(op.input_gate) != "none") add("i", {B, T, H}, normal(rng, B * T * H));
  if (op.delta) {
    Host beta = normal(rng, B * T * H);
    for (auto& x : beta) x = static_cast<float>(1 / (1 + std::exp(-x)));
    add("beta", {B, T, H}, std::move(beta));
  }
  // The values the device will hold, so the host copies (--compare-dir) are exactly the inputs.
  for (auto& [name, v] : in.host)
    for (auto& x : v) x = bf16_to_float(bf16_from_float(x));
  return in;
}

std::map<std::string, AttrValue> attrs_of(const Op& op) {
  if (op.softmax) return {};
  std::map<std::string, AttrValue> attrs{
      {"form", std::string("chunked")}, {"gate", std::string(op.gate)}, {"delta", op.delta}};
  if (std::string(op.normalize) != "none") attrs["normalize"] = std::string(op.normalize);
  if (std::string(op.input_gate) != "none") attrs["input_gate"] = std::string(op.input_gate);
  return attrs;
}

double median_ms(Backend& be, const std::function<void()>& fn, double budget_ms) {
  using clock = std::chrono::steady_clock;
  std::vector<double> times;
  for (int warm = 0; warm < 2; ++warm) {
    fn();
    be.synchronize();
  }
  const auto start = clock::now();
  while (true) {
    const auto t0 = clock::now();
    fn();
    be.synchronize();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    const double spent = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    if (times.size() >= 25 || (times.size() >= 3 && spent > budget_ms)) break;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void write_floats(const std::string& path, const Host& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string shape_json(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// One recurrent step per mixer kind (mixer_fwd, T = 1, s0 -> s_final) at B = 1 and 64:
// the median time and the bytes it must move at least; JSON rows, one per cell.
std::string decode_cells(Backend& gpu, const std::string& only) {
  std::ostringstream rows;
  bool first = true;
  uint32_t seed = 1000;
  for (const Op& op : kOps) {
    if (op.softmax || op.extra || !wanted(op, only)) continue;
    for (int64_t B : {int64_t(1), int64_t(64)}) {
      Inputs in = draw(op, B, 1, seed++);
      TensorMap tensors;
      for (const auto& [name, v] : in.host) tensors[name] = upload_bf16(gpu, in.shape[name], v);
      std::mt19937 rng(seed++);
      const Shape state{B, kHeads, kDim, kDim};
      tensors["s0"] = upload_bf16(gpu, state, normal(rng, numel(state), 0.1));
      auto attrs = attrs_of(op);
      attrs["form"] = std::string("recurrent");
      // Bytes: the state in and out, q, k, v in, o out (bf16), gates and betas.
      int64_t bytes = 2 * numel(state) * 2 + 4 * B * kHeads * kDim * 2;
      for (const auto& [name, v] : in.host)
        if (name != "q" && name != "k" && name != "v") bytes += int64_t(v.size()) * 2;
      std::string error;
      double ms = 0;
      try {
        ms = median_ms(
            gpu, [&] { run_op(gpu, "mixer_fwd", tensors, attrs, {"s_final"}); }, 500);
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::printf("decode %-12s B=%-3lld step %8.4f ms  moves at least %8.2f MiB %s\n", op.name,
                  static_cast<long long>(B), ms, double(bytes) / (1 << 20), error.c_str());
      rows << (first ? "" : ",\n") << "    {\"op\": \"" << op.name << "\", \"B\": " << B
           << ", \"d_model\": " << kHeads * kDim << ", \"step_ms\": " << ms << ", \"min_bytes\": " << bytes
           << (error.empty() ? "" : ", \"error\": \"failed\"") << "}";
      first = false;
    }
  }
  return rows.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, compare_dir, only;
  bool quick = false, decode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--compare-dir" && i + 1 < argc) compare_dir = argv[++i];
    else if (a == "--ops" && i + 1 < argc) only = "," + std::string(argv[++i]) + ",";
    else if (a == "--quick") quick = true;
    else if (a == "--decode") decode = true;
    else {
      std::fprintf(stderr,
                   "usage: linea_bench_gpu --json out.json [--compare-dir DIR] [--quick] [--ops a,b] [--decode]\n");
      return 2;
    }
  }
  const auto names = backend_names();
  if (std::find(names.begin(), names.end(), "cuda:0") == names.end()) {
    std::printf("no CUDA device: GPU benchmark skipped\n");
    return 0;
  }
  Backend& gpu = get_backend("cuda:0");
  std::ostringstream json;
  json << "{\n  \"device\": \"" << gpu.info().name << " (" << gpu.info().detail << ")\",\n  \"dtype\": \"bf16\",\n"
       << "  \"heads\": " << kHeads << ", \"head_dim\": " << kDim << ",\n  \"cells\": [\n";
  bool first_cell = true;
  uint32_t seed = 1;
  for (const Op& op : kOps) {
    if (!wanted(op, only)) continue;
    // Outputs for comparison with the peer: one smaller shape, written once.
    if (!compare_dir.empty()) {
      const int64_t B = 2, T = 1000;  // T not a multiple of the chunk
      Inputs in = draw(op, B, T, 7);
      TensorMap tensors;
      for (const auto& [name, v] : in.host) tensors[name] = upload_bf16(gpu, in.shape[name], v);
      std::mt19937 rng(8);
      const Host d_o = normal(rng, B * T * kHeads * op.V);
      const std::string fwd = op.softmax ? "softmax_attn_fwd" : "mixer_fwd";
      const std::string bwd = op.softmax ? "softmax_attn_bwd" : "mixer_bwd";
      TensorMap out = run_op(gpu, fwd, tensors, attrs_of(op),
                             op.softmax ? std::vector<std::string>{"lse"} : std::vector<std::string>{});
      TensorMap bwd_in = tensors;
      bwd_in["do"] = upload_bf16(gpu, {B, T, kHeads, op.V}, d_o);
      if (op.softmax) {
        bwd_in["o"] = out.at("o");
        bwd_in["lse"] = out.at("lse");
      }
      TensorMap grads = run_op(gpu, bwd, bwd_in, attrs_of(op));
      const std::string dir = compare_dir + "/" + op.name;
      std::string meta = "{\"B\": " + std::to_string(B) + ", \"T\": " + std::to_string(T) + ", \"tensors\": {";
      bool first = true;
      auto save = [&](const std::string& name, const Host& v, const Shape& s) {
        write_floats(dir + "/" + name + ".f32", v);
        meta += std::string(first ? "" : ", ") + "\"" + name + "\": " + shape_json(s);
        first = false;
      };
      std::filesystem::create_directories(dir);
      for (const auto& [name, v] : in.host) save(name, v, in.shape[name]);
      save("do", d_o, {B, T, kHeads, op.V});
      save("o", download_float(gpu, out.at("o")), out.at("o").shape);
      for (const auto& [name, t] : grads) save(name, download_float(gpu, t), t.shape);
      std::ofstream(dir + "/meta.json") << meta << "}}\n";
    }
    for (const GridPoint& gp : kGrid) {
      if (quick && gp.T != 2048 && gp.T != 32768) continue;
      Inputs in = draw(op, gp.B, gp.T, seed++);
      TensorMap tensors;
      for (const auto& [name, v] : in.host) tensors[name] = upload_bf16(gpu, in.shape[name], v);
      std::mt19937 rng(seed++);
      const Tensor d_o = upload_bf16(gpu, {gp.B, gp.T, kHeads, op.V}, normal(rng, gp.B * gp.T * kHeads * op.V));
      const auto attrs = attrs_of(op);
      const std::string fwd = op.softmax ? "softmax_attn_fwd" : "mixer_fwd";
      const std::string bwd = op.softmax ? "softmax_attn_bwd" : "mixer_bwd";
      const std::vector<std::string> want = op.softmax ? std::vector<std::string>{"lse"} : std::vector<std::string>{};
      std::string error;
      double fwd_ms = 0, total_ms = 0;
      int64_t peak = 0;
      try {
        fwd_ms = median_ms(
            gpu, [&] { run_op(gpu, fwd, tensors, attrs, want); }, 1500);
        auto step = [&] {
          TensorMap out = run_op(gpu, fwd, tensors, attrs, want);
          TensorMap bwd_in = tensors;
          bwd_in["do"] = d_o;
          if (op.softmax) {
            bwd_in["o"] = out.at("o");
            bwd_in["lse"] = out.at("lse");
          }
          run_op(gpu, bwd, bwd_in, attrs);
        };
        total_ms = median_ms(gpu, step, 3000);
        gpu.synchronize();
        gpu.reset_peak();
        step();
        gpu.synchronize();
        peak = gpu.memory().peak_bytes;
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::printf("%-12s B=%-3lld T=%-6lld fwd %9.3f ms  fwd+bwd %9.3f ms  peak %7.1f MiB %s\n", op.name,
                  static_cast<long long>(gp.B), static_cast<long long>(gp.T), fwd_ms, total_ms,
                  double(peak) / (1 << 20), error.c_str());
      std::fflush(stdout);
      json << (first_cell ? "" : ",\n") << "    {\"op\": \"" << op.name << "\", \"B\": " << gp.B << ", \"T\": " << gp.T
           << (op.extra ? ", \"K\": " + std::to_string(op.K) + ", \"V\": " + std::to_string(op.V) : std::string())
           << ", \"fwd_ms\": " << fwd_ms << ", \"fwd_bwd_ms\": " << total_ms << ", \"peak_bytes\": " << peak;
      if (!error.empty()) {
        std::string escaped;
        for (char c : error) escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
        json << ", \"error\": \"" << escaped << "\"";
      }
      json << "}";
      first_cell = false;
    }
  }
  json << "\n  ]";
  if (decode) json << ",\n  \"decode\": [\n" << decode_cells(gpu, only) << "\n  ]";
  json << "\n}\n";
  if (!json_path.empty()) std::ofstream(json_path) << json.str();
  return 0;
}
