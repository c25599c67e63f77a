add_executable(bench_encoder_cpu bench_encoder_cpu.cpp)
target_link_libraries(bench_encoder_cpu PRIVATE vrwkv::vrwkv benchmark::benchmark)
target_compile_options(bench_encoder_cpu PRIVATE ${VRWKV_NATIVE_FLAGS})
if(VRWKV_BUILD_TESTS)
  add_test(NAME bench_encoder_cpu_smoke
    COMMAND bench_encoder_cpu --benchmark_min_time=0.01 --benchmark_filter=gemm|vrwkv_t/224)
endif()
