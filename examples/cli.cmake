# The vrwkv command. GPU subcommands come from gpu_entry.cu when CUDA is
# built, else from a stub that explains why they are unavailable.
if(NOT TARGET vrwkv_image)
  return()
endif()
set(VRWKV_CLI_SOURCES
  vrwkv/main.cpp vrwkv/cmd_run.cpp vrwkv/cmd_op.cpp vrwkv/cmd_checkpoint.cpp
  vrwkv/cmd_classify.cpp vrwkv/cmd_demo.cpp)
if(VRWKV_HAS_CUDA)
  list(APPEND VRWKV_CLI_SOURCES vrwkv/gpu_entry.cu vrwkv/compare_cuda.cu)
else()
  list(APPEND VRWKV_CLI_SOURCES vrwkv/gpu_stub.cpp)
endif()
add_executable(vrwkv_cli ${VRWKV_CLI_SOURCES})
set_target_properties(vrwkv_cli PROPERTIES OUTPUT_NAME vrwkv)
target_link_libraries(vrwkv_cli PRIVATE vrwkv::vrwkv vrwkv::image)
target_compile_options(vrwkv_cli PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${VRWKV_NATIVE_FLAGS} -O2>)
if(VRWKV_HAS_CUDA)
  target_link_libraries(vrwkv_cli PRIVATE vrwkv::cuda)
endif()
install(TARGETS vrwkv_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The demo's bundled image.
set_source_files_properties(vrwkv/cmd_demo.cpp PROPERTIES
  COMPILE_DEFINITIONS "VRWKV_DEMO_IMAGE=\"${PROJECT_SOURCE_DIR}/tests/data/sample_333x500.png\"")
