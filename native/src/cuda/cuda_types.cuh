// Element types on the device: every kernel is written once over T in
// {float, double, __nv_bfloat16} and loads into / stores from its
// accumulation type (double for double, float otherwise), so bf16 is storage
// only and sums, statistics and states run in f32.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "linea/tensor.h"

namespace linea {

using bf16 = __nv_bfloat16;

template <class T>
struct AccumType {
  using type = float;
};
template <>
struct AccumType<double> {
  using type = double;
};
template <class T>
using acc_t = typename AccumType<T>::type;

template <class T>
__device__ __forceinline__ acc_t<T> load(const T* p, int64_t i) {
  return static_cast<acc_t<T>>(p[i]);
}
template <>
__device__ __forceinline__ float load<bf16>(const bf16* p, int64_t i) {
  return __bfloat162float(p[i]);
}

template <class T, class A>
__device__ __forceinline__ void store(T* p, int64_t i, A x) {
  p[i] = static_cast<T>(x);
}
template <>
__device__ __forceinline__ void store<bf16, float>(bf16* p, int64_t i, float x) {
  p[i] = __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ void store<bf16, double>(bf16* p, int64_t i, double x) {
  p[i] = __float2bfloat16_rn(static_cast<float>(x));
}

// The C++ type of a value dtype, for registering one kernel template per dtype.
template <DType D>
struct DeviceType;
template <>
struct DeviceType<DType::f32> {
  using type = float;
};
template <>
struct DeviceType<DType::f64> {
  using type = double;
};
template <>
struct DeviceType<DType::bf16> {
  using type = bf16;
};

}  // namespace linea
