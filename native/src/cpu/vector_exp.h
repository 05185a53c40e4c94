// exp for loops the compiler can vectorize: std::exp is an opaque libm call
// that keeps every loop around it scalar (glibc's vector variants are only
// declared under -ffast-math), and in the softmax kernels exp is a third of
// the work. Branch-free and inline, so a loop of exp_vectorizable over a
// contiguous row becomes SIMD code at -O3.
//
// Method: exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 with
// ln 2 split in a high part (exact in n * high) and a low part (Cody-Waite),
// so |r| <= ln(2) / 2; exp(r) is its Taylor polynomial, of a degree whose
// truncation error (ln(2)/2)^(d+1) / (d+1)! is below the type's half-ulp:
// float degree 7 (5e-9 < 6e-8), double degree 13 (4e-18 < 1.1e-16).
// Measured: at most 2 ulp from std::exp over the normal range (tests/test_vector_exp.cpp).
//
// Range: x is clamped to [(1 - bias) ln 2, bias ln 2] (bias 127 in float,
// 1023 in double), the arguments whose 2^n is a normal number: exp(-inf) and
// exp(x) below the range give about the smallest normal number (1.2e-38 in
// float, 2.2e-308 in double) instead of 0 or a denormal, and x above it
// saturates near 2^bias (1.7e38 in float) instead of overflowing to inf.
// NaN in, NaN out is not guaranteed. The softmax kernels only call it on x <= 0 (scores minus their
// row max or log-sum-exp), where the smallest-normal floor is negligible
// next to the row's largest term, 1.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

namespace linea {

template <class T>
struct VectorExpTraits;

template <>
struct VectorExpTraits<float> {
  using Bits = int32_t;
  static constexpr int kMantissaBits = 23;
  static constexpr int kExponentBias = 127;
  static constexpr int kTaylorDegree = 7;
  static constexpr float kLn2High = 0.693359375f;       // 11 significant bits: n * kLn2High is exact
  static constexpr float kLn2Low = -2.12194440e-4f;     // ln 2 - kLn2High
  static constexpr float kRoundingShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
};

template <>
struct VectorExpTraits<double> {
  using Bits = int64_t;
  static constexpr int kMantissaBits = 52;
  static constexpr int kExponentBias = 1023;
  static constexpr int kTaylorDegree = 13;
  static constexpr double kLn2High = 6.93147180369123816490e-01;  // 32 significant bits (fdlibm)
  static constexpr double kLn2Low = 1.90821492927058770002e-10;   // ln 2 - kLn2High
  static constexpr double kRoundingShift = 6755399441055744.0;    // 1.5 * 2^52
};

// 1/0!, 1/1!, ..., 1/degree!, computed in double and rounded once to T.
template <class T, int degree>
constexpr std::array<T, degree + 1> inverse_factorials() {
  std::array<T, degree + 1> out{};
  double factorial = 1;
  for (int k = 0; k <= degree; ++k) {
    if (k > 0) factorial *= k;
    out[k] = static_cast<T>(1.0 / factorial);
  }
  return out;
}

template <class T>
inline T exp_vectorizable(T x) {
  using Traits = VectorExpTraits<T>;
  using Bits = typename Traits::Bits;
  constexpr T kLog2e = T(1.44269504088896340736);
  constexpr T kLn2 = T(0.693147180559945309417);
  // Normal-range exponents only: 2^n is then built directly from its bits.
  constexpr T kLowest = T(1 - Traits::kExponentBias) * kLn2;
  constexpr T kHighest = T(Traits::kExponentBias) * kLn2;
  x = x < kLowest ? kLowest : x;
  x = x > kHighest ? kHighest : x;

  // n = round(x / ln 2) by the add-and-subtract trick (exact for |n| < 2^22).
  const T n = (x * kLog2e + Traits::kRoundingShift) - Traits::kRoundingShift;
  const T r = (x - n * Traits::kLn2High) - n * Traits::kLn2Low;

  // Taylor polynomial of exp(r) in Horner form, coefficients 1/k!.
  constexpr auto kInverseFactorials = inverse_factorials<T, Traits::kTaylorDegree>();
  T poly = kInverseFactorials[Traits::kTaylorDegree];
  for (int k = Traits::kTaylorDegree - 1; k >= 0; --k) poly = poly * r + kInverseFactorials[k];

  // 2^n from its bits: biased exponent n + bias in the exponent field.
  const Bits exponent_bits = static_cast<Bits>(static_cast<Bits>(n) + Traits::kExponentBias) << Traits::kMantissaBits;
  T scale;
  std::memcpy(&scale, &exponent_bits, sizeof(scale));
  return poly * scale;
}

}  // namespace linea
