# The whole encoder on the GPU: images/s, memory beyond the weights, per-op
# timings. The program counts device allocations by wrapping cudaMalloc /
# cudaFree, which needs the shared CUDA runtime.
if(TARGET vrwkv::cuda)
  add_executable(bench_encoder_cuda bench_encoder_cuda.cu)
  target_link_libraries(bench_encoder_cuda PRIVATE vrwkv::cuda benchmark::benchmark ${CMAKE_DL_LIBS})
  set_target_properties(bench_encoder_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Shared)
endif()
