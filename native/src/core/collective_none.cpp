// The collective calls of an engine built without NCCL (linea/collective.h).
#include <string>

#include "linea/collective.h"

namespace linea {

namespace {
[[noreturn]] void unavailable() {
  throw OpError(
      "data parallel over several GPUs needs NCCL, and this build of the native engine has none "
      "(CMake looks for nccl.h and libnccl: set LINEA_NCCL_ROOT)");
}
}  // namespace

bool collective_available() { return false; }
std::vector<uint8_t> collective_unique_id() { unavailable(); }
std::unique_ptr<Collective> make_collective(Backend&, const std::vector<uint8_t>&, int, int) { unavailable(); }

}  // namespace linea
