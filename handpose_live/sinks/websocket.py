"""A WebSocket server streaming the JSON records, and the page that draws them in a browser.

`handpose-live run --ws 8765` serves on one port the page (http://127.0.0.1:8765/, the files of
`handpose_live/web/`) and the stream (ws://127.0.0.1:8765/ws): the stream header first, then the
newest frame record (the JSON of `--udp` and `--output`). Never in the pipeline's way: the server
runs on a thread with its own asyncio loop and `write` only stores the newest record; a slow client
gets the newest record when it is ready, never a backlog, and one that stops reading is dropped
(`PING_S`). Nobody gets in where they should not: loopback unless a host is named, the stream only
from the page's own origin (no cross-site hijacking or DNS rebinding), a fixed list of files, bounded
clients and messages (`MAX_CLIENTS`, `MAX_MESSAGE`, `MAX_MESSAGES_PER_S`), and errors logged, never
raised into the pipeline. Each rule in full: docs/design-notes.md, `sinks/websocket.py`.
"""
from __future__ import annotations

import asyncio
import errno
import http
import ipaddress
import json
import logging
import socket
import threading
import time
from pathlib import Path

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from .base import Sink
from .files import record_json
from .udp import LOOPBACK, parse_server_address

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
PAGE_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/style.css": "style.css"}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
STREAM_PATH = "/ws"
DEFAULT_HOST = LOOPBACK
DEFAULT_PORT = 8765
MAX_CLIENTS = 8
MAX_MESSAGE = 4096            # bytes a client may send in one message
MAX_MESSAGES_PER_S = 20       # messages a client may send per second (it has no reason to send any)
SEND_BUFFER = 64 * 1024       # kernel send buffer per client (bytes): bounds how stale a slow client's records get
PING_S = 10.0                 # keepalive: a client that does not answer a ping within this is closed
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())      # hostile clients must not print into the status line


def parse_ws_address(address: str) -> tuple[str, int]:
    """`--ws`: 'port' or 'host:port' -> (host, port), 127.0.0.1 unless a host is named."""
    return parse_server_address(address, "WebSocket")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _origin_names(host: str) -> set[str]:
    """The host names a browser may show in the page's origin when the server listens on `host`."""
    names = {n.lower() for n in LOOPBACK_NAMES}
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = host == ""
    if wildcard:      # every interface: this machine's names and addresses
        for name in {socket.gethostname(), socket.getfqdn()}:
            names.add(name.lower())
            try:
                names.update(_url_host(info[4][0]).lower() for info in socket.getaddrinfo(name, None))
            except (OSError, UnicodeError):
                pass
    elif host:
        names.add(_url_host(host).lower())
    return names


class WebSocketServer(Sink):
    """Serves the page and streams records; see the module docstring. `url` is the page's address."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, max_clients: int = MAX_CLIENTS,
                 max_message: int = MAX_MESSAGE, ping_s: float = PING_S) -> None:
        self.host, self.max_clients, self.max_message, self.ping_s = host, int(max_clients), int(max_message), ping_s
        self.files = {path: ((WEB_DIR / name).read_bytes(), CONTENT_TYPES[Path(name).suffix])
                      for path, name in PAGE_FILES.items()}
        self.published = 0        # records handed over by `write`
        self.rejected = 0         # handshakes refused (origin, path, too many clients)
        self.errors = 0           # failures inside the server thread (logged, never raised)
        self._header: str | None = None
        self._latest: str | None = None
        self._lock = threading.Lock()
        self._wake_pending = False
        self._clients: set = set()
        self._server = None
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(host, int(port)), name="websocket-server", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join(timeout=5)
            self._loop.close()
            exc = self._start_error
            why = "the port is in use" if getattr(exc, "errno", None) == errno.EADDRINUSE else str(exc)
            raise UserError(f"cannot serve WebSocket on {_url_host(host)}:{port}: {why}") from None

    @classmethod
    def from_address(cls, address: str) -> WebSocketServer:
        host, port = parse_ws_address(address)
        return cls(host, port)

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{_url_host(shown)}:{self.port}/"

    def announce(self) -> str:
        return f"WebSocket: page {self.url}  stream ws://{self.url[len('http://'):]}{STREAM_PATH[1:]}"

    @property
    def clients(self) -> int:
        return len(self._clients)

    # ---- the pipeline's side ----------------------------------------------------------------

    def begin(self, header: dict) -> None:
        try:
            self._header = json.dumps(header, allow_nan=False)
        except ValueError:
            self._header = json.dumps(header)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        """Hand the newest record over and return: never waits for a client or the server."""
        if self._closed or not self._clients:
            self._latest = None          # nobody to send to: no JSON to make; a new client waits for the next frame
            return
        try:
            text = record_json(result)
            with self._lock:
                self._latest = text
                wake = not self._wake_pending
                self._wake_pending = True
            if wake:
                self._loop.call_soon_threadsafe(self._wake_clients)
            self.published += 1
        except Exception:                # a closed loop, an unserialisable value: counted, never raised
            self.errors += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            try:
                future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
                future.result(timeout=5)
            except Exception:
                self.errors += 1
            self._thread.join(timeout=5)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    # ---- the server thread ------------------------------------------------------------------

    def _run(self, host: str, port: int) -> None:
        from websockets.asyncio.server import serve

        asyncio.set_event_loop(self._loop)
        try:
            async def start():
                return await serve(
                    self._handler, host or None, port, process_request=self._process_request, compression=None,
                    max_size=self.max_message, max_queue=4, open_timeout=5, ping_interval=self.ping_s,
                    ping_timeout=self.ping_s, close_timeout=2, server_header=None, logger=log)

            self._server = self._loop.run_until_complete(start())
            self.port = int(self._server.sockets[0].getsockname()[1])
            names = _origin_names(host)       # set before the loop runs, so before any request is handled
            self.origins = {f"http://{name}:{self.port}" for name in names} | \
                           ({f"http://{name}" for name in names} if self.port == 80 else set())
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(self._loop)
                for task in pending:
                    task.cancel()
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            except Exception:
                self.errors += 1

    async def _shutdown(self) -> None:
        try:
            if self._server is not None:
                self._server.close()
                await asyncio.wait_for(self._server.wait_closed(), timeout=3)
        except Exception:
            self.errors += 1
        finally:
            self._loop.call_soon(self._loop.stop)

    def _wake_clients(self) -> None:
        with self._lock:
            self._wake_pending = False
        for client in self._clients:
            client.wake.set()

    def _process_request(self, connection, request):
        """HTTP before the WebSocket handshake: the page's files, or checks on who may open the stream."""
        path = request.path.split("?", 1)[0]
        upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        if not upgrade:
            if path not in self.files:
                return self._reject(connection, http.HTTPStatus.NOT_FOUND, "Not found\n")
            return self._file_response(connection, path)
        if path != STREAM_PATH:
            return self._reject(connection, http.HTTPStatus.NOT_FOUND, "Not found\n")
        origins = request.headers.get_all("Origin")
        if len(origins) > 1 or (origins and origins[0].lower() not in self.origins):
            return self._reject(connection, http.HTTPStatus.FORBIDDEN, "Origin not allowed\n")
        if len(self._clients) >= self.max_clients:
            return self._reject(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "Too many clients\n")
        return None

    def _reject(self, connection, status, text: str):
        self.rejected += 1
        return connection.respond(status, text)

    def _file_response(self, connection, path: str):
        body, content_type = self.files[path]
        response = connection.respond(http.HTTPStatus.OK, "")
        response.body = body
        headers = response.headers
        del headers["Content-Type"]
        del headers["Content-Length"]
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        headers["Cache-Control"] = "no-store"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Content-Security-Policy"] = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
        return response

    async def _handler(self, websocket) -> None:
        if len(self._clients) >= self.max_clients:        # handshakes that raced past the check in _process_request
            self.rejected += 1
            await websocket.close(1013, "too many clients")
            return
        sock = websocket.transport.get_extra_info("socket")
        if sock is not None:       # a small kernel buffer: what a slow client has not read yet is a few records old
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            except OSError:
                pass
        client = _Client(websocket)
        self._clients.add(client)
        tasks = [asyncio.ensure_future(self._send_loop(client)), asyncio.ensure_future(self._read_loop(client))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._clients.discard(client)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_loop(self, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            if self._header is not None:
                await client.websocket.send(self._header)
            while True:
                await client.wake.wait()
                client.wake.clear()
                text = self._latest
                if text is not None and text is not client.last:
                    client.last = text
                    try:                                   # waits only while this client's buffers are full
                        await asyncio.wait_for(client.websocket.send(text), timeout=2 * self.ping_s)
                    except asyncio.TimeoutError:           # it stopped reading (a ping would wait behind the same buffer)
                        client.websocket.transport.abort()
                        return
        except ConnectionClosed:
            pass
        except Exception:
            self.errors += 1
            log.debug("sending to a client failed", exc_info=True)

    async def _read_loop(self, client: _Client) -> None:
        """Read what a client sends and ignore it; close it when it floods (oversize messages close it by max_size)."""
        from websockets.exceptions import ConnectionClosed

        window_start, count = time.monotonic(), 0
        try:
            async for _ in client.websocket:
                now = time.monotonic()
                if now - window_start > 1.0:
                    window_start, count = now, 0
                count += 1
                if count > MAX_MESSAGES_PER_S:
                    await client.websocket.close(1008, "clients send nothing")
                    return
        except ConnectionClosed:
            pass
        except Exception:
            self.errors += 1
            log.debug("reading from a client failed", exc_info=True)


class _Client:
    def __init__(self, websocket) -> None:
        self.websocket = websocket
        self.wake = asyncio.Event()
        self.wake.set()              # send the newest record straight after the header
        self.last: str | None = None
