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
from openhand import HAND_MM, INTR

from handpose_live.errors import UserError
from handpose_live.geometry import camera_to_pixel
from handpose_live.sinks import CsvWriter, JsonlWriter, UdpSender, open_output, record_json
from handpose_live.sinks.opencv_viewer import OpenCvViewer, save_image
from handpose_live.sinks.overlay import (
    FIT_HOLD_RESULTS,
    Overlay,
    ViewMap,
    fit_goal,
    frame_panels,
    legend_panel,
    render_overlay,
    skeleton_bgr,
    status_lines,
    subject_bgr,
    subject_label,
    text_panel,
    ui_scale,
    view_rect,
)
from handpose_live.sinks.video import VideoWriterSink
from handpose_live.skeletons import HAND21, ITOP15
from handpose_live.types import DepthFrame, PoseResult, Subject

INVALID_COLUMNS = 20


def _render_depth() -> np.ndarray:
    """A wall at 600 mm, a palm blob and finger capsules (as chains of spheres) in front of it."""
    v, u = np.mgrid[0:INTR.height, 0:INTR.width].astype(np.float64)
    rays = np.stack([(u - INTR.cx) / INTR.fx, (v - INTR.cy) / INTR.fy, np.ones_like(u)], axis=-1)
    ray_sq = (rays * rays).sum(-1)
    depth = np.full(u.shape, 600.0)
    spheres = [(np.array([0.0, 25.0, 575.0]), 35.0)]
    spheres += [(HAND_MM[a] + t * (HAND_MM[b] - HAND_MM[a]), 8.0)
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
        return PoseResult(frame_index=index, timestamp_ms=33.3 * index, latency_ms={"total": 5.0})
    hand = Subject(4, np.array([0.0, 0.0, 560.0]), HAND_MM.copy(), np.linspace(0.5, 1.0, 21), 0.75,
                   handedness="right", handedness_score=0.9, pinch=0.25, grab=0.5)
    return PoseResult(frame_index=index, timestamp_ms=33.3 * index, subjects=[hand],
                      latency_ms={"model": 12.5, "total": 20.25})


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
    assert set(records[0]) == {"frame", "timestamp_ms", "hands", "gestures", "latency_ms"}
    assert set(records[0]["hands"][0]) == {"id", "score", "handedness", "handedness_score", "centre_mm", "joints_mm",
                                           "joints_px", "confidence", "pinch", "grab"}
    assert records[1]["hands"] == []


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
    joints = record["hands"][0]["joints_mm"]
    assert joints[2][1] is None and joints[2][0] == HAND_MM[2, 0]


def test_csv_has_flattened_columns_and_empty_cells_without_a_hand(tmp_path):
    target = tmp_path / "poses.csv"
    with CsvWriter(target, 21) as writer:
        writer.begin({"joint_names": list(HAND21.joints)})
        writer.write(small_frame(5), make_result(5))
        writer.write(small_frame(6), make_result(6, found=False))
    with open(target, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    header = list(rows[0])
    assert header[:12] == ["frame", "timestamp_ms", "subjects", "id", "handedness", "handedness_score", "score",
                           "pinch", "grab", "centre_x_mm", "centre_y_mm", "centre_z_mm"]
    assert header[12:15] == ["wrist_x_mm", "wrist_y_mm", "wrist_z_mm"] and header[-1] == "pinky_tip_conf"
    assert len(header) == 12 + 21 * 3 + 21 * 2 + 21
    assert rows[0]["frame"] == "5" and rows[0]["subjects"] == "1" and rows[0]["id"] == "4"
    assert rows[0]["handedness"] == "right" and float(rows[0]["pinch"]) == 0.25
    assert float(rows[0]["thumb_tip_x_mm"]) == -72.0 and float(rows[0]["centre_z_mm"]) == 560.0
    assert float(rows[0]["pinky_tip_conf"]) == 1.0
    assert rows[1]["subjects"] == "0" and rows[1]["id"] == "" and rows[1]["wrist_x_mm"] == "" and rows[1]["wrist_conf"] == ""


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

def two_hands(index: int = 7) -> PoseResult:
    """The right hand of `make_result` (#4) and a left hand (#1, its mirror image) to its left
    in the picture and nearer; listed by id, as the pipeline does."""
    right = make_result(index).subjects[0]
    left_joints = HAND_MM * [-1.0, 1.0, 1.0] + [170.0, 0.0, -80.0]
    left = Subject(1, left_joints[[0, 5, 9, 13, 17]].mean(axis=0), left_joints, np.ones(21), 0.8, handedness="left",
                   handedness_score=0.97)
    return PoseResult(frame_index=index, timestamp_ms=33.3 * index, subjects=[left, right])


def body_result(index: int = 3) -> PoseResult:
    """One person (#1) standing 2.5 m away, arms out."""
    x = [0, 0, -180, 180, -300, 300, -380, 380, 0, -100, 100, -110, 110, -120, 120]
    y = [-700, -550, -500, -500, -300, -300, -80, -80, -200, 50, 50, 450, 450, 850, 850]
    joints = np.stack([x, y, np.full(15, 2500.0)], axis=1).astype(np.float64)
    return PoseResult(frame_index=index, timestamp_ms=33.3 * index, subjects_key="people",
                      subjects=[Subject(1, joints[8].copy(), joints, np.ones(15), 0.9)])


def _count(image: np.ndarray, bgr, box=None) -> int:
    """Pixels of exactly this colour (in box (x0, y0, x1, y1) when given)."""
    if box is not None:
        x0, y0, x1, y1 = (max(0, int(v)) for v in box)
        image = image[y0:y1, x0:x1]
    return int((image == np.asarray(bgr, np.uint8)).all(axis=2).sum())


def _assert_panels(image: np.ndarray, result: PoseResult, skeleton, fps, hint: bool, crisp: bool = False) -> None:
    """The status text (top left) and the legend of the finger colours (bottom left), pixel for pixel."""
    status, legend = frame_panels(result, skeleton, image.shape[1], image.shape[0], fps, hint=hint, crisp=crisp)
    for panel in (status, legend):
        assert np.array_equal(image[panel.y:panel.y + panel.height, panel.x:panel.x + panel.width], panel.image)
    assert legend.y > image.shape[0] * 0.85 and status.y < image.shape[0] * 0.05
    for colour in set(skeleton_bgr(skeleton)):          # every colour group has its swatch in the legend
        assert _count(legend.image, colour) > 20, colour


def test_overlay_draws_each_joint_in_its_finger_colour(depth_mm):
    frame, result = make_frame(depth_mm), make_result()
    depth_before, joints_before = frame.depth_mm.copy(), result.joints_mm.copy()
    image = render_overlay(frame, result, HAND21, fps=30.0, view="full")
    assert image.dtype == np.uint8 and image.shape == (INTR.height, INTR.width, 3)
    uv = np.round(camera_to_pixel(HAND_MM, INTR)[:, :2]).astype(int)
    colours = skeleton_bgr(HAND21)
    for j, (u, v) in enumerate(uv):
        assert tuple(int(c) for c in image[v, u]) == colours[j], HAND21.joints[j]
    assert (image[300, :INVALID_COLUMNS] == 0).all()  # no depth -> black
    assert np.array_equal(frame.depth_mm, depth_before) and np.array_equal(result.joints_mm, joints_before)
    _assert_panels(image, result, HAND21, 30.0, hint=False)
    # By default the view fits the hand: zoomed so it fills a good share of the picture
    fitted = render_overlay(frame, result, HAND21, fps=30.0)
    mapping = ViewMap(view_rect(fit_goal(result, INTR, "hand"), INTR.width, INTR.height), INTR.width, INTR.height)
    assert mapping.zoom > 1.5
    px = mapping(camera_to_pixel(HAND_MM, INTR)[:, :2])
    for j, (u, v) in enumerate(np.round(px).astype(int)):
        assert tuple(int(c) for c in fitted[v, u]) == colours[j], HAND21.joints[j]
    assert np.ptp(px[:, 1]) > 0.3 * INTR.height          # a tenth of the picture before
    _assert_panels(fitted, result, HAND21, 30.0, hint=False)
    cv2.imwrite("/tmp/sinks_overlay_test.png", fitted)


def test_overlay_labels_every_subject_in_its_own_colour(depth_mm):
    """Two hands: both skeletons in the finger colours, each framed by a box in its id's colour
    with its label ("#1 left 0.97") on top; the legend and the status say what is shown."""
    frame, result = make_frame(depth_mm), two_hands()
    image = render_overlay(frame, result, HAND21, fps=25.0, view="full", hint=True)
    cv2.imwrite("/tmp/sinks_overlay_two_hands.png", image)
    colours = skeleton_bgr(HAND21)
    assert subject_bgr(1) != subject_bgr(4) and not {subject_bgr(1), subject_bgr(4)} & set(colours)
    for subject in result.subjects:
        uv = camera_to_pixel(np.asarray(subject.joints_mm), INTR)[:, :2]
        for j, (u, v) in enumerate(np.round(uv).astype(int)):
            assert tuple(int(c) for c in image[v, u]) == colours[j], (subject.id, HAND21.joints[j])
        (x0, y0), (x1, y1) = uv.min(axis=0), uv.max(axis=0)
        label = text_panel((subject_label(subject, "hand"),), ui_scale(INTR.height), (0, 0, 0), subject_bgr(subject.id))
        above = (x0 - 20, y0 - 20 - label.shape[0], x1 + 20, y0)        # the label, on top of the box
        assert _count(image, subject_bgr(subject.id), above) > 0.4 * _count(label, subject_bgr(subject.id))
        around = (x0 - 20, y0 - 20, x1 + 20, y1 + 20)                   # the box
        assert _count(image, subject_bgr(subject.id), around) > 2 * (y1 - y0)
        other = next(s.id for s in result.subjects if s.id != subject.id)
        assert _count(image, subject_bgr(other), (x0 - 5, y0 - 5, x1 + 5, y1 + 5)) == 0
    assert [subject_label(s, "hand") for s in result.subjects] == ["#1 left 0.97", "#4 right 0.90"]
    assert status_lines(result, "hand", 25.0, hint=True) == ["25.0 fps  frame 7", "2 hands", "q / Esc: quit"]
    _assert_panels(image, result, HAND21, 25.0, hint=True)


def test_overlay_of_a_person(depth_mm):
    result = body_result()
    frame = DepthFrame(np.full((INTR.height, INTR.width), 3000.0, np.float32), INTR, 99.9, 3)
    image = render_overlay(frame, result, ITOP15, fps=None)
    cv2.imwrite("/tmp/sinks_overlay_body.png", image)
    assert subject_label(result.subjects[0], "body") == "#1 person"
    assert status_lines(result, "body") == ["frame 3", "1 person"]
    _assert_panels(image, result, ITOP15, None, hint=False)
    head_v = camera_to_pixel(result.subjects[0].joints_mm[:1], INTR)[0, 1]
    assert _count(image, subject_bgr(1), (0, 0, INTR.width, head_v)) > 200       # label and box, above the head
    assert _count(legend_panel(ITOP15, ui_scale(INTR.height)), skeleton_bgr(ITOP15)[2]) > 20   # right arm


def test_the_view_follows_the_subjects_without_shaking(depth_mm):
    """The view frames the hand; trembling joints do not move it; a hand that moves is followed,
    smoothly; without any hand for a while it goes back to the whole frame."""
    overlay = Overlay(HAND21)
    views = [overlay.follow(make_result(i), INTR) for i in range(3)]
    assert views[0][2] < INTR.height / 1.5 and all(np.array_equal(v, views[0]) for v in views)
    trembling = make_result(3)
    trembling.subjects[0].joints_mm = HAND_MM + [2.0, -2.0, 0.0]
    assert np.array_equal(overlay.follow(trembling, INTR), views[0])
    moved = make_result(4)
    moved.subjects[0].joints_mm = HAND_MM + [120.0, 0.0, 0.0]
    moved.subjects[0].centre_mm = moved.subjects[0].centre_mm + [120.0, 0.0, 0.0]
    steps = [overlay.follow(moved, INTR)[0] for _ in range(30)]
    assert views[0][0] < steps[0] < steps[1] < steps[-1]                  # eases over, no jump
    assert steps[-1] == pytest.approx(fit_goal(moved, INTR, "hand")[0], abs=1.0)
    for i in range(FIT_HOLD_RESULTS + 30):
        view = overlay.follow(make_result(i, found=False), INTR)
    assert view == pytest.approx([INTR.width / 2, INTR.height / 2, INTR.height], abs=1.0)
    image = overlay.render(make_frame(depth_mm), make_result())
    assert image.shape == (INTR.height, INTR.width, 3)


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
    cam = HAND_MM @ sensor_view_extrinsic(result.centre_mm)[:3, :3].T
    us = np.round(focal_px * cam[:, 0] / cam[:, 2] + width / 2 - 0.5).astype(int)
    vs = np.round(focal_px * cam[:, 1] / cam[:, 2] + height / 2 - 0.5).astype(int)
    colours = np.asarray(skeleton_bgr(HAND21), np.int32)
    for j in range(HAND21.num_joints):
        assert np.abs(image[vs[j], us[j]].astype(np.int32) - colours[j]).max() <= 12, HAND21.joints[j]
    cloud_grey = (np.ptp(image.astype(np.int32), axis=2) < 4) & (image.mean(axis=2) > 60)
    assert cloud_grey.mean() > 0.2  # the point cloud fills the view around the hand
    _assert_panels(image, result, HAND21, None, hint=True, crisp=True)   # status and legend over the 3D view


def test_open3d_draws_every_subject_with_its_label(tmp_path, depth_mm):
    """Two hands: a skeleton mesh per subject slot, each hand's box and label in its colour, the
    view framing both; slots are kept (not made again) while the number of hands changes."""
    from handpose_live.sinks.open3d_viewer import Open3DViewer, open3d_window_available
    available, how = open3d_window_available()
    if not available:
        pytest.skip(f"Open3D cannot create any window here: {how}")
    width, height = 640, 480
    result = two_hands()
    with Open3DViewer(HAND21, width=width, height=height, visible=False, max_subjects=2) as viewer:
        meshes = [slot.mesh for slot in viewer._slots]
        viewer.draw(make_frame(depth_mm), result, 20.0)
        viewer.screenshot(tmp_path / "two.png")
        focal_px, extrinsic = viewer._view[0], viewer._view[1]
        viewer.draw(make_frame(depth_mm, 8), make_result(8), 20.0)      # one hand: the other slot hides
        viewer.screenshot(tmp_path / "one.png")
        assert [slot.mesh for slot in viewer._slots] == meshes          # the same meshes, not new ones
        assert not np.asarray(meshes[1].vertices).any()                 # collapsed to a point
        three = two_hands(9)
        third = Subject(7, three.subjects[0].centre_mm + [0, 150, 0], three.subjects[0].joints_mm + [0, 150, 0],
                        np.ones(21), 0.7, handedness="left", handedness_score=0.6)
        three.subjects.append(third)
        viewer.draw(make_frame(depth_mm, 9), three, 20.0)                # more than made up front: one more slot
        assert viewer.slots == 3 and [slot.mesh for slot in viewer._slots][:2] == meshes
    image, one = cv2.imread(str(tmp_path / "two.png")), cv2.imread(str(tmp_path / "one.png"))
    cv2.imwrite("/tmp/sinks_open3d_two_hands.png", image)
    colours = np.asarray(skeleton_bgr(HAND21), np.int32)
    for subject in result.subjects:
        cam = np.asarray(subject.joints_mm) @ extrinsic[:3, :3].T + extrinsic[:3, 3]
        uv = focal_px * cam[:, :2] / cam[:, 2:3] + [width / 2 - 0.5, height / 2 - 0.5]
        assert (uv > 0).all() and (uv < [width, height]).all()             # both hands in the view
        for j in (4, 8, 12, 16, 20):                                       # the finger tips, in their colours
            u, v = np.round(uv[j]).astype(int)
            assert np.abs(image[v, u].astype(np.int32) - colours[j]).max() <= 12, (subject.id, HAND21.joints[j])
        (x0, y0), (x1, y1) = uv.min(axis=0), uv.max(axis=0)
        assert _count(image, subject_bgr(subject.id), (x0 - 30, y0 - 60, x1 + 30, y1 + 30)) > 300   # box and label
    _assert_panels(image, result, HAND21, 20.0, hint=True, crisp=True)
    assert _count(one, subject_bgr(1)) == 0 and _count(one, subject_bgr(4)) > 300    # hand #1's label went with it


def test_open3d_is_imported_without_dash_and_its_plotly_helpers_still_work():
    """open3d_import.load(): Open3D imported without Dash/Plotly, then its Plotly helper called through the
    stand-in imports the real module and returns a real figure (a fresh process: the test's own may hold Open3D)"""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from handpose_live.open3d_import import load\n"
            "o3d = load()\n"
            "assert 'open3d' in sys.modules and 'dash' not in sys.modules and 'plotly' not in sys.modules\n"
            "cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.eye(3)))\n"
            "fig = o3d.visualization.get_plotly_fig([cloud])\n"
            "assert 'dash' in sys.modules and type(fig).__name__ == 'Figure', type(fig)\n"
            "from open3d.visualization.draw_plotly import Dash\n"
            "print('ok', len(fig.data))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("ok 1"), proc.stderr[-2000:]
