"""Sinks: record files (content, streamed under their name, errors), UDP, the 2D overlay, Open3D headless."""
from __future__ import annotations

import csv
import errno
import json
import os
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose_live.errors import UserError
from handpose_live.geometry import camera_to_pixel
from handpose_live.sinks import CsvWriter, JsonlWriter, UdpSender, open_output, record_json
from handpose_live.sinks.opencv_viewer import OpenCvViewer, save_image
from handpose_live.sinks.overlay import render_overlay, skeleton_bgr
from handpose_live.sinks.video import VideoWriterSink
from handpose_live.skeletons import HAND21
from handpose_live.types import DepthFrame, Intrinsics, PoseResult

INTR = Intrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480, name="test-d435")
# An open right hand facing the camera, fingers up (y down), about 55 cm away.
JOINTS_MM = np.array([
    [0, 60, 560],
    [-25, 40, 555], [-45, 20, 550], [-60, 0, 545], [-72, -15, 540],
    [-22, -10, 555], [-25, -40, 552], [-27, -60, 550], [-28, -78, 548],
    [-5, -13, 555], [-5, -47, 552], [-5, -70, 550], [-5, -90, 548],
    [12, -10, 555], [14, -42, 552], [15, -63, 550], [16, -80, 548],
    [28, -4, 556], [33, -28, 553], [36, -44, 551], [38, -58, 549],
], dtype=np.float64)
INVALID_COLUMNS = 20


def _render_depth() -> np.ndarray:
    """A wall at 600 mm, a palm blob and finger capsules (as chains of spheres) in front of it."""
    v, u = np.mgrid[0:INTR.height, 0:INTR.width].astype(np.float64)
    rays = np.stack([(u - INTR.cx) / INTR.fx, (v - INTR.cy) / INTR.fy, np.ones_like(u)], axis=-1)
    ray_sq = (rays * rays).sum(-1)
    depth = np.full(u.shape, 600.0)
    spheres = [(np.array([0.0, 25.0, 575.0]), 35.0)]
    spheres += [(JOINTS_MM[a] + t * (JOINTS_MM[b] - JOINTS_MM[a]), 8.0)
                for a, b in HAND21.bones for t in np.linspace(0, 1, 6)]
    for centre, radius in spheres:
        along = rays @ centre
        disc = along * along - ray_sq * (centre @ centre - radius * radius)
        hit = disc > 0
        z = (along - np.sqrt(np.where(hit, disc, 0.0))) / ray_sq
        depth = np.where(hit & (z < depth), z, depth)
    depth[:, :INVALID_COLUMNS] = 0.0
    return depth.astype(np.float32)


@pytest.fixture(scope="module")
def depth_mm() -> np.ndarray:
    return _render_depth()


def make_frame(depth_mm: np.ndarray, index: int = 7) -> DepthFrame:
    return DepthFrame(depth_mm.copy(), INTR, timestamp_ms=33.3 * index, index=index)


def make_result(index: int = 7, found: bool = True) -> PoseResult:
    if not found:
        return PoseResult(frame_index=index, timestamp_ms=33.3 * index, found=False, latency_ms={"total": 5.0})
    return PoseResult(frame_index=index, timestamp_ms=33.3 * index, found=True,
                      centre_mm=np.array([0.0, 0.0, 560.0]), joints_mm=JOINTS_MM.copy(),
                      confidence=np.linspace(0.5, 1.0, 21), latency_ms={"model": 12.5, "total": 20.25})


def small_frame(index: int = 0) -> DepthFrame:
    return DepthFrame(np.full((48, 64), 600.0, np.float32), INTR.scaled(64, 48), timestamp_ms=index, index=index)


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---- record files -------------------------------------------------------------------------

def test_jsonl_streams_every_record_under_its_name(tmp_path):
    target = tmp_path / "poses.jsonl"
    results = [make_result(0), make_result(1, found=False), make_result(2)]
    writer = JsonlWriter(target)
    for r in results:
        writer.write(small_frame(r.frame_index), r)
        assert len(target.read_text().splitlines()) == r.frame_index + 1   # in the file as soon as written
    writer.close()
    writer.close()
    assert _temp_files(tmp_path) == []
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert records == [json.loads(json.dumps(r.to_record())) for r in results]
    assert set(records[0]) == {"frame", "timestamp_ms", "found", "centre_mm", "joints_mm", "confidence",
                               "latency_ms"}
    assert records[1]["found"] is False and records[1]["joints_mm"] is None


def test_jsonl_keeps_records_after_ctrl_c(tmp_path):
    target = tmp_path / "poses.jsonl"
    with pytest.raises(KeyboardInterrupt):
        with open_output(target, 21) as writer:
            writer.write(small_frame(0), make_result(0))
            raise KeyboardInterrupt
    assert json.loads(target.read_text())["frame"] == 0
    assert _temp_files(tmp_path) == []


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "data" / "poses.jsonl"
    real.parent.mkdir()
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    with open_output(link, 21) as writer:
        writer.write(small_frame(0), make_result(0))
    assert link.is_symlink() and json.loads(real.read_text())["frame"] == 0


def test_a_full_disk_is_one_line_and_keeps_the_records_before(tmp_path, monkeypatch):
    target = tmp_path / "poses.csv"
    writer = CsvWriter(target, 21)
    writer.write(small_frame(0), make_result(0))

    def full(data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(writer._file, "write", full)
    with pytest.raises(UserError, match="no space left on device") as info:
        writer.write(small_frame(1), make_result(1))
    assert "\n" not in str(info.value) and "1 records" in str(info.value)
    writer.close()
    with open(target, newline="") as f:
        assert [row["frame"] for row in csv.DictReader(f)] == ["0"]


def test_record_json_is_strict_json():
    result = make_result(3)
    result.joints_mm[2, 1] = np.nan
    record = json.loads(record_json(result), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert record["joints_mm"][2][1] is None and record["joints_mm"][2][0] == JOINTS_MM[2, 0]


def test_csv_has_flattened_columns_and_empty_cells_without_a_hand(tmp_path):
    target = tmp_path / "poses.csv"
    with CsvWriter(target, 21) as writer:
        writer.write(small_frame(5), make_result(5))
        writer.write(small_frame(6), make_result(6, found=False))
    with open(target, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    header = list(rows[0])
    assert header[:6] == ["frame", "timestamp_ms", "found", "centre_x_mm", "centre_y_mm", "centre_z_mm"]
    assert header[6:9] == ["j0_x_mm", "j0_y_mm", "j0_z_mm"] and header[-1] == "conf_j20"
    assert len(header) == 6 + 21 * 3 + 21
    assert rows[0]["frame"] == "5" and rows[0]["found"] == "1"
    assert float(rows[0]["j4_x_mm"]) == -72.0 and float(rows[0]["centre_z_mm"]) == 560.0
    assert float(rows[0]["conf_j20"]) == 1.0
    assert rows[1]["found"] == "0" and rows[1]["j0_x_mm"] == "" and rows[1]["conf_j0"] == ""


def test_open_output_picks_by_suffix(tmp_path):
    with open_output(tmp_path / "a.jsonl", 21) as a, open_output(tmp_path / "b.CSV", 21) as b:
        assert isinstance(a, JsonlWriter) and isinstance(b, CsvWriter)
    with pytest.raises(UserError, match="jsonl or .csv"):
        open_output(tmp_path / "c.txt", 21)
    assert not (tmp_path / "c.txt").exists()


def test_unwritable_paths_fail_at_open_with_one_line(tmp_path):
    for path in (tmp_path / "missing" / "poses.jsonl", tmp_path):
        with pytest.raises(UserError) as info:
            JsonlWriter(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(UserError, match="ermission denied"):
            CsvWriter(locked / "poses.csv", 21)


# ---- UDP ----------------------------------------------------------------------------------

def test_udp_round_trip_on_localhost():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2.0)
    port = receiver.getsockname()[1]
    try:
        with UdpSender(f"127.0.0.1:{port}") as sender:
            for i in range(3):
                sender.write(small_frame(i), make_result(i, found=i != 1))
        records = [json.loads(receiver.recvfrom(65536)[0]) for _ in range(3)]
    finally:
        receiver.close()
    assert [r["frame"] for r in records] == [0, 1, 2]
    assert records[0] == json.loads(json.dumps(make_result(0).to_record()))
    assert sender.sent == 3 and sender.dropped == 0


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:99999", "127.0.0.1:abc", ":9000", "::1:9000", ""])
def test_udp_bad_address_is_a_user_error(address):
    with pytest.raises(UserError, match="bad UDP address"):
        UdpSender(address)


# ---- 2D overlay and OpenCV sinks ----------------------------------------------------------

def test_overlay_draws_each_joint_in_its_finger_colour(depth_mm):
    frame, result = make_frame(depth_mm), make_result()
    depth_before, joints_before = frame.depth_mm.copy(), result.joints_mm.copy()
    image = render_overlay(frame, result, HAND21, fps=30.0)
    assert image.dtype == np.uint8 and image.shape == (INTR.height, INTR.width, 3)
    uv = np.round(camera_to_pixel(JOINTS_MM, INTR)[:, :2]).astype(int)
    colours = skeleton_bgr(HAND21)
    for j, (u, v) in enumerate(uv):
        assert tuple(int(c) for c in image[v, u]) == colours[j], HAND21.joints[j]
    assert (image[300, :INVALID_COLUMNS] == 0).all()  # no depth -> black
    assert np.array_equal(frame.depth_mm, depth_before) and np.array_equal(result.joints_mm, joints_before)
    cv2.imwrite("/tmp/sinks_overlay_test.png", image)


def test_overlay_without_a_hand_has_no_skeleton(depth_mm):
    image = render_overlay(make_frame(depth_mm), make_result(found=False), HAND21)
    u, v = np.round(camera_to_pixel(JOINTS_MM[12], INTR)[:2]).astype(int)
    assert tuple(int(c) for c in image[v, u]) != skeleton_bgr(HAND21)[12]


def test_opencv_viewer_headless_saves_last_image_on_close(tmp_path, depth_mm, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    shot = tmp_path / "overlay.png"
    with OpenCvViewer(HAND21, window=True, screenshot_path=shot) as viewer:
        assert not viewer.showing
        viewer.write(make_frame(depth_mm), make_result())
        assert not shot.exists()
    assert np.array_equal(cv2.imread(str(shot)), viewer.last_image)
    with pytest.raises(UserError):
        save_image(tmp_path / "missing" / "x.png", viewer.last_image)
    assert _temp_files(tmp_path) == []


# Processing times of a live run: uneven, with gaps where the camera's frames were dropped.
VIDEO_STAMPS_MS = [0.0, 33.3, 66.7, 166.7, 200.0, 233.3, 400.0, 433.3, 466.7, 500.0]


def _probe(path: Path) -> tuple[str, list[float], float]:
    """(codec, presentation time of each decoded frame in s, stream duration in s), read with PyAV."""
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
        return stream.codec_context.name, times, float(stream.duration * stream.time_base)


def test_video_is_h264_with_every_frame_at_its_own_time(tmp_path, depth_mm):
    """H.264 (browsers play it, unlike mp4v), every frame written, each shown at its timestamp
    (variable frame rate), built under a temp name and renamed onto its own on close."""
    target = tmp_path / "run.mp4"
    with VideoWriterSink(target, 30.0, HAND21) as video:
        for i, stamp in enumerate(VIDEO_STAMPS_MS):
            video.write(DepthFrame(depth_mm.copy(), INTR, timestamp_ms=1e6 + stamp, index=i), _no_subject(i, stamp))
        assert not target.exists()                                      # a whole artefact, not a stream
    assert _temp_files(tmp_path) == [] and target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    codec, times, duration = _probe(target)
    assert codec == "h264" and video.encoder == "libx264"
    assert times == pytest.approx([s / 1000 for s in VIDEO_STAMPS_MS], abs=1e-3)
    assert abs(duration - VIDEO_STAMPS_MS[-1] / 1000) <= 1 / 30 + 1e-3             # within a frame


def test_video_of_odd_size_and_no_video_without_frames(tmp_path):
    """yuv420p needs even sizes: a 63x47 image is padded; a run that processed nothing writes nothing."""
    odd = DepthFrame(np.full((47, 63), 600.0, np.float32), INTR.scaled(63, 47), timestamp_ms=0.0)
    with VideoWriterSink(tmp_path / "odd.mp4", 30.0, HAND21) as video:
        for i in range(3):
            video.write(DepthFrame(odd.depth_mm, odd.intrinsics, timestamp_ms=i * 33.3, index=i), _no_subject(i, i * 33.3))
    assert len(_probe(tmp_path / "odd.mp4")[1]) == 3
    VideoWriterSink(tmp_path / "none.mp4", 30.0, HAND21).close()
    assert not (tmp_path / "none.mp4").exists() and _temp_files(tmp_path) == []
    with pytest.raises(UserError, match="use a .mp4 name"):
        VideoWriterSink(tmp_path / "x.avi", 30.0, HAND21)


def test_video_killed_mid_run_leaves_no_file_under_its_name(tmp_path):
    """SIGKILL while encoding: an mp4 without its index is unplayable, so only the temp file is left."""
    import subprocess
    import sys
    import time
    script = (
        "import sys, time, numpy as np\n"
        "from handpose_live.sinks.video import VideoWriterSink\n"
        "from handpose_live.skeletons import HAND21\n"
        "from handpose_live.types import DepthFrame, Intrinsics, PoseResult\n"
        "intr = Intrinsics(fx=100.0, fy=100.0, cx=31.5, cy=23.5, width=64, height=48)\n"
        "video = VideoWriterSink(sys.argv[1], 30.0, HAND21)\n"
        "for i in range(100000):\n"
        "    video.write(DepthFrame(np.full((48, 64), 600.0, np.float32), intr, timestamp_ms=i * 33.3, index=i),\n"
        "                PoseResult(frame_index=i, timestamp_ms=i * 33.3))\n"
        "    if i == 30: print('writing', flush=True)\n"
        "    time.sleep(0.005)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "killed.mp4")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert not (tmp_path / "killed.mp4").exists() and len(_temp_files(tmp_path)) == 1


def _no_subject(index: int, stamp_ms: float) -> PoseResult:
    return PoseResult(frame_index=index, timestamp_ms=stamp_ms)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---- Open3D headless ----------------------------------------------------------------------

def test_open3d_screenshot_shows_skeleton_from_the_sensor(tmp_path, depth_mm):
    from handpose_live.sinks.open3d_viewer import SCALES, VIEW_FILL, Open3DViewer, open3d_window_available, sensor_view_extrinsic
    available, how = open3d_window_available()
    if not available:
        pytest.skip(f"Open3D cannot create any window here: {how}")
    width, height = 480, 360
    result = make_result()
    shot = tmp_path / "open3d.png"
    with Open3DViewer(HAND21, width=width, height=height, visible=False) as viewer:
        viewer.write(make_frame(depth_mm), result)
        viewer.screenshot(shot)
        viewer.write(make_frame(depth_mm, 8), make_result(8, found=False))
    image = cv2.imread(str(shot))
    assert image.shape == (height, width, 3)
    cv2.imwrite("/tmp/sinks_open3d_test.png", image)
    # Where each joint must appear: the sensor's viewpoint turned to the hand, zoomed on its box.
    focal_px = VIEW_FILL * height * result.centre_mm[2] / SCALES["hand"].box_mm
    cam = JOINTS_MM @ sensor_view_extrinsic(result.centre_mm)[:3, :3].T
    us = np.round(focal_px * cam[:, 0] / cam[:, 2] + width / 2 - 0.5).astype(int)
    vs = np.round(focal_px * cam[:, 1] / cam[:, 2] + height / 2 - 0.5).astype(int)
    colours = np.asarray(skeleton_bgr(HAND21), np.int32)
    for j in range(HAND21.num_joints):
        assert np.abs(image[vs[j], us[j]].astype(np.int32) - colours[j]).max() <= 12, HAND21.joints[j]
    cloud_grey = (np.ptp(image.astype(np.int32), axis=2) < 4) & (image.mean(axis=2) > 60)
    assert cloud_grey.mean() > 0.2  # the point cloud fills the view around the hand
