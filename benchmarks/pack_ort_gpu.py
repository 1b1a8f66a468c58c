"""Pack an onnxruntime-gpu wheel small enough to carry to a GPU machine that has no package index.

The wheel (about 250 MB) is mostly one fat binary: the CUDA provider's kernels compiled for every
GPU generation (sm_75 ... sm_120). A machine needs only its own, so this keeps the kernels of one
compute capability, zeroes the payload of the others (their headers stay, so the CUDA runtime
still parses the fat binary and simply finds the one it picks), drops the C-API library the Python
module does not load, and writes an .tar.xz of the unpacked package, split into parts of --part-mb.
For onnxruntime-gpu 1.31.1 and sm_90 (H100/H200): 61 MB in all, in two parts of at most 31 MB.

On the GPU machine: cat ort-site.part-* | xz -d | tar -C /tmp/ort -x
                    ORT_GPU_SITE=/tmp/ort bash benchmarks/gpu_check.sh python3

Usage: python benchmarks/pack_ort_gpu.py onnxruntime_gpu-*.whl --sm 90 --out .ortw [--part-mb 31]
"""
from __future__ import annotations

import argparse
import lzma
import shutil
import struct
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

FATBIN_MAGIC = 0xBA55ED50
PROVIDER = "onnxruntime/capi/libonnxruntime_providers_cuda.so"
DROP = ("onnxruntime/capi/libonnxruntime.so.", "onnxruntime/capi/libonnxruntime_providers_tensorrt.so")


def fatbin_section(path: Path) -> tuple[int, int]:
    """File offset and size of the .nv_fatbin section (readelf, binutils)."""
    out = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if ".nv_fatbin" in line:
            fields = line.split("]", 1)[1].split()
            return int(fields[3], 16), int(fields[4], 16)
    raise SystemExit(f"error: {path} has no .nv_fatbin section")


def keep_one_arch(data: bytearray, offset: int, size: int, sm: int) -> tuple[int, int]:
    """Zero the payload of every fat-binary entry not compiled for `sm`; returns (kept, zeroed) bytes.
    Layout: a 16-byte header (magic, version, header size, fat size) per fat binary, then entries
    whose header holds kind (u16), version (u16), header size (u32), padded payload size (u32) and
    at byte 28 the SM version (u32)."""
    pos, end, kept, zeroed = offset, offset + size, 0, 0
    while pos < end:
        magic, _version, header, fat_size = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:               # padding between fat binaries
            pos += 8
            continue
        entry, stop = pos + header, pos + header + fat_size
        while entry < stop:
            _kind, _ever, entry_header, payload = struct.unpack_from("<HHII", data, entry)
            entry_sm = struct.unpack_from("<I", data, entry + 28)[0]
            start = entry + entry_header
            if entry_sm == sm:
                kept += payload
            else:
                data[start:start + payload] = bytes(payload)
                zeroed += payload
            entry = start + payload
        pos = stop
    return kept, zeroed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--sm", type=int, required=True, help="compute capability to keep, e.g. 90 for H100/H200")
    ap.add_argument("--out", type=Path, required=True, help="folder for the parts")
    ap.add_argument("--part-mb", type=float, default=31.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        with zipfile.ZipFile(args.wheel) as whl:
            whl.extractall(site)
        for name in DROP:
            for path in site.glob(name + "*"):
                path.unlink()
        provider = site / PROVIDER
        data = bytearray(provider.read_bytes())
        kept, zeroed = keep_one_arch(data, *fatbin_section(provider), args.sm)
        if kept == 0:
            raise SystemExit(f"error: the wheel has no kernels for sm_{args.sm}")
        provider.write_bytes(data)
        print(f"sm_{args.sm} kernels kept: {kept / 2**20:.0f} MiB; others zeroed: {zeroed / 2**20:.0f} MiB")
        packed = Path(tmp) / "ort-site.tar.xz"
        with lzma.open(packed, "wb", preset=6) as xz, tarfile.open(fileobj=xz, mode="w") as tar:
            for path in sorted(site.iterdir()):
                tar.add(path, arcname=path.name)
        args.out.mkdir(parents=True, exist_ok=True)
        part, blob = int(args.part_mb * 1e6), packed.read_bytes()
        for k in range(0, len(blob), part):
            (args.out / f"ort-site.part-{k // part:02d}").write_bytes(blob[k:k + part])
        print(f"{len(blob) / 1e6:.1f} MB in {-(-len(blob) // part)} parts in {args.out}")
        shutil.rmtree(site)


if __name__ == "__main__":
    main()
