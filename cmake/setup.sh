#!/usr/bin/env bash
# Installs the Debian 12 packages vrwkv builds with (as root, or through sudo).
# CUDA is optional: when /usr/local/cuda/bin/nvcc exists the GPU backend is built too.
set -euo pipefail
packages=(cmake g++ make libeigen3-dev doctest-dev libbenchmark-dev libstb-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "vrwkv setup: packages present (${packages[*]})"
