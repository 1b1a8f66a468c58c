"""benchmarks/pack_ort_gpu.py keeps one GPU generation's kernels of a fat binary and zeroes the rest
(the layout written here follows the fat-binary format the CUDA runtime reads)."""
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pack_ort_gpu import FATBIN_MAGIC, keep_one_arch  # noqa: E402


def entry(sm: int, payload: bytes) -> bytes:
    header = bytearray(64)
    struct.pack_into("<HHII", header, 0, 2, 0x0101, len(header), len(payload))
    struct.pack_into("<I", header, 28, sm)
    return bytes(header) + payload


def fatbin(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", FATBIN_MAGIC, 1, 16, len(body)) + body


def test_only_the_chosen_architecture_keeps_its_payload():
    a, b, c = b"\x11" * 40, b"\x22" * 24, b"\x33" * 16
    blob = bytearray(b"\x00" * 8 + fatbin(entry(80, a), entry(90, b)) + b"\x00" * 8 + fatbin(entry(120, c)))
    original = bytes(blob)
    kept, zeroed = keep_one_arch(blob, 0, len(blob), 90)
    assert (kept, zeroed) == (24, 40 + 16)
    assert len(blob) == len(original)
    assert bytes(blob).count(b) == 1 and a not in bytes(blob) and c not in bytes(blob)
    # headers (magic, sizes, SM versions) are untouched, so the runtime still walks every entry
    assert [i for i in range(len(blob)) if blob[i] != original[i] and original[i] not in (0x11, 0x33)] == []
