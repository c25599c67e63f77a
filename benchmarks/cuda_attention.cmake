# Bi-WKV against softmax attention on the GPU (its CTest smoke entry is in attention.cmake).
if(TARGET vrwkv::cuda)
  add_executable(bench_biwkv_vs_attention_cuda bench_biwkv_vs_attention_cuda.cu)
  target_link_libraries(bench_biwkv_vs_attention_cuda PRIVATE vrwkv::cuda benchmark::benchmark)
endif()
