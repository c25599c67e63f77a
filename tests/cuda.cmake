# CUDA tests: compiled in CI (nvcc is present), run on a GPU machine; they skip without a device.
include(${CMAKE_CURRENT_LIST_DIR}/cuda_biwkv.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/cuda_attention.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/cuda_model.cmake OPTIONAL)
