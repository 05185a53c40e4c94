#include "linea/tensor.h"

#include <sstream>

#include "linea/ops.h"

namespace linea {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
  }
  return 0;
}

DType parse_dtype(const std::string& name) {
  if (name == "f32" || name == "float32") return DType::f32;
  if (name == "f64" || name == "float64") return DType::f64;
  if (name == "i32" || name == "int32") return DType::i32;
  throw OpError("dtype '" + name + "' is not supported; valid: f32, f64, i32");
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
