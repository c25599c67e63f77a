# The CUDA ops and the whole encoder on the GPU against host loops and the
# float64 fixtures. Built when CUDA is; skips at run time without a device.
# vrwkv_t.pth is read from ../shared/fixtures, else from .carry/fixtures (the
# git-ignored copy that travels to the GPU machine).
if(TARGET vrwkv::cuda)
  add_executable(test_cuda_model test_cuda_model.cu)
  target_link_libraries(test_cuda_model PRIVATE vrwkv_test_main vrwkv::cuda)
  target_compile_definitions(test_cuda_model PRIVATE VRWKV_CARRY_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/.carry/fixtures")
  add_test(NAME test_cuda_model COMMAND test_cuda_model)
endif()
