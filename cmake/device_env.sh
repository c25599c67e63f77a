#!/usr/bin/env bash
# Source this on a machine without the Debian packages (e.g. the GPU machine):
# unpacks the .deb files carried in .debs/ into /tmp/vrwkv-sysroot and exports
# what CMake needs to find Eigen, doctest, Google Benchmark and stb there.
#   . cmake/device_env.sh && cmake -S . -B build $VRWKV_DEVICE_CMAKE_ARGS
root=/tmp/vrwkv-sysroot
if [ ! -d "$root/usr" ]; then
  for deb in .debs/*.deb; do dpkg -x "$deb" "$root"; done
fi
export CMAKE_PREFIX_PATH="$root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VRWKV_DEVICE_CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90 -DVRWKV_STB_INCLUDE_DIR=$root/usr/include/stb -DEigen3_DIR=$root/usr/share/eigen3/cmake"
