if(TARGET vrwkv_cli)
  vrwkv_add_test(test_cli test_cli.cpp)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/scratch)
  target_compile_definitions(test_cli PRIVATE VRWKV_CLI_PATH="$<TARGET_FILE:vrwkv_cli>"
    VRWKV_TEST_SCRATCH_DIR="${CMAKE_CURRENT_BINARY_DIR}/scratch")
  add_dependencies(test_cli vrwkv_cli)
endif()
if(TARGET vrwkv_cli)
  # The README's main job, exactly as a user runs it.
  add_test(NAME readme_demo COMMAND vrwkv_cli demo)
  set_tests_properties(readme_demo PROPERTIES PASS_REGULAR_EXPRESSION "vrwkv demo: done" TIMEOUT 600)
endif()
