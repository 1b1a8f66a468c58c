"""`--ws`: the WebSocket server and its page. Real clients (websockets, raw sockets, a headless
Chromium) against a real server: the header then the records, latest-only delivery, a client that
never reads, and the defences (Origin, paths, client count, message size, floods, garbage)."""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import struct
import threading
import time

import numpy as np
import pytest
from headless_browser import HeadlessBrowser, find_browser
from openhand import HAND_MM, INTR
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from handpose_live.errors import UserError
from handpose_live.records import stream_header
from handpose_live.sinks.files import record_json
from handpose_live.sinks.websocket import PAGE_FILES, WebSocketServer, parse_ws_address
from handpose_live.types import DepthFrame, PoseResult, Subject

HEADER = stream_header("hand", "hand21", "v2v-lite-hand.onnx", INTR)
FRAME = DepthFrame(np.zeros((4, 4), np.float32), INTR)


def subject(sid: int, offset_mm=(0.0, 0.0, 0.0), handedness: str = "right", project: bool = True) -> Subject:
    joints = HAND_MM + np.asarray(offset_mm, dtype=np.float64)
    px = np.stack([INTR.fx * joints[:, 0] / joints[:, 2] + INTR.cx, INTR.fy * joints[:, 1] / joints[:, 2] + INTR.cy], 1)
    return Subject(sid, joints.mean(0), joints, np.linspace(0.6, 0.95, 21), 0.82, joints_px=px if project else None,
                   handedness=handedness, handedness_score=0.91, pinch=0.25, grab=0.1)


def result(frame: int, subjects: list[Subject] | None = None) -> PoseResult:
    subjects = [subject(0)] if subjects is None else subjects
    return PoseResult(frame, 33.3 * frame, subjects, gestures=[], latency_ms={"model": 12.5, "total": 20.25})


def big_result(frame: int) -> PoseResult:
    """Eight hands: a record of about 12 KB, to fill socket buffers quickly."""
    return result(frame, [subject(i, (60.0 * i - 200, 0, 100)) for i in range(8)])


@pytest.fixture
def server():
    srv = WebSocketServer("127.0.0.1", 0)
    srv.begin(HEADER)
    try:
        yield srv
    finally:
        srv.close()


def ws_url(srv: WebSocketServer) -> str:
    return f"ws://127.0.0.1:{srv.port}/ws"


def wait_until(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def receive_frame(client, frame: int, timeout_s: float = 5.0) -> dict:
    """Read records until the one of `frame` (later writes may come first on a busy machine: then fail)."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = json.loads(client.recv(timeout=max(0.01, deadline - time.monotonic())))
        if record.get("frame") == frame:
            return record


def http_get(srv: WebSocketServer, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw_handshake(port: int, rcvbuf: int | None = None, path: str = "/ws") -> socket.socket:
    """A WebSocket client by hand: it reads the 101 response and then only what the test asks for."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        byte = sock.recv(1)                  # byte by byte: leave the frames after the headers in the socket
        assert byte, "connection closed during the handshake"
        response += byte
    assert response.split(b"\r\n", 1)[0].split()[1] == b"101", response
    return sock


def parse_frames(data: bytes) -> list[bytes]:
    """Server-to-client WebSocket frames (unmasked) -> the payloads of the text frames (not pings);
    an incomplete last frame is left out."""
    out, i = [], 0
    while i + 2 <= len(data):
        length, head = data[i + 1] & 0x7F, 2
        if length == 126:
            if i + 4 > len(data):
                break
            length, head = struct.unpack(">H", data[i + 2:i + 4])[0], 4
        elif length == 127:
            if i + 10 > len(data):
                break
            length, head = struct.unpack(">Q", data[i + 2:i + 10])[0], 10
        if i + head + length > len(data):
            break
        if data[i] & 0x0F == 1:
            out.append(data[i + head:i + head + length])
        i += head + length
    return out


# ---- the stream -----------------------------------------------------------------------------

def test_a_client_gets_the_header_then_the_records(server):
    with connect(ws_url(server)) as client:
        assert json.loads(client.recv(timeout=5)) == json.loads(json.dumps(HEADER))
        assert wait_until(lambda: server.clients == 1)
        for i in range(1, 4):
            res = result(i, [subject(3, handedness="left"), subject(7, (80, 0, 0))])
            server.write(FRAME, res)
            assert receive_frame(client, i) == json.loads(record_json(res))
    assert wait_until(lambda: server.clients == 0)


def test_write_without_clients_makes_no_json_and_close_is_idempotent(server):
    for i in range(100):
        server.write(FRAME, result(i))
    assert server.published == 0
    server.close()
    server.close()
    server.write(FRAME, result(100))        # after close: ignored, never raised


def test_a_client_that_never_reads_neither_blocks_write_nor_gets_a_backlog(server):
    """Eight-hand records (12 KB) at full speed to a client with a 4 KB receive buffer that reads nothing:
    every `write` returns at once, another client keeps up, and once the slow one reads it gets a few
    records ending with the newest, not the hundreds it missed."""
    frames = 300
    stuck = raw_handshake(server.port, rcvbuf=4096)
    try:
        with connect(ws_url(server), max_size=None) as healthy:
            healthy.recv(timeout=5)        # header
            assert wait_until(lambda: server.clients == 2)
            durations = []
            for i in range(1, frames + 1):
                t0 = time.perf_counter()
                server.write(FRAME, big_result(i))
                durations.append(time.perf_counter() - t0)
            # A write that waited for the stuck client would wait until the server drops it (a send to a client
            # is given 2 x ping_s, 20 s) or for ever (its buffers never drain): seconds. 1 s leaves room for a
            # busy machine (the other test worker) pausing this thread: one write took 291 ms under `pytest -n 2`.
            assert max(durations) < 1.0, f"a write took {max(durations) * 1e3:.0f} ms"
            assert sum(durations) < 5.0, f"{frames} writes took {sum(durations):.1f} s"
            assert receive_frame(healthy, frames, timeout_s=10)["frame"] == frames
        chunks = []
        stuck.settimeout(1.0)
        while True:                  # now read everything the server has for it, until a second of silence
            try:
                chunk = stuck.recv(1 << 20)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        stuck_records = [json.loads(p) for p in parse_frames(b"".join(chunks))]
    finally:
        stuck.close()
    frame_numbers = [r["frame"] for r in stuck_records if "frame" in r]
    assert frame_numbers and frame_numbers[-1] == frames, "the slow client never got the newest record"
    assert len(frame_numbers) < frames // 2, f"the slow client got a backlog: {len(frame_numbers)} records"
    print(f"the slow client got {len(frame_numbers)} of {frames} records")
    assert frame_numbers == sorted(frame_numbers)


def test_a_client_that_stopped_reading_is_dropped():
    srv = WebSocketServer("127.0.0.1", 0, ping_s=0.5)
    srv.begin(HEADER)
    stuck = raw_handshake(srv.port, rcvbuf=4096)
    try:
        assert wait_until(lambda: srv.clients == 1)
        for i in range(50):
            srv.write(FRAME, big_result(i))
        assert wait_until(lambda: srv.clients == 0, timeout_s=10), "a client that reads nothing stays forever"
        srv.write(FRAME, big_result(51))
    finally:
        stuck.close()
        srv.close()


# ---- who may connect ------------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1:{port}",
                                    "http://127.0.0.1.evil.example:{port}", "http://localhost:{port}.evil.example"])
def test_a_foreign_origin_is_refused_with_403(server, origin):
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server), origin=origin.format(port=server.port), open_timeout=5)
    assert info.value.response.status_code == 403
    assert server.clients == 0


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}", "http://LOCALHOST:{port}", None])
def test_the_page_origin_and_programs_without_origin_may_connect(server, origin):
    with connect(ws_url(server), origin=None if origin is None else origin.format(port=server.port)) as client:
        assert json.loads(client.recv(timeout=5))["schema"] == HEADER["schema"]


def test_only_the_page_files_are_served(server):
    for path in PAGE_FILES:
        status, headers, body = http_get(server, path)
        assert status == 200 and body, path
        assert headers["X-Content-Type-Options"] == "nosniff" and "default-src 'none'" in headers["Content-Security-Policy"]
    assert http_get(server, "/")[2] == http_get(server, "/index.html")[2]
    assert http_get(server, "/app.js")[1]["Content-Type"].startswith("text/javascript")
    assert http_get(server, "/index.html?x=1")[0] == 200
    for path in ["/../../etc/passwd", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd",
                 "/etc/passwd", "/web/index.html", "/websocket.py", "/../websocket.py", "/app.js/..", "/APP.JS",
                 "/index.html/", "/ws", "/.git/config", "/" + "a" * 5000]:
        status, _, body = http_get(server, path)
        assert status in (404, 414, 400), path
        assert b"root:" not in body and b"import" not in body
    assert server.clients == 0


def test_websocket_on_another_path_is_404(server):
    with pytest.raises(InvalidStatus) as info:
        connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5)
    assert info.value.response.status_code == 404


def test_too_many_clients_are_refused_with_503():
    srv = WebSocketServer("127.0.0.1", 0, max_clients=2)
    srv.begin(HEADER)
    try:
        with connect(f"ws://127.0.0.1:{srv.port}/ws"), connect(f"ws://127.0.0.1:{srv.port}/ws"):
            assert wait_until(lambda: srv.clients == 2)
            with pytest.raises(InvalidStatus) as info:
                connect(f"ws://127.0.0.1:{srv.port}/ws", open_timeout=5)
            assert info.value.response.status_code == 503
        assert wait_until(lambda: srv.clients == 0)
        with connect(f"ws://127.0.0.1:{srv.port}/ws") as again:
            assert json.loads(again.recv(timeout=5))["schema"]
    finally:
        srv.close()


# ---- what clients send ----------------------------------------------------------------------

def test_an_oversized_message_closes_only_its_sender(server):
    with connect(ws_url(server)) as hostile, connect(ws_url(server)) as viewer:
        hostile.recv(timeout=5)
        viewer.recv(timeout=5)
        assert wait_until(lambda: server.clients == 2)
        hostile.send("x" * 100_000)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                hostile.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        server.write(FRAME, result(5))
        assert receive_frame(viewer, 5)["frame"] == 5


def test_small_messages_are_ignored_and_a_flood_is_closed(server):
    with connect(ws_url(server)) as chatty, connect(ws_url(server)) as viewer:
        chatty.recv(timeout=5)
        viewer.recv(timeout=5)
        assert wait_until(lambda: server.clients == 2)
        chatty.send('{"command": "shutdown"}')
        chatty.send(b"\x00\xff binary")
        server.write(FRAME, result(1))
        assert receive_frame(chatty, 1)["frame"] == 1                 # ignored: still streaming
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(200):
                chatty.send("ping?")
                time.sleep(0.001)
            while True:
                chatty.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008
        server.write(FRAME, result(2))
        assert receive_frame(viewer, 2)["frame"] == 2


def test_garbage_bytes_do_not_touch_the_server(server):
    with connect(ws_url(server)) as viewer:
        viewer.recv(timeout=5)
        for payload in [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),    # a TLS hello
                        b"GARBAGE\r\n\r\n", b"POST /ws HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(4096)]:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
                try:
                    while sock.recv(4096):
                        pass
                except OSError:
                    pass
        sock = raw_handshake(server.port)                 # then a frame a client may not send: unmasked
        try:
            sock.sendall(b"\x81\x05hello")
        finally:
            sock.close()
        server.write(FRAME, result(9))
        assert receive_frame(viewer, 9)["frame"] == 9
    assert server.errors == 0


# ---- addresses and start-up -----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [("8765", ("127.0.0.1", 8765)), ("0.0.0.0:9000", ("0.0.0.0", 9000)),
                                            ("localhost:80", ("localhost", 80)), ("[::1]:9001", ("::1", 9001))])
def test_ws_addresses(text, expected):
    assert parse_ws_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "70000", "0", "host:", ":9000", "::1:9000", "127.0.0.1:http"])
def test_bad_ws_addresses_are_one_line(text):
    with pytest.raises(UserError, match="bad WebSocket address"):
        parse_ws_address(text)


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UserError, match=r"cannot serve WebSocket on 127\.0\.0\.1:\d+: the port is in use"):
            WebSocketServer("127.0.0.1", taken.getsockname()[1])


def test_the_loopback_default_and_its_origins():
    srv = WebSocketServer("127.0.0.1", 0)
    try:
        assert srv.url == f"http://127.0.0.1:{srv.port}/"
        assert srv.origins == {f"http://{h}:{srv.port}" for h in ("127.0.0.1", "localhost", "[::1]")}
        assert "ws://127.0.0.1" in srv.announce()
    finally:
        srv.close()


# ---- in a real browser ----------------------------------------------------------------------

NO_BROWSER = "no Chromium/Chrome installed (Debian: apt-get install chromium; .ci/setup.sh does it)"


@pytest.fixture
def browser_path() -> str:
    """The browser. Without one the test is skipped, except in CI, where .ci/setup.sh installs one."""
    path = find_browser()
    if path is None:
        could_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
        if os.environ.get("CI") and could_install:     # .ci/setup.sh should have installed it: say so loudly
            pytest.fail(NO_BROWSER)
        pytest.skip(NO_BROWSER)
    return path


class Feeder(threading.Thread):
    """Writes animated hand-made results at about 30 fps until stopped, like the pipeline."""

    def __init__(self, srv: WebSocketServer) -> None:
        super().__init__(daemon=True)
        self.srv, self.stop, self.frame = srv, threading.Event(), 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.frame += 1
            t = self.frame / 30
            left = subject(1, (-110 + 10 * np.sin(t), 10, 30), handedness="left")
            left.joints_mm[:, 0] = 2 * left.centre_mm[0] - left.joints_mm[:, 0]     # a mirrored, left hand
            left.joints_px = None                                                   # drawn from joints_mm + intrinsics
            right = subject(2, (90, 5 * np.cos(t), 0))
            self.srv.write(FRAME, result(self.frame, [right, left]))
            time.sleep(1 / 30)


@pytest.mark.slow
def test_the_page_draws_the_stream_in_a_headless_browser(server, tmp_path, browser_path):
    feeder = Feeder(server)
    feeder.start()
    try:
        with HeadlessBrowser(browser_path) as browser:
            browser.goto(server.url)
            frame = browser.wait_for("Number(document.body.dataset.frame) > 0 && document.body.dataset.frame", 30)
            assert frame and int(frame) > 0, "the page shows no frame"
            assert browser.wait_for("Number(document.body.dataset.frame) > " + frame, 10), "the page stopped at one frame"
            assert browser.evaluate("document.body.dataset.state") == "open"
            assert browser.evaluate("document.body.dataset.subjects") == "2"
            text = browser.evaluate("document.body.innerText")
            assert "hand 2 · right" in text and "hand 1 · left" in text and "v2v-lite-hand.onnx" in text
            assert int(browser.evaluate("document.getElementById('frame').textContent")) > 0
            shot = browser.screenshot(tmp_path / "page.png")
            assert browser.console_errors == [], browser.console_errors
    finally:
        feeder.stop.set()
        feeder.join()
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and image.shape[0] > 300
    # the skeletons are drawn in their ids' colours (#ffb74d for id 1, #81c784 for id 2; BGR here)
    for bgr in ((0x4D, 0xB7, 0xFF), (0x84, 0xC7, 0x81)):
        close = np.all(np.abs(image.astype(int) - np.array(bgr)) < 12, axis=-1)
        assert close.sum() > 300, f"too few pixels of colour {bgr}: {close.sum()}"


def test_a_page_of_another_origin_cannot_open_the_stream(server, tmp_path, browser_path):
    """A real cross-site WebSocket hijacking attempt: a page served from another port connects to the stream."""
    import http.server

    page = (f"<script>const ws = new WebSocket('ws://127.0.0.1:{server.port}/ws');"
            "ws.onmessage = () => document.title = 'LEAKED'; ws.onclose = () => document.title = 'closed';</script>")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    feeder = Feeder(server)
    feeder.start()
    try:
        before = server.rejected
        with HeadlessBrowser(browser_path) as browser:
            browser.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
            assert browser.wait_for("document.title === 'closed' || document.title === 'LEAKED'", 20)
            assert browser.evaluate("document.title") == "closed"
        assert server.rejected > before
    finally:
        feeder.stop.set()
        feeder.join()
        evil.shutdown()
        evil.server_close()


# ---- as a user types it -----------------------------------------------------------------------

@pytest.mark.slow
def test_cli_bad_ws_address_and_port_in_use_are_one_line():
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--frames", "3",
                               "--viewer", "none", *args], capture_output=True, text=True, timeout=300)

    bad = run("--ws", "localhost:99999")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: bad WebSocket address")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run("--ws", str(port))
    assert busy.returncode == 2, busy.stderr[-2000:]
    assert busy.stderr.strip().splitlines()[-1] == f"error: cannot serve WebSocket on 127.0.0.1:{port}: the port is in use"
    assert "Traceback" not in busy.stderr
