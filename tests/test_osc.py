"""`--osc`: OSC bundles received by a real python-osc server (as TouchDesigner, Max or Unity would),
checked address by address against the JSON record; bundle sizes; a missing receiver; and one
`handpose-live run --osc --ws` end to end."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_server import ThreadingOSCUDPServer
from websockets.sync.client import connect

from handpose_live.errors import UserError
from handpose_live.records import stream_header
from handpose_live.resources import shipped_model
from handpose_live.sinks.osc import MAX_DATAGRAM, OscSender
from handpose_live.types import DepthFrame, Intrinsics, PoseResult, Subject

INTR = Intrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
FRAME = DepthFrame(np.zeros((4, 4), np.float32), INTR)
HEADER = stream_header("hand", "hand21", "v2v-lite-hand.onnx", INTR)
RNG = np.random.default_rng(0)


def subject(sid: int, joints: int = 21, **extra) -> Subject:
    xyz = RNG.uniform(-80, 80, (joints, 3)) + [0, 0, 550]
    return Subject(sid, xyz.mean(0), xyz, RNG.uniform(0.3, 1.0, joints), 0.77, **extra)


class OscReceiver:
    """A real OSC server on localhost that keeps every message (address, args) in arrival order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.messages.append((address, args)))
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[tuple[str, tuple]]:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)                 # and nothing unexpected after them
        return list(self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    rec = OscReceiver()
    try:
        yield rec
    finally:
        rec.close()


def by_address(messages) -> dict[str, tuple]:
    return dict(messages)


def test_every_address_carries_the_record_values(receiver):
    hands = [subject(3, handedness="left", handedness_score=0.93, pinch=0.8, grab=0.25), subject(7)]
    first = PoseResult(41, 1000.0, hands, gestures=[{"type": "pinch_start", "id": 3}], latency_ms={"total": 9.0})
    with OscSender(f"127.0.0.1:{receiver.port}") as sender:
        sender.begin(HEADER)
        sender.write(FRAME, first)
        messages = receiver.wait_for(2 + 1 + 2 * 25 + 3 + 1)
        got = by_address(messages)
        record = first.to_record()
        names = HEADER["joint_names"]

        assert got["/skeleton/joints"] == tuple(names)
        assert got["/skeleton/bones"] == tuple(i for bone in HEADER["bones"] for i in bone)
        assert got["/frame"] == (41, 0.0, 2)
        for rec in record["hands"]:
            base = f"/hand/{rec['id']}"
            for name, xyz in zip(names, rec["joints_mm"]):
                assert got[f"{base}/joint/{name}"] == pytest.approx(xyz, abs=1e-3)
            assert got[f"{base}/joints"] == pytest.approx(np.ravel(rec["joints_mm"]), abs=1e-3)
            assert got[f"{base}/confidence"] == pytest.approx(rec["confidence"], abs=1e-6)
            assert got[f"{base}/centre"] == pytest.approx(rec["centre_mm"], abs=1e-3)
            assert got[f"{base}/score"] == pytest.approx((rec["score"],))
        assert got["/hand/3/handedness"][0] == "left" and got["/hand/3/handedness"][1] == pytest.approx(0.93)
        assert got["/hand/3/pinch"] == pytest.approx((0.8,)) and got["/hand/3/grab"] == pytest.approx((0.25,))
        assert "/hand/7/handedness" not in got and "/hand/7/pinch" not in got
        assert got["/hand/3/gesture"] == ("pinch_start",)
        assert "/hand/lost" not in got
        frame_messages = [a for a, _ in messages if not a.startswith("/skeleton")]
        assert frame_messages[0] == "/frame" and frame_messages[1] == "/hand/3/joint/wrist"

        receiver.messages.clear()
        sender.write(FRAME, PoseResult(42, 1033.5, [hands[1]]))        # hand 3 is gone
        got = by_address(receiver.wait_for(1 + 25 + 1))
        assert got["/frame"] == (42, pytest.approx(33.5), 1)
        assert got["/hand/lost"] == (3,)
        receiver.messages.clear()
        sender.write(FRAME, PoseResult(43, 1066.0, []))                # and then hand 7
        messages = receiver.wait_for(2)
        assert messages == [("/frame", (43, pytest.approx(66.0), 0)), ("/hand/lost", (7,))]
        assert sender.dropped == 0


def test_one_timestamped_bundle_per_frame_and_big_frames_split_under_the_cap():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    try:
        with OscSender(f"127.0.0.1:{sock.getsockname()[1]}") as sender:
            sender.begin(HEADER)
            header_bundle = OscBundle(sock.recv(65536))
            assert [m.address for m in header_bundle] == ["/skeleton/joints", "/skeleton/bones"]

            before = time.time()
            sender.write(FRAME, PoseResult(1, 0.0, [subject(0), subject(1)]))
            datagram = sock.recv(65536)
            assert OscBundle.dgram_is_bundle(datagram) and len(datagram) <= MAX_DATAGRAM
            bundle = OscBundle(datagram)
            assert before - 0.01 <= bundle.timestamp <= time.time() + 0.01
            assert bundle.num_contents == 1 + 2 * 25

            many = PoseResult(2, 33.0, [subject(i, handedness="right", handedness_score=0.9, pinch=0.1, grab=0.2)
                                        for i in range(12)])
            sender.write(FRAME, many)
            bundles = []
            while sum(b.num_contents for b in bundles) < 1 + 12 * 28:
                bundles.append(OscBundle(sock.recv(65536)))
            assert len(bundles) > 1
            assert all(b.size <= MAX_DATAGRAM for b in bundles)
            assert len({b.timestamp for b in bundles}) == 1
            addresses = [m.address for b in bundles for m in b]
            assert addresses[0] == "/frame" and len(addresses) == len(set(addresses)) == 1 + 12 * 28
            assert sender.dropped == 0
    finally:
        sock.close()


def test_body_models_send_person_addresses(receiver):
    header = stream_header("body", "itop15")
    with OscSender(f"127.0.0.1:{receiver.port}") as sender:
        sender.begin(header)
        sender.write(FRAME, PoseResult(5, 0.0, [subject(2, joints=15)], subjects_key="people"))
        got = by_address(receiver.wait_for(2 + 1 + 15 + 4))
    assert "/person/2/joint/head" in got and "/person/2/joint/left_foot" in got and "/person/2/joints" in got
    assert len(got["/person/2/joints"]) == 45
    assert not any(a.startswith("/hand") for a in got)


def test_without_a_header_joints_are_named_by_index(receiver):
    with OscSender(f"127.0.0.1:{receiver.port}") as sender:
        sender.write(FRAME, PoseResult(1, 0.0, [subject(4)]))
        got = by_address(receiver.wait_for(1 + 25))
    assert "/hand/4/joint/0" in got and "/hand/4/joint/20" in got


def test_no_receiver_never_stops_the_pipeline():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]                  # closed again: nobody listens there
    with OscSender(f"127.0.0.1:{port}") as sender:
        sender.begin(HEADER)
        t0 = time.perf_counter()
        for i in range(200):
            sender.write(FRAME, PoseResult(i, 33.0 * i, [subject(0)]))
        assert time.perf_counter() - t0 < 10
        assert sender.sent + sender.dropped == 201
    sender.write(FRAME, PoseResult(999, 0.0, [subject(0)]))     # even after close: counted, not raised
    assert sender.dropped >= 1


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:99999", "127.0.0.1:abc", ":9000", "::1:9000", "",
                                     "no-such-host.invalid:9000"])
def test_bad_osc_addresses_are_one_line(address):
    with pytest.raises(UserError, match="bad OSC address"):
        OscSender(address)


def test_cli_bad_osc_address_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--frames", "3",
                           "--viewer", "none", "--osc", "9000"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: bad OSC address '9000': expected host:port, e.g. 127.0.0.1:9000"


# ---- end to end ------------------------------------------------------------------------------

def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_streams_osc_and_websocket(receiver, tmp_path):
    """`handpose-live run --camera synthetic --osc host:port --ws port` as a user types it: the OSC
    frames match the JSONL records of the same run, and a WebSocket client gets the header and records."""
    frames, ws_port, out = 45, free_tcp_port(), tmp_path / "poses.jsonl"
    ws_messages: list[dict] = []
    stop = threading.Event()

    def ws_client() -> None:
        while not stop.is_set():
            try:
                with connect(f"ws://127.0.0.1:{ws_port}/ws", open_timeout=2) as client:
                    for message in client:
                        ws_messages.append(json.loads(message))
                return
            except OSError:
                time.sleep(0.1)          # not listening yet: the model is loading
            except Exception:
                return

    client = threading.Thread(target=ws_client, daemon=True)
    client.start()
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--frames", str(frames),
                           "--viewer", "none", "--osc", f"127.0.0.1:{receiver.port}", "--ws", str(ws_port),
                           "--output", str(out)], capture_output=True, text=True, timeout=300)
    stop.set()
    client.join(timeout=10)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"http://127.0.0.1:{ws_port}/" in proc.stdout + proc.stderr

    records = [r for r in map(json.loads, out.read_text().splitlines()) if "frame" in r]
    assert len(records) >= frames // 2
    messages = receiver.wait_for(1)
    osc_frames = [args for address, args in messages if address == "/frame"]
    assert [f[0] for f in osc_frames] == [r["frame"] for r in records]
    assert [f[2] for f in osc_frames] == [len(r["hands"]) for r in records]
    t0 = records[0]["timestamp_ms"]
    assert [f[1] for f in osc_frames] == pytest.approx([r["timestamp_ms"] - t0 for r in records], abs=0.01)
    last = records[-1]
    assert last["hands"], "the synthetic hand was not found"
    hand = last["hands"][0]
    joints = [args for address, args in messages if address == f"/hand/{hand['id']}/joints"]
    assert joints[-1] == pytest.approx(np.ravel(hand["joints_mm"]), abs=1e-3)
    names = [args for address, args in messages if address == "/skeleton/joints"]
    assert names and "index_tip" in names[0]

    assert ws_messages, "the WebSocket client got nothing"
    assert ws_messages[0]["joint_names"] == list(names[0]) and ws_messages[0]["model"] == shipped_model("hand").name
    ws_records = ws_messages[1:]
    assert ws_records and all("frame" in r for r in ws_records)
    by_frame = {r["frame"]: r for r in records}
    for r in ws_records:
        assert r["frame"] in by_frame and r["hands"] == by_frame[r["frame"]]["hands"]
