"""ROS recordings in (ROS 1 .bag, ROS 2 .db3 / .mcap, raw and compressedDepth), MCAP and Foxglove out.

The bags are written here with `rosbags`, as realsense-ros, the Azure Kinect and Orbbec drivers lay them out,
with a synthetic hand in the depth images, so reading them back must give the same depth and a tracked hand.
"""
from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose_live.capture.ros import RosRecording, decode_compressed_depth, is_ros_recording
from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.errors import UserError

N = 3
BASE_NS = 1_700_000_000 * 10**9
PERIOD_NS = 33_333_333
DEPTH_MAX_M, Z0 = 10.0, 100.0            # compressed_depth_image_transport's defaults for 32FC1
A = Z0 * (Z0 + 1.0)
B = 1.0 - A / DEPTH_MAX_M


@pytest.fixture(scope="module")
def synthetic():
    """N synthetic frames of a hand (640x480, mm) with their true joints."""
    return list(SyntheticCamera(frames=N, seed=3).frames())


def _mm_u16(depth_mm: np.ndarray) -> np.ndarray:
    return np.clip(np.round(depth_mm), 0, 65535).astype(np.uint16)


def _png(u16: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", u16)
    assert ok
    return data.tobytes()


class Bag:
    """Writes one ROS 1 (.bag) or ROS 2 (folder, sqlite3 or mcap storage) recording with rosbags."""

    def __init__(self, path: Path, ros1: bool, storage: str = "sqlite3"):
        from rosbags.typesys import Stores, get_typestore

        self.ros1, self.path = ros1, path
        self.store = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
        self.T = self.store.types
        if ros1:
            from rosbags.rosbag1 import Writer
            self.writer = Writer(path)
        else:
            from rosbags.rosbag2 import StoragePlugin, Writer
            plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
            self.writer = Writer(path, version=9, storage_plugin=plugin)
        self.writer.open()
        self.connections: dict[str, object] = {}

    def header(self, t_ns: int, seq: int = 0):
        stamp = self.T["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        extra = {"seq": seq} if self.ros1 else {}
        return self.T["std_msgs/msg/Header"](stamp=stamp, frame_id="camera_depth_optical_frame", **extra)

    def write(self, topic: str, msgtype: str, msg, t_ns: int) -> None:
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msgtype, typestore=self.store)
        data = self.store.serialize_ros1(msg, msgtype) if self.ros1 else self.store.serialize_cdr(msg, msgtype)
        self.writer.write(self.connections[topic], t_ns, data)

    def camera_info(self, topic: str, intr, t_ns: int) -> None:
        k = np.array([intr.fx, 0, intr.cx, 0, intr.fy, intr.cy, 0, 0, 1], np.float64)
        p = np.array([intr.fx, 0, intr.cx, 0, 0, intr.fy, intr.cy, 0, 0, 0, 1, 0], np.float64)
        names = ("D", "K", "R", "P") if self.ros1 else ("d", "k", "r", "p")
        fields = dict(zip(names, (np.zeros(5), k, np.eye(3).ravel(), p)))
        msg = self.T["sensor_msgs/msg/CameraInfo"](
            header=self.header(t_ns), height=intr.height, width=intr.width, distortion_model="plumb_bob",
            binning_x=0, binning_y=0, roi=self.T["sensor_msgs/msg/RegionOfInterest"](
                x_offset=0, y_offset=0, height=0, width=0, do_rectify=False), **fields)
        self.write(topic, "sensor_msgs/msg/CameraInfo", msg, t_ns)

    def image(self, topic: str, depth_mm: np.ndarray, encoding: str, t_ns: int, seq: int = 0) -> None:
        if encoding == "32FC1":
            pixels = np.where(depth_mm > 0, depth_mm / 1000.0, np.nan).astype("<f4")
        elif encoding == "rgb8":
            pixels = np.repeat(_mm_u16(depth_mm)[..., None] // 16, 3, axis=2).astype(np.uint8)
        else:
            pixels = _mm_u16(depth_mm).astype("<u2")
        h, w = depth_mm.shape
        data = np.frombuffer(pixels.tobytes(), np.uint8)
        msg = self.T["sensor_msgs/msg/Image"](header=self.header(t_ns, seq), height=h, width=w, encoding=encoding,
                                              is_bigendian=0, step=len(data) // h, data=data)
        self.write(topic, "sensor_msgs/msg/Image", msg, t_ns)

    def compressed(self, topic: str, depth_mm: np.ndarray, encoding: str, t_ns: int) -> None:
        if encoding == "32FC1":
            metres = depth_mm.astype(np.float64) / 1000.0
            with np.errstate(divide="ignore"):
                q = np.where((metres > 0) & (metres < DEPTH_MAX_M), A / metres + B, 0)
            payload, params = _png(q.astype(np.uint16)), (A, B)
        else:
            payload, params = _png(_mm_u16(depth_mm)), (0.0, 0.0)
        data = struct.pack("<iff", 0, *params) + payload
        msg = self.T["sensor_msgs/msg/CompressedImage"](header=self.header(t_ns), format=f"{encoding}; compressedDepth png",
                                                        data=np.frombuffer(data, np.uint8))
        self.write(topic, "sensor_msgs/msg/CompressedImage", msg, t_ns)

    def close(self) -> Path:
        self.writer.close()
        return self.path


def write_recording(path: Path, frames, ros1: bool, storage: str = "sqlite3", streams=(("/camera/depth/image_rect_raw",
                    "16UC1"),), info_topics=("/camera/depth/camera_info",)) -> Path:
    """A recording of `frames` on `streams` ((topic, encoding), "compressedDepth:<enc>" for compressed)."""
    bag = Bag(path, ros1, storage)
    for i, frame in enumerate(frames):
        t_ns = BASE_NS + i * PERIOD_NS
        for info in info_topics:
            bag.camera_info(info, frame.intrinsics, t_ns)
        for topic, encoding in streams:
            if encoding.startswith("compressedDepth:"):
                bag.compressed(topic, frame.depth_mm, encoding.split(":", 1)[1], t_ns + 1000)
            else:
                bag.image(topic, frame.depth_mm, encoding, t_ns + 1000, seq=i)
    return bag.close()


def read_all(path, **kwargs):
    with RosRecording(path, **kwargs) as source:
        return source, list(source.frames())


def check_frames(got, synthetic, tolerance_mm: float = 0.5):
    assert len(got) == len(synthetic)
    for i, (frame, truth) in enumerate(zip(got, synthetic)):
        assert frame.depth_mm.dtype == np.float32 and frame.depth_mm.shape == truth.depth_mm.shape
        expected = _mm_u16(truth.depth_mm).astype(np.float32)
        valid = expected > 0
        assert np.all(frame.depth_mm[~valid] == 0)
        assert np.abs(frame.depth_mm[valid] - expected[valid]).max() <= tolerance_mm
        assert frame.index == i
        assert frame.timestamp_ms == pytest.approx((BASE_NS + i * PERIOD_NS + 1000) / 1e6)
        intr, want = frame.intrinsics, truth.intrinsics
        assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == \
            (want.fx, want.fy, want.cx, want.cy, want.width, want.height)
        assert intr.depth_scale_m == 0.001


# ---- reading ------------------------------------------------------------------------------------------

def test_ros1_bag_16uc1(tmp_path, synthetic):
    path = write_recording(tmp_path / "realsense.bag", synthetic, ros1=True)
    assert is_ros_recording(path)
    source, got = read_all(path)
    assert source.topic == "/camera/depth/image_rect_raw"
    check_frames(got, synthetic)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_ros2_bag_32fc1_folder_and_file(tmp_path, synthetic, storage):
    streams = (("/k4a/depth/image_raw", "32FC1"),)
    folder = write_recording(tmp_path / "kinect", synthetic, ros1=False, storage=storage, streams=streams,
                             info_topics=("/k4a/depth/camera_info",))
    assert is_ros_recording(folder)
    check_frames(read_all(folder)[1], synthetic, tolerance_mm=0.01)
    (file,) = [p for p in folder.iterdir() if p.suffix in (".db3", ".mcap")]
    assert is_ros_recording(file)
    check_frames(read_all(file)[1], synthetic, tolerance_mm=0.01)


@pytest.mark.parametrize("encoding,tolerance", [("16UC1", 0.0), ("32FC1", 2.5)])
def test_compressed_depth(tmp_path, synthetic, encoding, tolerance):
    topic = "/camera/camera/depth/image_rect_raw/compressedDepth"
    path = write_recording(tmp_path / "compressed", synthetic, ros1=False, storage="mcap",
                           streams=((topic, f"compressedDepth:{encoding}"),),
                           info_topics=("/camera/camera/depth/camera_info",))
    source, got = read_all(path)
    assert source.topic == topic
    check_frames(got, synthetic, tolerance_mm=tolerance)


def test_compressed_depth_decoder_rejects_what_is_not_depth():
    with pytest.raises(ValueError, match="not a depth image"):
        decode_compressed_depth("bgr8; jpeg compressed bgr8", b"\xff\xd8")
    with pytest.raises(ValueError, match="rvl"):
        decode_compressed_depth("16UC1; compressedDepth rvl", bytes(20))
    with pytest.raises(ValueError, match="16-bit"):
        decode_compressed_depth("16UC1; compressedDepth png", bytes(12) + b"not a png")


def test_raw_topic_and_its_compressed_twin_are_one_stream(tmp_path, synthetic):
    streams = (("/camera/depth/image_rect_raw", "16UC1"), ("/camera/depth/image_rect_raw/compressedDepth",
                                                           "compressedDepth:16UC1"))
    path = write_recording(tmp_path / "twin.bag", synthetic[:1], ros1=True, streams=streams)
    source, got = read_all(path)
    assert source.topic == "/camera/depth/image_rect_raw" and len(got) == 1


def test_two_depth_topics_need_a_choice(tmp_path, synthetic):
    streams = (("/camera/depth/image_rect_raw", "16UC1"), ("/camera/aligned_depth_to_color/image_raw", "16UC1"),
               ("/camera/color/image_raw", "rgb8"))
    info = ("/camera/depth/camera_info", "/camera/aligned_depth_to_color/camera_info", "/camera/color/camera_info")
    path = write_recording(tmp_path / "two.bag", synthetic[:2], ros1=True, streams=streams, info_topics=info)
    with pytest.raises(UserError) as err:
        RosRecording(path)
    message = str(err.value)
    assert "\n" not in message and "--topic" in message
    assert "/camera/depth/image_rect_raw" in message and "/camera/aligned_depth_to_color/image_raw" in message
    assert "/camera/color/image_raw" not in message
    source, got = read_all(path, topic="/camera/aligned_depth_to_color/image_raw")
    assert source.intrinsics.name.endswith("/camera/aligned_depth_to_color/camera_info") and len(got) == 2
    with pytest.raises(UserError, match="no depth images"):
        RosRecording(path, topic="/camera/color/image_raw")
    with pytest.raises(UserError, match="no image topic /nope"):
        RosRecording(path, topic="/nope")


def test_no_depth_stream(tmp_path, synthetic):
    path = write_recording(tmp_path / "colour", synthetic[:1], ros1=False, streams=(("/camera/color/image_raw", "rgb8"),),
                           info_topics=("/camera/color/camera_info",))
    with pytest.raises(UserError, match="has no depth stream"):
        RosRecording(path)


def test_no_camera_info(tmp_path, synthetic):
    path = write_recording(tmp_path / "nocal.bag", synthetic[:1], ros1=True, info_topics=())
    with pytest.raises(UserError, match="CameraInfo"):
        RosRecording(path)


def test_librealsense_files_stay_with_pyrealsense2(tmp_path, synthetic):
    from handpose_live.capture.record import write_bag

    path = tmp_path / "viewer.bag"
    write_bag(path, synthetic[:1], synthetic[0].intrinsics)
    assert not is_ros_recording(path)
    assert not is_ros_recording(tmp_path / "missing.bag")
    (tmp_path / "junk.db3").write_bytes(b"not sqlite at all")
    assert not is_ros_recording(tmp_path / "junk.db3")


def test_damaged_recordings_are_one_line_errors(tmp_path, synthetic):
    bag = write_recording(tmp_path / "good.bag", synthetic[:2], ros1=True)
    folder = write_recording(tmp_path / "good_mcap", synthetic[:2], ros1=False, storage="mcap")
    db3_folder = write_recording(tmp_path / "good_db3", synthetic[:2], ros1=False)
    mcap = next(folder.glob("*.mcap"))
    db3 = next(db3_folder.glob("*.db3"))
    cases = []
    for source in (bag, mcap, db3):
        data = source.read_bytes()
        for keep in (0, 8, 100, len(data) // 3, len(data) // 2, len(data) - 1):
            cut = tmp_path / f"cut{keep}_{source.name}"
            cut.write_bytes(data[:keep])
            cases.append(cut)
        noise = tmp_path / f"noise_{source.name}"
        noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
        cases.append(noise)
    for path in cases:
        try:
            with RosRecording(path) as source:
                count = sum(1 for _ in source.frames())
        except UserError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
            continue
        assert count <= 2, path        # a cut that kept whole messages may still be read


def test_missing_and_wrong_inputs(tmp_path):
    with pytest.raises(UserError, match="not found"):
        RosRecording(tmp_path / "nope.bag")
    with pytest.raises(UserError, match="metadata.yaml"):
        RosRecording(tmp_path)
    (tmp_path / "empty.mcap").write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        RosRecording(tmp_path / "empty.mcap")


def test_loop_keeps_the_clock_going(tmp_path, synthetic):
    path = write_recording(tmp_path / "loop.bag", synthetic, ros1=True)
    source = RosRecording(path, loop=True)
    got = []
    for frame in source.frames():
        got.append(frame.timestamp_ms)
        if len(got) == 2 * N:
            break
    source.close()
    steps = np.diff(got)
    assert np.all(steps > 0) and steps == pytest.approx(PERIOD_NS / 1e6, abs=1e-3)


def test_the_pipeline_finds_the_hand_in_a_bag(tmp_path, synthetic):
    from handpose_live.tracker import Tracker

    path = write_recording(tmp_path / "hand.bag", synthetic, ros1=True, streams=(
        ("/camera/depth/image_rect_raw/compressedDepth", "compressedDepth:16UC1"),))
    tracker = Tracker(device="cpu", max_hands=1)
    with RosRecording(path) as source:
        results = [tracker.process_frame(frame) for frame in source.frames()]
    assert len(results) == N
    for result, truth in zip(results, synthetic):
        assert result.found
        error = np.linalg.norm(np.asarray(result.joints_mm) - truth.ground_truth_mm, axis=1).mean()
        assert error < 40.0, error


# ---- MCAP and Foxglove out ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tracked(tmp_path_factory, synthetic):
    """The pipeline's results on a ROS 2 bag of the synthetic hand: (header, [(frame, result)])."""
    from handpose_live.tracker import Tracker

    path = write_recording(tmp_path_factory.mktemp("bag") / "hand", synthetic, ros1=False, storage="mcap")
    tracker = Tracker(device="cpu", max_hands=1)
    with RosRecording(path) as source:
        pairs = [(frame, tracker.process_frame(frame)) for frame in source.frames()]
        header = tracker.header(source.intrinsics)
    return header, pairs


def test_the_pipeline_finds_the_hand_in_a_ros2_bag(tracked, synthetic):
    _, pairs = tracked
    assert len(pairs) == N
    for (_, result), truth in zip(pairs, synthetic):
        assert result.found
        error = np.linalg.norm(np.asarray(result.joints_mm) - truth.ground_truth_mm, axis=1).mean()
        assert error < 40.0, error


def _decode_protobuf(schema, data: bytes):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(schema.data).file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name)).FromString(data)


@pytest.mark.parametrize("depth", [False, True])
def test_mcap_round_trip(tmp_path, tracked, depth):
    from mcap.reader import make_reader

    from handpose_live.sinks.mcap_writer import McapWriter

    header, pairs = tracked
    path = tmp_path / "take.mcap"
    with McapWriter(path, depth=depth) as sink:
        sink.begin(header)
        for frame, result in pairs:
            sink.write(frame, result)
    with open(path, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        schemas = {s.name: s.encoding for s in summary.schemas.values()}
        topics = {c.topic: c for c in summary.channels.values()}
        metadata = {m.name: m.metadata for m in reader.iter_metadata()}
        messages = list(reader.iter_messages())
    want = {"/handpose/record", "/handpose/skeleton"} | ({"/handpose/depth"} if depth else set())
    assert set(topics) == want
    assert schemas["handpose-live.record"] == "jsonschema" and schemas["foxglove.SceneUpdate"] == "protobuf"
    assert ("foxglove.RawImage" in schemas) == depth
    assert json.loads(metadata["handpose-live"]["header"]) == json.loads(topics["/handpose/record"].metadata["header"])
    assert json.loads(metadata["handpose-live"]["header"])["joint_names"] == header["joint_names"]
    assert len(messages) == len(want) * len(pairs)
    by_topic: dict[str, list] = {}
    for schema, channel, message in messages:
        by_topic.setdefault(channel.topic, []).append((schema, message))
    for k, (frame, result) in enumerate(pairs):
        ns = round(result.timestamp_ms * 1e6)
        schema, message = by_topic["/handpose/record"][k]
        assert json.loads(message.data) == json.loads(json.dumps(result.to_record())) and message.log_time == ns
        schema, message = by_topic["/handpose/skeleton"][k]
        update = _decode_protobuf(schema, message.data)
        (entity,) = update.entities
        assert entity.frame_id == "camera" and len(entity.spheres) == len(header["joint_names"])
        assert len(entity.lines[0].points) == 2 * len(header["bones"])
        first = entity.spheres[0].pose.position
        assert [first.x, first.y, first.z] == pytest.approx(np.asarray(result.joints_mm[0]) / 1000.0, abs=1e-9)
        if depth:
            schema, message = by_topic["/handpose/depth"][k]
            image = _decode_protobuf(schema, message.data)
            pixels = np.frombuffer(image.data, "<u2").reshape(image.height, image.width)
            assert image.encoding == "16UC1" and np.array_equal(pixels, _mm_u16(frame.depth_mm))


def test_mcap_output_errors(tmp_path):
    from handpose_live.sinks.mcap_writer import McapWriter

    with pytest.raises(UserError, match="does not exist"):
        McapWriter(tmp_path / "no" / "take.mcap")
    empty = tmp_path / "empty.mcap"
    McapWriter(empty).close()
    from mcap.reader import make_reader
    with open(empty, "rb") as f:
        assert {c.topic for c in make_reader(f).get_summary().channels.values()} == {"/handpose/record", "/handpose/skeleton"}
    with pytest.raises(UserError, match="not a ROS 2 bag"):
        RosRecording(empty)


def test_foxglove_client_receives_the_stream(tracked):
    import websockets

    from handpose_live.sinks.foxglove_ws import FoxgloveServer

    header, pairs = tracked
    server = FoxgloveServer(port=0)
    try:
        server.begin(header)
        server.write(*pairs[0])
        assert server.published == 0          # nobody subscribed: nothing encoded

        async def client():
            async with websockets.connect(server.url, subprotocols=["foxglove.sdk.v1"], open_timeout=5) as ws:
                channels: dict[str, dict] = {}
                while len(channels) < 2:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if message["op"] == "serverInfo":
                        assert message["capabilities"] == []
                    channels.update({c["topic"]: c for c in message.get("channels", [])})
                record, skeleton = channels["/handpose/record"], channels["/handpose/skeleton"]
                assert (record["encoding"], record["schemaEncoding"]) == ("json", "jsonschema")
                assert json.loads(record["metadata"]["header"])["bones"] == header["bones"]
                assert (skeleton["schemaName"], skeleton["encoding"]) == ("foxglove.SceneUpdate", "protobuf")
                await ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 7, "channelId": record["id"]}]}))
                for _ in range(50):                # until the server has seen the subscription
                    server.write(*pairs[1])
                    try:
                        data = await asyncio.wait_for(ws.recv(), 0.1)
                    except asyncio.TimeoutError:
                        continue
                    if isinstance(data, bytes):
                        return data
                raise AssertionError("no message on the subscribed channel")

        data = asyncio.run(client())
        opcode, subscription = struct.unpack_from("<BI", data)
        assert (opcode, subscription) == (1, 7)
        assert json.loads(data[13:]) == json.loads(json.dumps(pairs[1][1].to_record()))
        assert server.published >= 1 and server.errors == 0
    finally:
        server.close()
        server.close()


def test_foxglove_address_errors():
    from handpose_live.sinks.foxglove_ws import FoxgloveServer, parse_foxglove_address

    assert parse_foxglove_address("8765") == ("127.0.0.1", 8765)
    assert parse_foxglove_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    with pytest.raises(UserError, match="port must be"):
        parse_foxglove_address("70000")
    server = FoxgloveServer(port=0)
    try:
        with pytest.raises(UserError, match="cannot serve Foxglove") as err:
            FoxgloveServer(port=server.port)
        assert "\n" not in str(err.value)
    finally:
        server.close()


def test_librealsense_db3_stays_with_pyrealsense2(tmp_path, synthetic):
    pytest.importorskip("pyrealsense2")
    from handpose_live.capture.record import write_db3

    path = tmp_path / "viewer.db3"
    try:
        write_db3(path, synthetic[:2], synthetic[0].intrinsics)
    except UserError as exc:        # pyrealsense2 present but its library cannot load here
        pytest.skip(str(exc))
    assert not is_ros_recording(path)


def test_a_ros2_bag_folder_is_no_image_folder(tmp_path, synthetic):
    from handpose_live.capture.images import is_image_input

    folder = write_recording(tmp_path / "bag", synthetic[:1], ros1=False)
    assert not is_image_input(folder) and is_image_input(tmp_path)
