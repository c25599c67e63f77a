# Softmax attention on the GPU (materialized cuBLAS path and the fused kernel).
# Built when CUDA is; skips at run time without a device.
if(TARGET vrwkv::cuda)
  add_executable(test_cuda_attention test_cuda_attention.cu)
  target_link_libraries(test_cuda_attention PRIVATE vrwkv_test_main vrwkv::cuda)
  add_test(NAME test_cuda_attention COMMAND test_cuda_attention)
endif()
