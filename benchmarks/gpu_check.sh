#!/usr/bin/env bash
# GPU check, one call on a machine with an NVIDIA GPU (benchmarks/results.md: "GPU"), within 8 minutes:
#   1. what is there: nvidia-smi, torch CUDA, ONNX Runtime's providers (installs onnxruntime-gpu
#      and the CPU-less torch only when pip can reach an index; otherwise says what is missing);
#   2. the CUDA equivalence tests (tests/test_gpu.py: torch voxelizer on CUDA and the ONNX Runtime
#      CUDA provider with IO binding, against the CPU path);
#   3. `handpose-live bench` on the GPU, hand and body, fp32 and fp16 (`export-onnx --fp16`, made here),
#      1-8 subjects batched, next to the CPU; the paper's network (v2v-full, random weights) beside the
#      lite one on the GPU;
#   4. a JSON report: $OUT/gpu-report.json (or ./gpu-report.json).
# Usage: bash benchmarks/gpu_check.sh [python]     (default: .venv/bin/python, else python3)
# Where no package index is reachable, unpack an onnxruntime-gpu wheel (CUDA build matching the
# machine's) into a folder and name it: ORT_GPU_SITE=/tmp/ort bash benchmarks/gpu_check.sh python3
# (benchmarks/pack_ort_gpu.py makes such a folder small enough to carry).
set -u
cd "$(dirname "$0")/.."
PY="${1:-}"
if [ -z "$PY" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
OUTDIR="${OUT:-.}"
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu-check.log"
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }

if [ -n "${ORT_GPU_SITE:-}" ]; then export PYTHONPATH="$ORT_GPU_SITE${PYTHONPATH:+:$PYTHONPATH}"; fi
# The CUDA provider dlopens cuBLAS, cuDNN, cuRAND and the CUDA runtime by soname: make the ones that
# pip installed (the nvidia-* packages torch uses) findable.
NVLIB=$("$PY" - <<'PY' 2>/dev/null
import glob, os, site
dirs = {os.path.dirname(p) for d in site.getsitepackages() for p in glob.glob(d + "/nvidia/**/lib*.so*", recursive=True)}
print(":".join(sorted(dirs)))
PY
)
if [ -n "$NVLIB" ]; then export LD_LIBRARY_PATH="$NVLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi

say "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"
"$PY" - <<'PY' 2>&1 | tee -a "$LOG"
import importlib
for m in ("torch", "onnxruntime", "handpose_live"):
    try:
        mod = importlib.import_module(m)
        print(m, getattr(mod, "__version__", "?"))
    except Exception as exc:
        print(m, "MISSING", exc)
PY
if ! "$PY" -c "import onnxruntime as o; assert 'CUDAExecutionProvider' in o.get_available_providers()" 2>/dev/null; then
  say "ONNX Runtime has no CUDA provider: trying pip install onnxruntime-gpu (needs an index)"
  timeout 120 "$PY" -m pip install -q onnxruntime-gpu 2>&1 | tail -2 | tee -a "$LOG"
fi
timeout 60 "$PY" -m handpose_live doctor 2>&1 | tee -a "$LOG"
if ! "$PY" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  say "torch sees no CUDA device: the voxelizer runs on the CPU (the equivalence test will skip)"
fi

say "== CUDA equivalence tests"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -5 | tee -a "$LOG"
EQ_RC=${PIPESTATUS[0]}

say "== fp16 variants of the shipped models (export-onnx --fp16; parity with fp32 checked on the way)"
for target in hand body; do
  timeout 60 "$PY" -m handpose_live export-onnx "models/v2v-lite-$target.onnx" --fp16 \
    --out "/tmp/v2v-lite-$target-fp16.onnx" 2>&1 | tail -2 | tee -a "$LOG"
done

say "== bench (GPU first, fp32 and fp16; then the CPU of the same machine for the ratio)"
for device in cuda cpu; do
  for target in hand body; do
    models=()
    if [ "$device" = cuda ]; then
      frames=200; limit=150; models=(--model "models/v2v-lite-$target.onnx")
      if [ -f "/tmp/v2v-lite-$target-fp16.onnx" ]; then models+=(--model "/tmp/v2v-lite-$target-fp16.onnx"); fi
    else frames=100; limit=90; fi
    timeout "$limit" "$PY" -m handpose_live bench --target "$target" --device "$device" --frames "$frames" "${models[@]}" \
      --subjects 1 --subjects 2 --subjects 4 --subjects 8 --json > "$OUTDIR/bench-$target-$device.json" 2>> "$LOG"
    say "bench $target $device: exit $?"
  done
done

say "== the paper's network (v2v-full, random weights) beside the lite one, GPU"
FULL=/tmp/v2v-full-random.onnx
timeout 120 "$PY" benchmarks/backends.py --archs v2v-full --write-model "$FULL" >> "$LOG" 2>&1
timeout 150 "$PY" -m handpose_live bench --device cuda --frames 100 --model models/v2v-lite-hand.onnx --model "$FULL" \
  --subjects 1 --subjects 8 --json > "$OUTDIR/bench-full-cuda.json" 2>> "$LOG"
say "bench full cuda: exit $?"

"$PY" - "$OUTDIR" "$EQ_RC" <<'PY' 2>&1 | tee -a "$LOG"
import json, pathlib, subprocess, sys
out, eq_rc = pathlib.Path(sys.argv[1]), int(sys.argv[2])
report = {"equivalence_tests_exit": eq_rc, "bench": {}}
try:
    report["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                   capture_output=True, text=True).stdout.strip()
except OSError:
    report["gpu"] = None
for f in sorted(out.glob("bench-*.json")):
    try:
        report["bench"][f.stem] = json.loads(f.read_text().strip().splitlines()[-1])
    except Exception as exc:
        report["bench"][f.stem] = {"error": str(exc)}
(out / "gpu-report.json").write_text(json.dumps(report, indent=1))
for k, v in report["bench"].items():
    for r in v if isinstance(v, list) else []:
        print(k, r.get("label"), "fps", r.get("fps"), "e2e p50", r.get("latency_ms", {}).get("p50"),
              "subjects", r.get("subject_cost"))
print("wrote", out / "gpu-report.json")
PY
