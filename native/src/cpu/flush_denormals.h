// Denormal floats make x86 and Arm arithmetic 10-100x slower, and training
// produces them (tiny gate products, attention weights, decayed states).
// Kernels run with flush-to-zero / denormals-are-zero, as ML frameworks do:
// pool workers permanently, the calling thread only for the duration of a
// kernel (its own code, e.g. JavaScript, keeps IEEE denormals).
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace linea {

class FlushDenormals {
 public:
  FlushDenormals() {
#if defined(__x86_64__) || defined(_M_X64)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, fpcr" : "=r"(saved_));
    const uint64_t with_fz = saved_ | kArmFlushToZero;
    __asm__ volatile("msr fpcr, %0" : : "r"(with_fz));
#endif
  }
  ~FlushDenormals() {
#if defined(__x86_64__) || defined(_M_X64)
    _mm_setcsr(saved_);
#elif defined(__aarch64__)
    __asm__ volatile("msr fpcr, %0" : : "r"(saved_));
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
#if defined(__x86_64__) || defined(_M_X64)
  static constexpr unsigned kFlushToZero = 0x8000;       // MXCSR bit 15
  static constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR bit 6
  unsigned saved_ = 0;
#elif defined(__aarch64__)
  static constexpr uint64_t kArmFlushToZero = uint64_t(1) << 24;  // FPCR.FZ
  uint64_t saved_ = 0;
#endif
};

}  // namespace linea
