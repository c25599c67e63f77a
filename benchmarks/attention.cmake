# Bi-WKV against softmax attention (CPU program; the CUDA one is in cuda_attention.cmake).
add_executable(bench_biwkv_vs_attention bench_biwkv_vs_attention.cpp)
target_link_libraries(bench_biwkv_vs_attention PRIVATE vrwkv::vrwkv benchmark::benchmark)
target_compile_options(bench_biwkv_vs_attention PRIVATE ${VRWKV_NATIVE_FLAGS})
if(VRWKV_BUILD_TESTS)
  # Smoke runs for CI: one small size, a few iterations. Google Benchmark 1.7
  # takes the minimum time as plain seconds.
  add_test(NAME bench_biwkv_vs_attention_smoke
    COMMAND bench_biwkv_vs_attention --benchmark_min_time=0.01 "--benchmark_filter=/T:196/C:192(/|$)")
  if(VRWKV_HAS_CUDA)
    # Exits 0 with a message when there is no device.
    add_test(NAME bench_biwkv_vs_attention_cuda_smoke
      COMMAND bench_biwkv_vs_attention_cuda --benchmark_min_time=0.01 "--benchmark_filter=/T:196/C:192(/|$)")
  endif()
endif()
