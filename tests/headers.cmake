# Every public header must compile on its own. CPU headers with g++ and
# -Wall -Wextra -Werror; .cuh headers with nvcc when CUDA is built.
file(GLOB_RECURSE VRWKV_PUBLIC_HEADERS RELATIVE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/include/vrwkv/*.hpp)
file(GLOB_RECURSE VRWKV_CUDA_HEADERS RELATIVE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/include/vrwkv/*.cuh)
set(_sources "")
foreach(header ${VRWKV_PUBLIC_HEADERS})
  string(MAKE_C_IDENTIFIER ${header} _id)
  set(_src ${CMAKE_CURRENT_BINARY_DIR}/header_check/${_id}.cpp)
  file(CONFIGURE OUTPUT ${_src} CONTENT "#include <${header}>\n#include <${header}>  // include guard\n")
  list(APPEND _sources ${_src})
endforeach()
add_library(vrwkv_header_check OBJECT ${_sources})
target_link_libraries(vrwkv_header_check PRIVATE vrwkv::vrwkv vrwkv_image)
# -O0: the check is about declarations and includes; nothing here is run.
target_compile_options(vrwkv_header_check PRIVATE -Wall -Wextra -Werror -O0)
if(VRWKV_HAS_CUDA)
  set(_cuda_sources "")
  foreach(header ${VRWKV_CUDA_HEADERS})
    string(MAKE_C_IDENTIFIER ${header} _id)
    set(_src ${CMAKE_CURRENT_BINARY_DIR}/header_check/${_id}.cu)
    file(CONFIGURE OUTPUT ${_src} CONTENT "#include <${header}>\n#include <${header}>  // include guard\n")
    list(APPEND _cuda_sources ${_src})
  endforeach()
  if(_cuda_sources)
    add_library(vrwkv_cuda_header_check OBJECT ${_cuda_sources})
    target_link_libraries(vrwkv_cuda_header_check PRIVATE vrwkv::cuda)
    # -O0 for the host compiler only: nvcc's own -O0 after the build type's
    # -O3 draws "incompatible redefinition for option 'optimize'"
    target_compile_options(vrwkv_cuda_header_check PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>
                           $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-O0>)
  endif()
endif()
# A test that the check compiled (the build fails otherwise).
add_test(NAME headers_compile_alone COMMAND ${CMAKE_COMMAND} -E echo "every public header compiled on its own")
set_tests_properties(headers_compile_alone PROPERTIES DEPENDS vrwkv_header_check)
