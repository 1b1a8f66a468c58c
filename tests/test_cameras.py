"""The camera registry: a camera is one entry, and `open_source`, `--camera auto`, recordings, `record`,
`doctor` and the help texts all follow it (no list of camera names anywhere else)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handpose_live.capture import cameras, open_source
from handpose_live.capture.base import FrameSource
from handpose_live.commands.record import RecordOptions, record
from handpose_live.errors import UserError
from handpose_live.types import DepthFrame, Intrinsics

INTR = Intrinsics(fx=50.0, fy=50.0, cx=32.0, cy=24.0, width=64, height=48)


class Fake(FrameSource):
    name, live = "fake camera", True

    def __init__(self, request: cameras.CameraRequest | None = None, path: Path | None = None, **_) -> None:
        self.request, self.path = request, path

    @property
    def intrinsics(self) -> Intrinsics:
        return INTR

    def frames(self):
        for i in range(3):
            yield DepthFrame(np.full((48, 64), 500.0 + i, np.float32), INTR, timestamp_ms=33.0 * i, index=i)


def _write(path, frames, intrinsics, fps=30) -> int:
    frames = list(frames)
    Path(path).write_text(f"{len(frames)} frames {intrinsics.width}x{intrinsics.height} @ {fps}\n")
    return len(frames)


@pytest.fixture
def fake(monkeypatch):
    """A camera added as one entry: opener, devices, doctor check, a recording type with its writer."""
    entry = cameras.Camera("fakecam", "FakeCam", lambda request: Fake(request), lambda: [{"serial": "F1"}],
                           lambda: (True, "fake SDK 1.0"), (cameras.Recording(".fake", lambda path, **_: Fake(path=path),
                                                                              _write),), help="a test double")
    monkeypatch.setattr(cameras, "CAMERAS", {"fakecam": entry, **cameras.CAMERAS})
    return entry


def test_a_camera_is_one_registry_entry(fake, tmp_path):
    source = open_source("fakecam", width=320, height=240, fps=15, serial="F1")
    assert isinstance(source, Fake) and (source.request.width, source.request.height, source.request.fps) == (320, 240, 15)
    auto = open_source("auto")                              # the first in the table with a device connected
    assert auto.name == "fake camera (auto: first connected camera, FakeCam F1)"
    assert open_source("auto", tmp_path / "take.fake").path == tmp_path / "take.fake"
    assert "fakecam (a test double)" in cameras.camera_help() and "FakeCam" in cameras.devices_text()
    assert ".fake" in cameras.recording_types_text() and ".fake (FakeCam)" in cameras.recordings_by_camera_text()
    with pytest.raises(UserError, match="reports its own calibration"):
        open_source("fakecam", intrinsics=INTR)


def test_record_writes_a_registered_type(fake, tmp_path, capsys):
    out = tmp_path / "take.fake"
    assert record(RecordOptions(camera="fakecam", frames=2, out=out)) == 2
    assert out.read_text() == "2 frames 64x48 @ 30\n"
    assert capsys.readouterr().out.startswith(f"wrote {out}: 2 depth frames 64x48 @ 30 fps from fake camera")
    types = r"\(use .fake \(FakeCam\), .db3 or .bag \(RealSense\), .mkv \(Azure Kinect\)\)"
    with pytest.raises(UserError, match=rf"cannot record '.txt' files {types}"):
        record(RecordOptions(camera="fakecam", frames=2, out=tmp_path / "take.txt"))


@pytest.mark.slow
def test_doctor_checks_each_registered_camera(fake, monkeypatch):
    from handpose_live.commands import doctor

    monkeypatch.setattr(doctor, "CAMERAS", cameras.CAMERAS)
    rows = {}
    monkeypatch.setattr(doctor.Table, "add_row", lambda self, name, status, detail: rows.setdefault(name, detail))
    doctor.run_doctor()
    assert rows["FakeCam"] == "fake SDK 1.0" and {"RealSense", "Azure Kinect", "Orbbec"} <= set(rows)


def test_unknown_cameras_and_serials_are_one_line(monkeypatch):
    with pytest.raises(UserError, match=r"unknown camera 'webcam' \(choose from auto, realsense, kinect, orbbec, synthetic\)"):
        open_source("webcam")
    monkeypatch.setattr(cameras, "connected", lambda camera: [])
    with pytest.raises(UserError, match="no RealSense, Azure Kinect or Orbbec camera with serial 42 is connected"):
        open_source("auto", serial="42")


def test_ros_recordings_claim_their_files_before_librealsense(tmp_path):
    """A .bag/.db3 goes to the ROS reader only when it is a ROS recording; a folder with metadata.yaml
    is a ROS 2 bag; a suffix no type has is None."""
    from handpose_live.capture import cameras

    folder = tmp_path / "rosbag2_take"
    folder.mkdir()
    (folder / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    camera, recording = cameras.recording_type(folder)
    assert camera is None and recording.topics and recording.label == "ROS 2 bag folder"
    camera, recording = cameras.recording_type(tmp_path / "take.mcap")
    assert camera is None and recording.label == "ROS 2 bag"
    missing = tmp_path / "librealsense.db3"      # not a ROS recording (no file): librealsense's player
    camera, recording = cameras.recording_type(missing)
    assert camera.name == "realsense" and not recording.topics
    assert cameras.recording_type(tmp_path / "x.avi") is None
    assert cameras.recording_type(tmp_path / "out.mcap", writable=True) is None     # record writes no ROS bags
    assert "a ROS 2 bag folder" in cameras.recording_types_text()
