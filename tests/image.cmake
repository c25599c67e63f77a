# Image decoding (Debian's compiled stb, through vrwkv::image) and the Pillow-exact preprocessing.
if(TARGET vrwkv_image)
  vrwkv_add_test(test_image test_image.cpp)
  target_link_libraries(test_image PRIVATE vrwkv::image)
else()
  message(STATUS "test_image not built: stb_image.h or libstb not found (install libstb-dev)")
endif()
