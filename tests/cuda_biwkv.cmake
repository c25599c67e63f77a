# CUDA Bi-WKV: runs on a GPU machine, skips (with a message) without a device.
include_guard(GLOBAL)
add_executable(test_cuda_biwkv test_cuda_biwkv.cu)
target_link_libraries(test_cuda_biwkv PRIVATE vrwkv_test_main vrwkv::cuda)
add_test(NAME test_cuda_biwkv COMMAND test_cuda_biwkv)
