"""Stream each frame as OSC (Open Sound Control) over UDP: TouchDesigner, Max/MSP, Pure Data, Unity, Unreal.

`handpose-live run --osc 127.0.0.1:9000`. A frame's messages travel in one OSC bundle time-tagged
with the wall clock at sending, split at message boundaries into bundles with the same tag when over
`MAX_DATAGRAM` bytes (`/frame` always first); only OSC 1.0 types (i int32, f float32, s string).
Addresses (`<s>`: `hand` or `person`; `<id>`: tracking id; `<name>`: a joint of the skeleton):
`/frame`, `/<s>/<id>/joint/<name>`, `/<s>/<id>/joints`, `/<s>/<id>/confidence`, `/<s>/<id>/centre`,
`/<s>/<id>/score`, `/<s>/<id>/handedness`, `/<s>/<id>/pinch`, `/<s>/<id>/grab`, `/<s>/<id>/gesture`,
`/<s>/<id>/visible` (J ints, 1 seen, 0 hidden: inference/visibility.py), `/<s>/lost`, and
`/skeleton/joints` and `/skeleton/bones` at the start and every `HEADER_EVERY_S`.
A gesture event (`gestures.py`) is `/<s>/<id>/gesture` with its type (`pinch_start`, `swipe_left`, `tap`,
...), and for `gesture_start` / `gesture_end` the gesture's name after it (`fist`, `open_palm`, ...).
With the skeleton fit (the shipped hand and body): `/<s>/<id>/orientation/<name>` (w x y z, camera
space), `/<s>/<id>/orientations` and `/<s>/<id>/local_orientations` (all joints, w x y z each),
`/<s>/<id>/bones` (bone lengths mm, in `/skeleton/bones` order), `/<s>/<id>/velocity` (mm/s) and, for
hands, `/<s>/<id>/palm` (position x y z mm, normal x y z, direction x y z, width mm).
Their arguments: README.md, "Outputs: OSC and WebSocket"; in full, with why `timestamp_ms` counts
from the first frame: docs/design-notes.md, `sinks/osc.py`. Fire-and-forget like `--udp`: the
socket never blocks, and datagrams a missing or slow receiver loses are counted (`dropped`), never raised.
"""
from __future__ import annotations

import socket
import time

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from ..errors import UserError
from ..targets import TARGETS, target_for_key
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


def _noun(record_key: str | None) -> str:
    """The noun of the target whose records use `record_key` (a header without `noun`: older streams)."""
    return (target_for_key(record_key) or TARGETS["hand"]).noun


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
        self.subject: str | None = None     # the subjects' noun (hand, person): the header's, else the record key's
        self.joint_names: list[str] = []
        self.bones: list[list[int]] = []
        self._seen: set[int] = set()
        self._t0_ms: float | None = None
        self._header_sent_s: float | None = None
        self._sock = socket.socket(family, kind, proto)
        self._sock.setblocking(False)

    def begin(self, header: dict) -> None:
        self.subject = header.get("noun") or _noun(header.get("subjects_key"))
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
        s = self.subject or _noun(result.subjects_key)
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
            if subj.get("visible") is not None:
                out.append(_message(f"{base}/visible", *(int(bool(v)) for v in subj["visible"])))
            if subj.get("centre_mm") is not None:
                out.append(_message(f"{base}/centre", *subj["centre_mm"]))
            out.append(_message(f"{base}/score", float(subj.get("score") or 0.0)))
            if subj.get("handedness") is not None:
                out.append(_message(f"{base}/handedness", str(subj["handedness"]),
                                    float(subj.get("handedness_score") or 0.0)))
            for key in ("pinch", "grab"):
                if subj.get(key) is not None:
                    out.append(_message(f"{base}/{key}", float(subj[key])))
            out += self._motion(base, subj)
        for event in record.get("gestures") or []:
            if "id" in event and "type" in event:
                named = [str(event["gesture"])] if event["type"] in ("gesture_start", "gesture_end") else []
                out.append(_message(f"/{s}/{int(event['id'])}/gesture", str(event["type"]), *named))
        for sid in sorted(self._seen - ids):
            out.append(_message(f"/{s}/lost", sid))
        self._seen = ids
        return out

    def _motion(self, base: str, subj: dict) -> list[bytes]:
        """A subject's orientations, bone lengths, velocity and palm (skeletons with kinematics)."""
        out = []
        orientations = subj.get("orientations")
        if orientations:
            for j, q in enumerate(orientations):
                name = self.joint_names[j] if j < len(self.joint_names) else str(j)
                out.append(_message(f"{base}/orientation/{name}", *q))
            out.append(_message(f"{base}/orientations", *(v for q in orientations for v in q)))
            out.append(_message(f"{base}/local_orientations", *(v for q in subj["local_orientations"] for v in q)))
        if subj.get("bone_lengths_mm"):
            out.append(_message(f"{base}/bones", *subj["bone_lengths_mm"]))
        if subj.get("velocity_mm_s") is not None:
            out.append(_message(f"{base}/velocity", *subj["velocity_mm_s"]))
        palm = subj.get("palm")
        if palm is not None:
            out.append(_message(f"{base}/palm", *palm["position_mm"], *palm["normal"], *palm["direction"],
                                palm["width_mm"]))
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
