include(${CMAKE_CURRENT_LIST_DIR}/cuda_biwkv.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/cuda_attention.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/cuda_model.cmake OPTIONAL)
