#!/usr/bin/env bash
# setup.sh — install what deepc needs to build, test and train, from Debian's packages.
#   bash scripts/setup.sh          build tools, zlib, Fashion-MNIST
#   bash scripts/setup.sh --bench  also PyTorch, NumPy and OpenBLAS for the comparisons in bench/
#   bash scripts/setup.sh --browser  also chromium (large), for tests/report_browser.sh
# Runs apt-get only for packages that are missing, so a second run costs nothing.
set -euo pipefail
pkgs=(build-essential clang zlib1g-dev libpng-dev dataset-fashion-mnist)
for arg in "$@"; do
    case "$arg" in
        --bench) pkgs+=(python3-torch python3-numpy libopenblas-dev) ;;
        --browser) pkgs+=(chromium) ;;
    esac
done
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: ok (${pkgs[*]})"
