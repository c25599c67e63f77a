#pragma once
// CPU runtime state: the number of threads used by OpenMP loops and by
// Eigen's GEMM.
#include <omp.h>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/cpu/eigen.hpp"

namespace vrwkv {

template <>
class executor<cpu> {
public:
    using backend = cpu;

    // threads <= 0: OpenMP's default (OMP_NUM_THREADS or the core count).
    explicit executor(int threads = 0) { set_threads(threads); }

    int threads() const { return threads_; }
    void set_threads(int threads) {
        threads_ = threads > 0 ? threads : omp_get_max_threads();
        Eigen::setNbThreads(threads_);
    }
    void synchronize() {}

private:
    int threads_ = 1;
};

using cpu_executor = executor<cpu>;

}  // namespace vrwkv
