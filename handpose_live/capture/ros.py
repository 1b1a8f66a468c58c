"""ROS recordings as a depth source: `rosbag record` (ROS 1 `.bag`) and `ros2 bag record` (a folder with
metadata.yaml, or its `.db3` / `.mcap` file alone), read with `rosbags`: no ROS installation needed.

What realsense-ros, the Azure Kinect and Orbbec ROS drivers publish: `sensor_msgs/Image` depth in 16UC1
(or mono16) millimetres or 32FC1 metres, or `sensor_msgs/CompressedImage` from compressed_depth_image_transport
(`<topic>/compressedDepth`: a 12-byte header, then a 16-bit PNG; 32FC1 is quantised inverse depth). The depth
topic is found by message type and encoding (the first message of each image topic is looked at), the
intrinsics come from the `sensor_msgs/CameraInfo` beside it, timestamps from the message headers.
librealsense's own `.bag`/`.db3` files are ROS bags too, but laid out for librealsense (`/file_version`,
`/device_0/...`): `is_ros_recording` tells them apart so that they keep going to pyrealsense2.
"""
from __future__ import annotations

import sqlite3
import struct
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UserError
from ..types import DepthFrame, Intrinsics
from .base import RecordingSource

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
RAW_ENCODINGS = {"16uc1": ("<u2", 1.0), "mono16": ("<u2", 1.0), "32fc1": ("<f4", 1000.0)}   # dtype, mm per unit
ROS2_SUFFIXES = (".db3", ".mcap")
LIBREALSENSE_TOPICS = ("/file_version",)
LIBREALSENSE_PREFIX = "/device_0/"


def _is_bag_folder(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.yaml").is_file()


def is_ros_recording(path: str | Path) -> bool:
    """Whether `path` is a ROS recording this module reads rather than a librealsense recording.

    A ROS 2 bag folder (metadata.yaml) and an `.mcap` file are ROS recordings. A `.bag` or `.db3` is one unless
    it carries librealsense's layout (`/file_version`, `/device_0/...` topics), or cannot be opened at all:
    then it stays with pyrealsense2, which reads librealsense files and reports broken ones as today.
    Only the file's index (ROS 1) or topic table (ROS 2) is read, never a message.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".mcap" or _is_bag_folder(path):
            return True
        if suffix not in (".bag", ".db3") or not path.is_file():
            return False
        topics = _db3_topics(path) if suffix == ".db3" else _bag_topics(path)
    except Exception:                # unreadable here: librealsense has its own say
        return False
    return bool(topics) and not any(t in LIBREALSENSE_TOPICS or t.startswith(LIBREALSENSE_PREFIX) for t in topics)


def _bag_topics(path: Path) -> set[str]:
    from rosbags.rosbag1 import Reader

    with Reader(path) as reader:
        return {c.topic for c in reader.connections}


def _db3_topics(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT name FROM topics")}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _repair_hint(path: Path, exc: BaseException) -> str:
    """How to repair what an interrupted recorder leaves: a ROS 1 bag without its index, an MCAP without its end."""
    text = str(exc).lower()
    if path.suffix.lower() == ".bag" and "index" in text:
        return f"; if the recording was cut short, `rosbag reindex {path.name}` restores its index"
    if path.suffix.lower() == ".mcap" and "magic" in text:
        return f"; if the recording was cut short, `mcap recover {path.name} -o fixed.mcap` restores it"
    return ""


def decode_compressed_depth(fmt: str, data: bytes) -> tuple[np.ndarray, float]:
    """A CompressedImage of depth -> (array, mm per unit); raises ValueError when it is not depth.

    `compressedDepth` (compressed_depth_image_transport): a ConfigHeader (int32 format, float32 A, B), then a
    16-bit grey PNG; 16UC1 is millimetres, 32FC1 the quantised inverse depth q with d = A / (q - B) metres
    (q = 0: none). A plain `16UC1; png compressed` (compressed_image_transport on a depth topic) is the PNG alone.
    """
    import cv2

    encoding, _, rest = fmt.partition(";")
    encoding = encoding.strip().lower()
    if "compresseddepth" in rest.lower():
        if "rvl" in rest.lower():
            raise ValueError("compressedDepth rvl is not supported (record the raw topic or the png format)")
        if len(data) <= 12:
            raise ValueError("compressedDepth message shorter than its 12-byte header")
        _, a, b = struct.unpack_from("<iff", data)
        payload = data[12:]
    elif encoding in ("16uc1", "mono16") and "png" in rest.lower():
        a = b = 0.0
        payload = data
    else:
        raise ValueError(f"not a depth image (format '{fmt}')")
    image = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED) if payload else None
    if image is None or image.ndim != 2 or image.dtype != np.uint16:
        raise ValueError("its PNG is not a readable 16-bit single-channel image")
    if encoding == "32fc1":
        q = image.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            metres = np.where(image == 0, 0.0, np.float32(a) / (q - np.float32(b)))
        return metres.astype(np.float32), 1000.0
    return image, 1.0


def _compressed_is_depth(fmt: str) -> bool:
    encoding, _, rest = fmt.partition(";")
    rest = rest.lower()
    return "compresseddepth" in rest or (encoding.strip().lower() in ("16uc1", "mono16") and "png" in rest)


def _depth_mm(msg, msgtype: str) -> np.ndarray:
    """Float32 millimetres (0 = no measurement) of one Image or CompressedImage message."""
    if msgtype == COMPRESSED:
        array, mm_per_unit = decode_compressed_depth(str(msg.format), bytes(msg.data))
    else:
        encoding = str(msg.encoding).lower()
        if encoding not in RAW_ENCODINGS:
            raise ValueError(f"image encoding '{msg.encoding}' is not depth (16UC1, mono16 or 32FC1)")
        dtype, mm_per_unit = RAW_ENCODINGS[encoding]
        height, width, step = int(msg.height), int(msg.width), int(msg.step)
        item = np.dtype(dtype).itemsize
        if step < width * item or len(msg.data) < step * height:
            raise ValueError(f"image data ({len(msg.data)} bytes) is too short for {width}x{height}, step {step}")
        dtype = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
        rows = np.frombuffer(bytes(msg.data[:step * height]), np.uint8).reshape(height, step)
        array = rows[:, :width * item].copy().view(dtype).reshape(height, width)
    depth = array.astype(np.float32) * np.float32(mm_per_unit)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def _stamp_ms(msg, bag_time_ns: int) -> float:
    """The message header's stamp in ms; the bag's receive time when the driver left the stamp empty."""
    stamp = msg.header.stamp
    ns = int(stamp.sec) * 1_000_000_000 + int(getattr(stamp, "nanosec", getattr(stamp, "nsec", 0)))
    return (ns if ns > 0 else int(bag_time_ns)) / 1e6


def _segments(topic: str) -> list[str]:
    return [s for s in topic.split("/") if s]


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(_segments(a), _segments(b)):
        if x != y:
            break
        count += 1
    return count


class RosRecording(RecordingSource):
    """Replays the depth topic of a ROS 1 or ROS 2 bag; see the module docstring.

    `topic` names the depth topic when a bag holds several (the one-line error lists them). A raw topic and
    its `/compressedDepth` twin count as one stream (the raw one is read). Frames carry the header stamps
    in ms; with `loop`, each pass continues one frame period after the last.
    """

    live = False

    def __init__(self, path: str | Path, topic: str | None = None, realtime: bool = False, loop: bool = False):
        self.path = Path(path)
        self.realtime, self.loop = bool(realtime), bool(loop)
        self._reader = self._open_reader()
        try:
            self._connection = self._depth_connection(topic)
            self.topic = self._connection.topic
            self._intrinsics = self._read_intrinsics()
        except BaseException:
            self.close()
            raise
        self.name = f"ros:{self.path.name} {self.topic}"

    # ---- opening ---------------------------------------------------------------------------------

    def _open_reader(self):
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore

        path = self.path
        if not path.exists():
            raise UserError(f"recording not found: {path}")
        if path.is_dir() and not _is_bag_folder(path):
            raise UserError(f"{path} is a folder without metadata.yaml: not a ROS 2 bag (pass its .db3 or .mcap file)")
        if path.is_file() and path.suffix.lower() not in (".bag",) + ROS2_SUFFIXES:
            raise UserError(f"{path}: not a ROS recording (expected .bag, .db3, .mcap or a ROS 2 bag folder)")
        if path.is_file() and path.stat().st_size == 0:
            raise UserError(f"recording {path} is empty (0 bytes)")
        reader = None
        try:
            reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
            reader.open()
        except Exception as exc:
            if reader is not None:
                _close_quietly(reader)
            if "profile is not ros2" in str(exc).lower():
                raise UserError(f"{path} is an MCAP file but not a ROS 2 bag (its profile is not ros2): no depth "
                                "images to replay") from None
            raise UserError(f"{path} is not a readable ROS recording (truncated or corrupt?): {_one_line(exc)}"
                            f"{_repair_hint(path, exc)}") from None
        return reader

    def _first_message(self, connection):
        """The first message of one connection, deserialized, or None when it has none."""
        for _, t_ns, raw in self._reader.messages(connections=[connection]):
            return self._reader.deserialize(raw, connection.msgtype), t_ns
        return None

    def _depth_connection(self, topic: str | None):
        connections = [c for c in self._reader.connections if c.msgtype in (IMAGE, COMPRESSED)]
        if topic is not None:
            chosen = [c for c in connections if c.topic == topic]
            if not chosen:
                known = sorted({c.topic for c in connections}) or ["none"]
                raise UserError(f"{self.path} has no image topic {topic} (image topics: {', '.join(known)})")
            if not self._is_depth(chosen[0]):
                raise UserError(f"topic {topic} in {self.path} holds no depth images (16UC1, mono16, 32FC1 or "
                                "compressedDepth)")
            return chosen[0]
        depth = [c for c in connections if self._is_depth(c)]
        raw_topics = {c.topic for c in depth if c.msgtype == IMAGE}
        streams = [c for c in depth if not (c.msgtype == COMPRESSED and c.topic.rsplit("/", 1)[0] in raw_topics)]
        if not streams:
            found = ", ".join(sorted({c.topic for c in self._reader.connections})[:12]) or "none"
            raise UserError(f"recording {self.path} has no depth stream (16UC1, mono16, 32FC1 or compressedDepth "
                            f"images; topics: {found})")
        if len({c.topic for c in streams}) > 1:
            listed = ", ".join(sorted({c.topic for c in streams}))
            raise UserError(f"{self.path} has several depth topics, pick one with --topic: {listed}")
        return streams[0]

    def _is_depth(self, connection) -> bool:
        try:
            first = self._first_message(connection)
        except Exception as exc:
            raise UserError(f"cannot read topic {connection.topic} of {self.path}: {_one_line(exc)}") from None
        if first is None:
            return False
        msg = first[0]
        if connection.msgtype == COMPRESSED:
            return _compressed_is_depth(str(msg.format))
        return str(msg.encoding).lower() in RAW_ENCODINGS

    def _read_intrinsics(self) -> Intrinsics:
        """From the CameraInfo topic sharing the longest path with the depth topic (its sibling `camera_info`)."""
        infos = [c for c in self._reader.connections if c.msgtype == CAMERA_INFO]
        if not infos:
            raise UserError(f"{self.path} has no sensor_msgs/CameraInfo topic for {self.topic}: "
                            "the camera's intrinsics are unknown")
        best = max(_shared_prefix(c.topic, self.topic) for c in infos)
        nearest = sorted({c.topic for c in infos if _shared_prefix(c.topic, self.topic) == best})
        if len(nearest) > 1:
            raise UserError(f"{self.path}: cannot tell which CameraInfo belongs to {self.topic} "
                            f"({', '.join(nearest)})")
        info_connection = next(c for c in infos if c.topic == nearest[0])
        try:
            info = self._first_message(info_connection)
            image = self._first_message(self._connection)
            depth = _depth_mm(image[0], self._connection.msgtype) if image else None
        except Exception as exc:
            raise UserError(f"cannot read {self.path}: {_one_line(exc)}") from None
        if info is None or depth is None:
            raise UserError(f"{self.path}: topic {info_connection.topic if info is None else self.topic} "
                            "has no messages")
        msg = info[0]
        k = np.asarray(msg.k if hasattr(msg, "k") else msg.K, np.float64).reshape(-1)
        d = np.asarray(msg.d if hasattr(msg, "d") else msg.D, np.float64).reshape(-1)
        if k.size != 9 or k[0] <= 0 or k[4] <= 0:
            raise UserError(f"{self.path}: CameraInfo on {info_connection.topic} has no calibration (K = {k.tolist()})")
        intrinsics = Intrinsics(fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]), width=int(msg.width),
                                height=int(msg.height), depth_scale_m=0.001,
                                distortion=tuple(float(v) for v in (list(d[:5]) + [0.0] * 5)[:5]),
                                name=f"{self.path.name}:{info_connection.topic}")
        height, width = depth.shape
        if (width, height) != (intrinsics.width, intrinsics.height):
            if intrinsics.width <= 0 or intrinsics.height <= 0:
                raise UserError(f"{self.path}: CameraInfo on {info_connection.topic} gives no image size")
            intrinsics = intrinsics.scaled(width, height)     # a binned or decimated image of the same camera
        return intrinsics

    # ---- RecordingSource ---------------------------------------------------------------------------

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def _one_pass(self, first_index: int) -> Iterator[DepthFrame]:
        reader, connection = self._reader, self._connection
        index, first_ms, last_ms = first_index, None, None
        messages = reader.messages(connections=[connection])
        while self._reader is not None:
            try:
                item = next(messages, None)
                if item is None:
                    break
                _, t_ns, raw = item
                msg = reader.deserialize(raw, connection.msgtype)
                depth = _depth_mm(msg, connection.msgtype)
                stamp_ms = _stamp_ms(msg, t_ns)
            except Exception as exc:
                raise UserError(f"cannot read frame {index - first_index} of {self.path} ({self.topic}): "
                                f"{_one_line(exc)}") from None
            if depth.shape != (self._intrinsics.height, self._intrinsics.width):
                raise UserError(f"{self.path}: frame {index - first_index} on {self.topic} is "
                                f"{depth.shape[1]}x{depth.shape[0]}, the first was "
                                f"{self._intrinsics.width}x{self._intrinsics.height}")
            first_ms = stamp_ms if first_ms is None else first_ms
            yield DepthFrame(depth_mm=depth, intrinsics=self._intrinsics, timestamp_ms=stamp_ms, index=index)
            index += 1
            last_ms = stamp_ms
        count = index - first_index
        if count > 1 and last_ms is not None and first_ms is not None and last_ms > first_ms:
            self._period_ms = (last_ms - first_ms) / (count - 1)

    def _is_open(self) -> bool:
        return self._reader is not None

    def _rewind(self) -> None:
        pass      # each pass asks the reader for the topic's messages again

    def close(self) -> None:
        reader, self._reader = getattr(self, "_reader", None), None
        if reader is not None:
            _close_quietly(reader)


def _close_quietly(reader) -> None:
    try:
        reader.close()
    except Exception:
        pass     # a reader that failed half-way through opening has nothing more to release
