"""Stream each frame as OSC (Open Sound Control) over UDP: TouchDesigner, Max/MSP, Pure Data, Unity, Unreal.

`handpose-live run --osc 127.0.0.1:9000`. A frame's messages travel in one OSC bundle whose time
tag is the wall-clock time of sending; a frame too big for one datagram of `MAX_DATAGRAM` bytes
(about four hands) is split at message boundaries into several bundles with the same time tag,
`/frame` always in the first. `<s>` is `hand` (`--target hand`) or `person` (`--target body`),
`<id>` the subject's tracking id, `<name>` a joint name of the model's skeleton (`wrist`,
`thumb_tip`, `index_tip`, ... for hands). Only OSC 1.0 types: i int32, f float32, s string.

| address | arguments |
| --- | --- |
| `/frame` | frame i, timestamp_ms f (since the stream's first frame), count i (subjects in this frame) |
| `/<s>/<id>/joint/<name>` | x f, y f, z f (mm, camera space: x right, y down, z forward) |
| `/<s>/<id>/joints` | x0 y0 z0 x1 y1 z1 ... (3 J floats, the joints in skeleton order) |
| `/<s>/<id>/confidence` | J floats (heatmap peaks, 0..1) |
| `/<s>/<id>/centre` | x f, y f, z f (mm, the centre of the cube the model saw) |
| `/<s>/<id>/score` | score f (detection score) |
| `/<s>/<id>/handedness` | "left" or "right" s, score f (hands; 0 when unknown) |
| `/<s>/<id>/pinch`, `/<s>/<id>/grab` | strength f, 0..1 (hands, when the pipeline reports them) |
| `/<s>/<id>/gesture` | type s, e.g. "pinch_start", "pinch_end" |
| `/<s>/lost` | id i: the subject of this id is gone (sent once, in the first frame without it) |
| `/skeleton/joints` | the joint names, in order (at the start and every `HEADER_EVERY_S` seconds) |
| `/skeleton/bones` | pairs of joint indices a0 b0 a1 b1 ... i (same schedule) |

`timestamp_ms` counts from the stream's first frame because a float32 holds a millisecond clock
exactly for 4.6 hours only; the source's own clock is in the JSON record (`--udp`, `--ws`). A
receiver that honours time tags (python-osc with `strict_timing`) needs its clock in step with
this machine's (NTP), or it holds bundles back by the difference.

Like `--udp`, OSC is fire-and-forget: the socket never blocks, and a receiver that is missing or
slow costs nothing but the datagrams, which are counted (`dropped`), never raised.
"""
from __future__ import annotations

import socket
import time

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from .base import Sink
from .udp import parse_host_port

MAX_DATAGRAM = 8192      # bytes of one bundle: fits every OSC receiver's buffer we know, and 4 hands of 21 joints
HEADER_EVERY_S = 5.0     # how often /skeleton/joints and /skeleton/bones are repeated for receivers that start late
_BUNDLE_OVERHEAD = 16    # "#bundle\0" + the 8-byte time tag


def _message(address: str, *args) -> bytes:
    """One OSC message: ints as int32 'i', floats as float32 'f', strings as 's'."""
    builder = OscMessageBuilder(address=address)
    for value in args:
        if isinstance(value, str):
            builder.add_arg(value, OscMessageBuilder.ARG_TYPE_STRING)
        elif isinstance(value, (bool, int)):
            builder.add_arg(int(value), OscMessageBuilder.ARG_TYPE_INT)
        else:
            builder.add_arg(float("nan") if value is None else float(value), OscMessageBuilder.ARG_TYPE_FLOAT)
    return builder.build().dgram


def _address_word(name: str) -> str:
    """A joint name as an OSC address part: no spaces or pattern characters (`*?,/[]{}#`)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in str(name)) or "_"


class OscSender(Sink):
    """Sends every frame as OSC bundles to one UDP address (see the module docstring for the addresses)."""

    def __init__(self, address: str, max_datagram: int = MAX_DATAGRAM) -> None:
        host, port = parse_host_port(address, what="OSC")
        try:
            family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise UserError(f"bad OSC address '{address}': cannot resolve host '{host}' ({exc})") from None
        self.address = sockaddr
        self.max_datagram = int(max_datagram)
        self.sent = 0            # datagrams sent
        self.dropped = 0         # datagrams the OS refused (no receiver, buffer full): counted, never raised
        self.subject: str | None = None     # "hand" | "person", from the header (else from the record)
        self.joint_names: list[str] = []
        self.bones: list[list[int]] = []
        self._seen: set[int] = set()
        self._t0_ms: float | None = None
        self._header_sent_s: float | None = None
        self._sock = socket.socket(family, kind, proto)
        self._sock.setblocking(False)

    def begin(self, header: dict) -> None:
        self.subject = "person" if header.get("subjects_key") == "people" or header.get("target") == "body" else "hand"
        self.joint_names = [_address_word(n) for n in header.get("joint_names") or []]
        self.bones = [list(b) for b in header.get("bones") or []]
        self._send_header()

    # ---- building -------------------------------------------------------------------------

    def messages(self, result: PoseResult) -> list[bytes]:
        """This frame's OSC messages, `/frame` first, in the order they are sent."""
        record = result.to_record()
        subjects = record.get(result.subjects_key) or []
        if self._t0_ms is None:
            self._t0_ms = float(record["timestamp_ms"])
        if not self.joint_names and subjects:       # no header: name joints by index
            self.joint_names = [str(j) for j in range(len(subjects[0]["joints_mm"]))]
        s = self.subject or ("person" if result.subjects_key == "people" else "hand")
        out = [_message("/frame", record["frame"], float(record["timestamp_ms"]) - self._t0_ms, len(subjects))]
        ids = set()
        for subj in subjects:
            sid = int(subj["id"])
            ids.add(sid)
            base = f"/{s}/{sid}"
            joints = subj.get("joints_mm") or []
            for j, xyz in enumerate(joints):
                name = self.joint_names[j] if j < len(self.joint_names) else str(j)
                out.append(_message(f"{base}/joint/{name}", *xyz))
            out.append(_message(f"{base}/joints", *(v for xyz in joints for v in xyz)))
            if subj.get("confidence") is not None:
                out.append(_message(f"{base}/confidence", *subj["confidence"]))
            if subj.get("centre_mm") is not None:
                out.append(_message(f"{base}/centre", *subj["centre_mm"]))
            out.append(_message(f"{base}/score", float(subj.get("score") or 0.0)))
            if subj.get("handedness") is not None:
                out.append(_message(f"{base}/handedness", str(subj["handedness"]),
                                    float(subj.get("handedness_score") or 0.0)))
            for key in ("pinch", "grab"):
                if subj.get(key) is not None:
                    out.append(_message(f"{base}/{key}", float(subj[key])))
        for event in record.get("gestures") or []:
            if "id" in event and "type" in event:
                out.append(_message(f"/{s}/{int(event['id'])}/gesture", str(event["type"])))
        for sid in sorted(self._seen - ids):
            out.append(_message(f"/{s}/lost", sid))
        self._seen = ids
        return out

    def bundles(self, messages: list[bytes], timestamp_s: float | None = None) -> list[bytes]:
        """Pack messages into as few bundles of at most `max_datagram` bytes as their order allows."""
        when = time.time() if timestamp_s is None else timestamp_s
        out, group, size = [], [], _BUNDLE_OVERHEAD
        for msg in messages:
            if group and size + 4 + len(msg) > self.max_datagram:
                out.append(self._bundle(group, when))
                group, size = [], _BUNDLE_OVERHEAD
            group.append(msg)
            size += 4 + len(msg)
        if group:
            out.append(self._bundle(group, when))
        return out

    @staticmethod
    def _bundle(messages: list[bytes], when: float) -> bytes:
        from pythonosc.osc_message import OscMessage

        builder = OscBundleBuilder(when)
        for msg in messages:
            builder.add_content(OscMessage(msg))
        return builder.build().dgram

    # ---- sending --------------------------------------------------------------------------

    def _send(self, datagram: bytes) -> None:
        try:
            self._sock.sendto(datagram, self.address)
            self.sent += 1
        except OSError:
            self.dropped += 1   # no receiver, a full buffer, a too big datagram: never stops the pipeline

    def _send_header(self) -> None:
        self._header_sent_s = time.monotonic()
        if not self.joint_names:
            return
        messages = [_message("/skeleton/joints", *self.joint_names)]
        if self.bones:
            messages.append(_message("/skeleton/bones", *(int(i) for b in self.bones for i in b)))
        for datagram in self.bundles(messages):
            self._send(datagram)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        try:
            if self._header_sent_s is not None and time.monotonic() - self._header_sent_s > HEADER_EVERY_S:
                self._send_header()
            datagrams = self.bundles(self.messages(result))
        except Exception:        # a value OSC cannot carry must not stop the pipeline either
            self.dropped += 1
            return
        for datagram in datagrams:
            self._send(datagram)

    def close(self) -> None:
        self._sock.close()
