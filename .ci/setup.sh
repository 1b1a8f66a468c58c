#!/usr/bin/env bash
# One-step set-up on a fresh Debian/Ubuntu x86_64 machine: system library, virtual
# environment, the package with its dependencies. Safe to run again (it skips what is done).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: handpose-live needs Python >= 3.10 (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi

# pyrealsense2 and open3d link librealsense, which needs libusb-1.0 at import time.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing libusb-1.0-0 (needed by pyrealsense2 and open3d)"
    apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q libusb-1.0-0 >/dev/null; }
  else
    echo "error: libusb-1.0 is missing; install it first with: sudo apt-get install libusb-1.0-0" >&2
    exit 1
  fi
fi

# apt_install WHAT COMMAND PACKAGES...: install Debian packages for WHAT, quietly; success is judged by COMMAND
# being there afterwards (apt can fail on another package's trigger after installing these, or succeed
# on a second try after a lock or a mirror hiccup), and a failure shows apt's own error lines.
apt_install() {
  local what=$1 command=$2 log
  shift 2
  log=$(mktemp)
  echo "installing $* ($what)"
  apt-get update -q >"$log" 2>&1 || true      # stale lists still install from the cache
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1 || true
  if ! command -v "$command" >/dev/null; then
    echo "warning: could not install $*; $what will be skipped. apt said:" >&2
    { grep -E '^(E|W|dpkg):' "$log" || tail -n 5 "$log"; } | tail -n 8 | sed 's/^/  /' >&2
  fi
  rm -f "$log"
}

# A headless browser for the test of the --ws page (tests/test_websocket.py; skipped without one).
# Debian's chromium: Playwright's own browser download needs a host CI cannot reach.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    apt_install "the browser test of the --ws page" chromium chromium fonts-dejavu-core
  else
    echo "note: no chromium; the browser test of the --ws page will be skipped (sudo apt-get install chromium)" >&2
  fi
fi

# A virtual screen for the tests of the real Open3D/OpenCV windows (tests/test_viewer_thread.py and
# others; skipped without one). Debian's xvfb.
if ! command -v Xvfb >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    apt_install "the tests of the real viewer windows" Xvfb xvfb xauth
  else
    echo "note: no Xvfb; the viewer tests will be skipped (sudo apt-get install xvfb)" >&2
  fi
fi

# Blender, headless, for the test that imports a `run --output take.bvh` take (tests/test_bvh.py; skipped
# without it). Debian's blender.
if ! command -v blender >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    apt_install "the Blender import test of BVH takes" blender blender
  else
    echo "note: no Blender; the BVH import test will be skipped (sudo apt-get install blender)" >&2
  fi
fi

# Debian/Ubuntu ship `venv` without ensurepip unless python3.X-venv is installed.
if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
  pkg="python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing $pkg (needed to create the virtual environment)"
    { apt-get update -q && apt-get install -y -q "$pkg"; } >/dev/null 2>&1 || apt-get install -y -q python3-venv >/dev/null
  else
    echo "error: Python's venv module is incomplete; install it first with: sudo apt-get install $pkg" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.handpose-live-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # The environment takes about 3.5 GB (open3d 0.9, torch 0.75, onnxruntime 0.35 GB...): say so up front
  # rather than fail half-way with pip's "No space left on device".
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    free_mb=$(df -Pm .venv | awk 'NR==2 {print $4}')
    if [ "${free_mb:-0}" -lt 3800 ]; then
      echo "error: set-up needs about 3.8 GB of free disk for .venv; $(pwd) has ${free_mb} MB free" >&2
      exit 1
    fi
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  # torch: PyTorch's CPU build (about 200 MB) when there is no NVIDIA driver, since PyPI's default
  # build carries CUDA (several GB); PyPI's build (CUDA) with a driver; TORCH_SPEC chooses another.
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    spec="${TORCH_SPEC:-torch==2.13.0}"
    if [ -z "${TORCH_SPEC:-}" ] && ! command -v nvidia-smi >/dev/null; then
      .venv/bin/python -m pip install -q --timeout 20 --retries 1 --index-url https://download.pytorch.org/whl/cpu "$spec" \
        || .venv/bin/python -m pip install -q "$spec"
    else
      .venv/bin/python -m pip install -q "$spec"
    fi
  fi
  # setuptools says "Editable installation ... Please be careful with folders ..." as a warning banner: not ours to act on
  PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q -e ".[test,openvino,kinect]"
  # Orbbec SDK v2: its metadata pins numpy<2 and open3d 0.18 on Python < 3.12, which it does not need
  .venv/bin/python -m pip install -q --no-deps "pyorbbecsdk2>=2.1"
  echo "$want" > "$stamp"
fi
