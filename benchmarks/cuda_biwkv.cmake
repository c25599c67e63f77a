# CUDA Bi-WKV throughput against a device-to-device copy.
include_guard(GLOBAL)
add_executable(bench_biwkv_cuda bench_biwkv_cuda.cu)
target_link_libraries(bench_biwkv_cuda PRIVATE benchmark::benchmark vrwkv::cuda)
