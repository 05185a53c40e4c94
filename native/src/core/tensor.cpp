#include "linea/tensor.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "linea/ops.h"

namespace linea {

namespace {

// Each dtype's name, and the longer alias parse_dtype also accepts: the one
// place a dtype is spelled.
struct DTypeName {
  DType dtype;
  const char* name;
  const char* alias;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::f32, "f32", "float32"},    {DType::f64, "f64", "float64"}, {DType::i32, "i32", "int32"},
    {DType::bf16, "bf16", "bfloat16"}, {DType::f16, "f16", "float16"},
};

}  // namespace

const char* dtype_name(DType dtype) {
  for (const DTypeName& d : kDTypeNames)
    if (d.dtype == dtype) return d.name;
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::bf16: return 2;
    case DType::f16: return 2;
  }
  return 0;
}

DType parse_dtype(const std::string& name) {
  std::string valid;
  for (const DTypeName& d : kDTypeNames) {
    if (name == d.name || name == d.alias) return d.dtype;
    valid += (valid.empty() ? "" : ", ") + std::string(d.name);
  }
  throw OpError("dtype '" + name + "' is not supported; valid: " + valid);
}

uint16_t bf16_from_float(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x)) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet, sign kept
  bits += 0x7FFF + ((bits >> 16) & 1);                                   // round to nearest, ties to even
  return static_cast<uint16_t>(bits >> 16);
}

float bf16_to_float(uint16_t bits) {
  const uint32_t wide = uint32_t(bits) << 16;
  float x = 0;
  std::memcpy(&x, &wide, 4);
  return x;
}

uint16_t f16_from_float(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t mag = bits & 0x7FFFFFFF;
  if (mag > 0x7F800000) return sign | 0x7E00;   // NaN: quiet
  if (mag >= 0x477FF000) return sign | 0x7C00;  // 65520 and up round to infinity
  if (mag < 0x38800000) {                       // below 2^-14: a subnormal, in units of 2^-24
    float a = 0;
    std::memcpy(&a, &mag, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));  // exact scaling, ties to even
  }
  uint32_t r = mag - 0x38000000;  // exponent rebiased 127 -> 15
  r += 0x0FFF + ((r >> 13) & 1);  // round the 13 dropped bits to nearest, ties to even
  return sign | static_cast<uint16_t>(r >> 13);
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in f32
    const float a = static_cast<float>(mantissa) / 16777216.0f;
    return sign ? -a : a;
  }
  const uint32_t bits =
      exponent == 31 ? sign | 0x7F800000 | (mantissa << 13) : sign | ((exponent + 112) << 23) | (mantissa << 13);
  float x = 0;
  std::memcpy(&x, &bits, 4);
  return x;
}

int64_t numel(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw OpError("tensor shape " + shape_str(shape) + " has a negative dim");
  for (int64_t d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : shape) {
    // n ≥ 1 and d ≥ 1 here, so n · d > kMaxElements exactly when d > kMaxElements / n (no product is formed that could
    // overflow).
    if (d > kMaxElements / n)
      throw OpError("tensor shape " + shape_str(shape) + " has more than 2^60 elements; no device holds it");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

}  // namespace linea
