#include "linea/engine_info.h"

#include "../cpu/parallel.h"

#if defined(LINEA_BLAS_OPENBLAS)
extern "C" char* openblas_get_config(void);
extern "C" int openblas_get_num_threads(void);
#endif

#ifndef LINEA_VERSION
#define LINEA_VERSION "0.0.0"
#endif
#ifndef LINEA_CUDA_STATUS
#define LINEA_CUDA_STATUS "not configured"
#endif

namespace linea {
namespace {

std::string blas_description() {
#if defined(LINEA_BLAS_OPENBLAS)
  return std::string("OpenBLAS (") + openblas_get_config() + ", " + std::to_string(openblas_get_num_threads()) +
         " threads)";
#elif defined(LINEA_BLAS_ACCELERATE)
  return "Accelerate";
#else
  return "none (reference loops)";
#endif
}

std::string compiler_description() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return "g++ " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
  return "MSVC " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

}  // namespace

EngineInfo engine_info() {
  EngineInfo info;
  info.version = LINEA_VERSION;
  info.backends_compiled.push_back("cpu");
#ifdef LINEA_WITH_CUDA
  info.backends_compiled.push_back("cuda");
#endif
  info.cuda_status = LINEA_CUDA_STATUS;
  for (const auto& name : backend_names()) info.devices.push_back(get_backend(name).info());
  info.blas = blas_description();
  info.cpu_threads = cpu_threads();
  info.compiler = compiler_description();
  return info;
}

}  // namespace linea
