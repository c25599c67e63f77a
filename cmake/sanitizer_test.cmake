# Builds the file-parsing tests (safetensors, .pth, images) with AddressSanitizer
# and UndefinedBehaviorSanitizer in a separate CPU-only build, and runs them.
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DTARGETS="a;b" -P sanitizer_test.cmake
set(flags "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -DCMAKE_BUILD_TYPE=RelWithDebInfo
    -DVRWKV_CUDA=OFF -DVRWKV_BUILD_EXAMPLES=OFF -DVRWKV_BUILD_BENCHMARKS=OFF
    "-DCMAKE_CXX_FLAGS=${flags}" "-DCMAKE_EXE_LINKER_FLAGS=${flags}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sanitizer build: configure failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR} --target ${TARGETS} -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sanitizer build: build failed")
endif()
string(REPLACE ";" "|" regex "^(${TARGETS})$")
execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR} -R "${regex}" --output-on-failure
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sanitizer build: tests failed under ASan/UBSan")
endif()
