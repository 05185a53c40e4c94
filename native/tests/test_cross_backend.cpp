// One test generated from the op table: every op (forward and backward) x
// every dtype it declares x awkward shapes, on every backend that accepts the
// call, against the CPU in float64 on the same inputs. Calls come from the
// builders in op_calls.h; an op without one fails here by name.
//
// Inputs are drawn once in double and rounded to the narrowest dtype the op
// declares (bf16, else float32), so every dtype sees exactly the same values and an error is the
// kernel's own arithmetic, not the rounding of its inputs. Outputs are
// NaN-poisoned, so an element a kernel leaves unwritten fails. A backend that
// refuses a call (no kernel, or a predicate) is counted, not failed. With a
// GPU backend (or LINEA_CROSS_TABLE=1) it prints, last, a table per backend,
// op and dtype: cases compared, the largest error, calls refused.
//
// The error of an output is ||got - ref|| / max(||ref||, 1e-2 sqrt(n)), n its
// size: normwise relative, except that an output whose reference RMS is below
// 1e-2 counts as zero and is measured against that RMS. Inputs are O(1), so
// such an output is (near) zero in exact arithmetic (softmax_attn_bwd's dq and
// dk at T = 1) and its float32 value is the rounding of O(1) terms. A
// non-finite value where the reference is finite always fails. Tolerances:
//   f32: 1e-4. Rounding is 6e-8 per operation; sums of a few thousand terms
//        (T = 1000 recurrences, 1000-row reductions, 50-class softmaxes) and
//        gates compounded over a chunk grow that by a few hundred at most.
//   bf16: 2e-2. Storage only (kernels accumulate in f32): every stored
//        output carries a relative rounding of 2^-9 = 2e-3, and a backward's
//        inputs that a forward produced were rounded the same way.
//   f64: 1e-10. Only another backend runs f64 against the CPU's f64; the
//        same error growth from 1e-16 leaves orders of magnitude to spare
//        for a different summation order.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "op_calls.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

double tolerance(DType dtype) {
  if (dtype == DType::bf16) return 2e-2;
  return dtype == DType::f32 ? 1e-4 : 1e-10;
}

// Below this RMS a reference output counts as zero (see the top of the file).
constexpr double kZeroFloor = 1e-2;

// Rounds every value input to the narrowest dtype the op declares (bf16 or
// f32), so the value is exactly representable in every dtype.
void round_inputs(HostTensors& in, const DescMap& descs, DType narrowest) {
  for (auto& [name, value] : in)
    if (descs.at(name).dtype != DType::i32)
      for (auto& x : value.second)
        x = narrowest == DType::bf16 ? double(bf16_to_float(bf16_from_float(static_cast<float>(x))))
                                     : static_cast<double>(static_cast<float>(x));
}

DType narrowest_dtype(const OpDef& op) {
  auto has = [&](DType d) { return std::find(op.dtypes.begin(), op.dtypes.end(), d) != op.dtypes.end(); };
  return has(DType::bf16) ? DType::bf16 : has(DType::f32) ? DType::f32 : DType::f64;
}

// The values a call produced: its outputs, or, for an in-place op (no
// outputs), every value input after the call.
std::map<std::string, std::vector<double>> results(const TensorMap& inputs, const TensorMap& outputs) {
  std::map<std::string, std::vector<double>> out;
  if (!outputs.empty()) {
    for (const auto& [name, t] : outputs) out[name] = download_double(t);
  } else {
    for (const auto& [name, t] : inputs)
      if (t.dtype != DType::i32) out[name] = download_double(t);
  }
  return out;
}

std::map<std::string, std::vector<double>> run_on(Backend& backend, const Case& c, const HostTensors& in, DType dtype) {
  const TensorMap inputs = upload_inputs(backend, c, in, dtype);
  const TensorMap outputs = run_op(backend, c.op, inputs, c.attrs, c.outputs);
  backend.synchronize();
  return results(inputs, outputs);
}

// The error of one output (see the top of the file), or infinity when a finite
// reference value came back non-finite.
double error_of_output(const std::vector<double>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t j = 0; j < ref.size(); ++j) {
    if (std::isfinite(ref[j]) && !std::isfinite(got[j])) return INFINITY;
    num += (got[j] - ref[j]) * (got[j] - ref[j]);
    den += ref[j] * ref[j];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), kZeroFloor * std::sqrt(double(ref.size())));
}

struct Row {
  int cases = 0;
  int refused = 0;
  double max_error = 0;
  std::string worst;  // "output of case at dims" where the error is largest
};

// The input shapes of a case: "k [1, 63, 1, 64], q [1, 63, 1, 64], ...".
std::string shape_name(const Case& c) {
  std::string s;
  for (const auto& [name, d] : descs_for(c, DType::f64)) s += (s.empty() ? "" : ", ") + name + " " + shape_str(d.shape);
  return s;
}

// The dims a case binds beyond the defaults: "B=1 T=63 H=1 K=64 V=128".
std::string dims_name(const Case& c) {
  std::string s;
  for (const auto& [name, n] : c.dims) s += (s.empty() ? "" : " ") + name + "=" + std::to_string(n);
  return s.empty() ? "default dims" : s;
}

// A case's inputs are drawn from a seed of its own name and dims (FNV-1a), so
// adding a case or a shape, or filtering (LINEA_CROSS_OPS, LINEA_CROSS_MAX_T: the
// sanitizer runs), leaves every other case's inputs as they were.
uint32_t case_seed(const Case& c) {
  uint32_t h = 2166136261u;
  for (const char ch : case_name(c, DType::f64) + " at " + dims_name(c)) h = (h ^ uint8_t(ch)) * 16777619u;
  return h;
}

}  // namespace

TEST_CASE("every backend matches the CPU in float64, for every op, dtype and awkward shape of the table") {
  PoisonOutputs poison;
  Backend& cpu = get_backend("cpu");
  const std::vector<std::string> backends = backend_names();
  std::map<std::string, std::map<std::pair<std::string, std::string>, Row>> table;  // backend -> (op, dtype)
  std::map<std::string, std::string> refusals;                                      // "backend op" -> a reason
  int compared = 0;
  // LINEA_CROSS_OPS=a,b limits the test to those ops (the sanitizer runs of native/tools/gpu-check.sh).
  const std::string only =
      std::getenv("LINEA_CROSS_OPS") ? "," + std::string(std::getenv("LINEA_CROSS_OPS")) + "," : "";
  // LINEA_CROSS_MAX_T=N skips shapes longer than N steps (racecheck is slow on long sequences).
  const int64_t max_t = std::getenv("LINEA_CROSS_MAX_T") ? std::atoll(std::getenv("LINEA_CROSS_MAX_T")) : 0;
  // Each case draws its inputs from its own seed (case_seed).
  for (const OpDef& op : op_table()) {
    auto calls = op_calls().find(op.name);
    const bool skip_op = !only.empty() && only.find("," + op.name + ",") == std::string::npos;
    if (calls == op_calls().end()) {
      if (!skip_op)
        FAIL_CHECK("op ", op.name, " has no call builder: add one to op_calls() in native/tests/op_calls.h");
      continue;
    }
    const DType narrowest = narrowest_dtype(op);
    for (const Case& variant : calls->second.variants) {
      for (const ShapeCase& shape : calls->second.shapes) {
        if (skip_op || (max_t > 0 && shape.dims.count("T") && shape.dims.at("T") > max_t)) continue;
        Case c = variant;
        for (const auto& [name, n] : shape.dims) c.dims[name] = n;
        c.leading = shape.leading;
        HostTensors in = draw_inputs(c, case_seed(c));
        if (narrowest != DType::f64) round_inputs(in, descs_for(c, DType::f64), narrowest);
        const auto ref = run_on(cpu, c, in, DType::f64);
        for (const std::string& name : backends) {
          Backend& be = get_backend(name);
          for (DType dtype : op.dtypes) {
            if (&be == &cpu && dtype == DType::f64) continue;  // the reference itself
            CAPTURE(name);
            CAPTURE(case_name(c, dtype));
            CAPTURE(shape_name(c));
            Row& row = table[name][{op.name, dtype_name(dtype)}];
            const auto reason = be.accepts(plan_op(c.op, descs_for(c, dtype), c.attrs, c.outputs));
            if (reason) {
              ++row.refused;
              refusals.emplace(name + " " + op.name, *reason);
              continue;
            }
            const auto got = run_on(be, c, in, dtype);
            REQUIRE(got.size() == ref.size());
            for (const auto& [out, values] : ref) {
              CAPTURE(out);
              REQUIRE(got.count(out) == 1);
              const double err = error_of_output(got.at(out), values);
              if (std::isinf(err))
                FAIL_CHECK("a non-finite value where the CPU in f64 is finite (an element left unwritten?)");
              else
                CHECK_MESSAGE(err <= tolerance(dtype), "error ", err, " above the ", std::string(dtype_name(dtype)),
                              " tolerance ", tolerance(dtype));
              if (err > row.max_error) {
                row.max_error = err;
                row.worst = out + " of" + case_name(c, dtype).substr(c.op.size()) + " at " + dims_name(c);
              }
            }
            ++row.cases;
            ++compared;
          }
        }
      }
    }
  }
  CHECK(compared > 0);
  if (backends.size() == 1) {
    MESSAGE("cross-backend: no GPU backend, so the CPU in f32 against the CPU in f64: ", compared,
            " (op call, dtype, shape) cases compared over ", op_table().size(), " ops");
    if (!std::getenv("LINEA_CROSS_TABLE")) return;  // set, it prints the table below on the CPU alone too
  }
  for (const auto& [what, reason] : refusals)
    std::printf("[cross-backend] refused: %s: %s\n", what.c_str(), reason.c_str());
  std::printf("[cross-backend] %d (op call, dtype, shape) cases compared against the CPU in f64\n", compared);
  std::printf("%-8s %-20s %-5s %6s %10s %8s  %s\n", "backend", "op", "dtype", "cases", "max error", "refused",
              "where largest");
  for (const auto& [name, rows] : table)
    for (const auto& [key, row] : rows)
      std::printf("%-8s %-20s %-5s %6d %10.2e %8d  %s\n", name.c_str(), key.first.c_str(), key.second.c_str(),
                  row.cases, row.max_error, row.refused, row.worst.c_str());
}
