// A small fixed thread pool for the CPU kernels: work is split over
// independent rows (e.g. batch x heads), never inside one recurrence.
#pragma once

#include <cstdint>
#include <functional>

namespace linea {

// Number of worker threads (LINEA_NUM_THREADS, else the hardware's count).
int cpu_threads();

// Calls fn(i) for i in [0, n), spread over the pool; returns when all are done.
// The first exception thrown by fn is rethrown here.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace linea
