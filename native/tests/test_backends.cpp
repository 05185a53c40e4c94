// Every non-CPU backend against the CPU reference, op by op, on the same
// inputs. Skipped (with a line saying so) where no such device is present.
#include <doctest/doctest.h>

#include <cstdio>

#include "linea/backend.h"
#include "linea/engine_info.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

TEST_CASE("engine info lists the CPU backend and its device") {
  const EngineInfo info = engine_info();
  CHECK(info.backends_compiled.at(0) == "cpu");
  REQUIRE(!info.devices.empty());
  CHECK(info.devices[0].backend == "cpu");
  CHECK(info.devices[0].memory_bytes > 0);
  CHECK(!info.blas.empty());
  CHECK(info.cpu_threads >= 1);
}

TEST_CASE("each GPU backend's mixer_fwd matches the CPU reference") {
  int checked = 0;
  for (const auto& name : backend_names()) {
    if (name == "cpu") continue;
    Backend& gpu = get_backend(name);
    Backend& cpu = get_backend("cpu");
    set_poison_outputs(true);
    for (int f64 = 0; f64 < 2; ++f64) {
      const int64_t B = 2, Tn = 65, H = 3, K = 60, V = 100;
      auto run = [&](Backend& be, auto tag) {
        using T = decltype(tag);
        TensorMap in{{"q", random_tensor<T>(be, {B, Tn, H, K}, 1)},
                     {"k", random_tensor<T>(be, {B, Tn, H, K}, 2)},
                     {"v", random_tensor<T>(be, {B, Tn, H, V}, 3)},
                     {"s0", random_tensor<T>(be, {B, H, K, V}, 4)}};
        auto out = run_op(be, "mixer_fwd", in, {}, {"s_final"});
        be.synchronize();
        return std::make_pair(download<T>(out.at("o")), download<T>(out.at("s_final")));
      };
      if (f64) {
        auto [o_gpu, s_gpu] = run(gpu, double());
        auto [o_cpu, s_cpu] = run(cpu, double());
        CHECK(rel_error(o_gpu, o_cpu) < 1e-12);
        CHECK(rel_error(s_gpu, s_cpu) < 1e-12);
      } else {
        auto [o_gpu, s_gpu] = run(gpu, float());
        auto [o_cpu, s_cpu] = run(cpu, float());
        CHECK(rel_error(o_gpu, o_cpu) < 1e-5);
        CHECK(rel_error(s_gpu, s_cpu) < 1e-5);
      }
    }
    set_poison_outputs(false);
    std::printf("[backends] %s mixer_fwd == cpu (f32, f64)\n", name.c_str());
    ++checked;
  }
  if (checked == 0) std::printf("[backends] no GPU backend on this machine: CPU == GPU checks skipped\n");
}

TEST_CASE("copy_to_host_later gives the tensor as it was when the copy was enqueued, on every backend") {
  for (const auto& name : backend_names()) {
    Backend& be = get_backend(name);
    const int64_t n = 100003;  // odd, past a page: the pinned buffer's rounding does not show
    Tensor x = be.empty({n}, DType::f32);
    be.fill(x, 1.5);
    auto first = be.copy_to_host_later(x, x.bytes());
    be.fill(x, -2.0);  // enqueued after the copy: must not show in it
    auto second = be.copy_to_host_later(x, x.bytes());
    { auto dropped = be.copy_to_host_later(x, x.bytes()); }  // never waited for: its buffer is reused safely
    const float* a = static_cast<const float*>(first->wait());
    const float* b = static_cast<const float*>(second->wait());
    int64_t wrong_a = 0, wrong_b = 0;
    for (int64_t i = 0; i < n; ++i) {
      wrong_a += a[i] != 1.5f;
      wrong_b += b[i] != -2.0f;
    }
    CHECK_MESSAGE(wrong_a == 0, name);
    CHECK_MESSAGE(wrong_b == 0, name);
    // A buffer given back is handed out again and refilled.
    first.reset();
    be.fill(x, 7.0);
    auto third = be.copy_to_host_later(x, x.bytes());
    CHECK(static_cast<const float*>(third->wait())[n - 1] == 7.0f);
    std::printf("[backends] %s copy_to_host_later ordered after earlier work only\n", name.c_str());
  }
}

TEST_CASE("record_event times the work between two events, on every backend") {
  for (const auto& name : backend_names()) {
    Backend& be = get_backend(name);
    auto origin = be.record_event();
    Tensor x = be.empty({1 << 20}, DType::f32);
    be.fill(x, 1.0);
    auto after_fill = be.record_event();
    auto later = be.record_event();
    const double fill_ms = after_fill->elapsed_ms_since(*origin);
    CHECK_MESSAGE(fill_ms >= 0, name);
    CHECK_MESSAGE(later->elapsed_ms_since(*origin) >= fill_ms, name);
    std::printf("[backends] %s record_event: a 4 MiB fill took %.3f ms\n", name.c_str(), fill_ms);
  }
}
