# .pth checkpoint loading (io/zip.hpp, io/pickle.hpp, io/pth.hpp, io/checkpoint.hpp).
# test_pth_fuzz is deterministic and is also meant to run clean under
# AddressSanitizer+UBSan, in a build directory of its own:
#   cmake -S . -B build-asan -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
#   cmake --build build-asan --target test_pth test_pth_fuzz && build-asan/tests/test_pth_fuzz
vrwkv_add_test(test_pth test_pth.cpp)
vrwkv_add_test(test_pth_fuzz test_pth_fuzz.cpp)
