"""The viewer on its own thread: the pipeline hands results over and never waits for drawing.

What is checked, without any timing assert (events and gates decide the order, time limits only
keep a broken build from hanging the suite):
- the latest-only slot keeps the newest result and counts the stale ones;
- the thread draws the newest result and skips the stale ones, while `write` returns at once;
- quit (the viewer's `poll`) reaches `quit_requested`, and ends `run`, with a real window;
- a screenshot shows the newest result, exactly as the same viewer drawn in the caller's thread;
- an error in the viewer thread surfaces in the caller (and in `run`, one line), never a hang.

The windows are real: the OpenCV (Qt) and Open3D (GLFW) windows of `run` in an X server (Xvfb,
skipped when not installed), and Open3D's off-screen (EGL) renderer in-process. Qt can drive its
windows from one thread per process only, so real-window runs each get a process of their own.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from openhand import HAND_MM, INTR

from handpose_live.errors import UserError
from handpose_live.sinks import base
from handpose_live.sinks.base import Viewer
from handpose_live.sinks.opencv_viewer import OpenCvViewer
from handpose_live.sinks.overlay import Overlay, frame_panels, render_overlay, skeleton_bgr, subject_bgr
from handpose_live.sinks.viewer_thread import LatestSlot, ViewerThread
from handpose_live.skeletons import HAND21
from handpose_live.types import DepthFrame, PoseResult, Subject

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 60.0    # a limit that only a broken build reaches


def make_frame(index: int) -> DepthFrame:
    """A wall at 600 mm with a palm-sized box in front of it, moved sideways by `index` mm."""
    depth = np.full((INTR.height, INTR.width), 600.0, np.float32)
    depth[180:300, 260 + index:380 + index] = 560.0
    return DepthFrame(depth, INTR, timestamp_ms=33.3 * index, index=index)


def make_result(index: int, found: bool = True) -> PoseResult:
    if not found:
        return PoseResult(frame_index=index, timestamp_ms=33.3 * index)
    shift = np.array([float(index), 0.0, 0.0])
    hand = Subject(0, np.array([0.0, 0.0, 560.0]) + shift, HAND_MM + shift, np.ones(21), 1.0, handedness="right",
                   handedness_score=0.9)
    return PoseResult(frame_index=index, timestamp_ms=33.3 * index, subjects=[hand])


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S:g} s: {what}")
        time.sleep(0.01)


class GatedViewer(Viewer):
    """A viewer with a window nobody sees: draws the real overlay, records what it drew, and can
    be held in `draw` (gate), asked to quit (`quit_now`) or made to fail on a given frame."""

    showing = True

    def __init__(self, fail_on: int | None = None) -> None:
        self.drawn: list[int] = []
        self.observed: list[int] = []
        self.images: list[np.ndarray] = []
        self.gate = threading.Event()
        self.gate.set()
        self.in_draw = threading.Event()
        self.quit_now = threading.Event()
        self.fail_on = fail_on
        self.closed_on: str | None = None
        self._cond = threading.Condition()

    def draw(self, frame, result, fps=None) -> None:
        self.in_draw.set()
        if not self.gate.wait(WAIT_S):
            raise RuntimeError("gate never opened")
        if frame.index == self.fail_on:
            raise RuntimeError("GL context lost")
        image = render_overlay(frame, result, HAND21, fps=fps)
        with self._cond:
            self.drawn.append(frame.index)
            self.images.append(image)
            self._cond.notify_all()

    def observe(self, result) -> None:
        self.observed.append(result.frame_index)

    def poll(self) -> bool:
        if self.quit_now.is_set():
            self.quit_requested = True
        return self.quit_requested

    def screenshot(self, path) -> None:
        cv2.imwrite(str(path), self.images[-1])

    def close(self) -> None:
        self.closed_on = threading.current_thread().name

    def wait_drawn(self, index: int) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: index in self.drawn, WAIT_S):
                pytest.fail(f"frame {index} was never drawn (drawn: {self.drawn})")


def start(viewer: Viewer, **kwargs) -> ViewerThread:
    return ViewerThread(lambda: viewer, "test", **kwargs)


# ---- the latest-only slot and the thread ---------------------------------------------------

def test_latest_slot_keeps_the_newest_and_counts_the_stale():
    slot = LatestSlot()
    assert slot.take() is None and not slot.full
    for item in ("a", "b", "c"):
        slot.put(item)
    assert slot.full and slot.take() == "c" and not slot.full and slot.take() is None
    slot.put("d")
    assert slot.take() == "d"
    assert (slot.puts, slot.replaced) == (4, 2)
    noted = LatestSlot(note=str.upper)
    for item in ("a", "b", "c"):
        noted.put(item)
    assert noted.take_notes() == ["A", "B"] and noted.take() == "c" and noted.take_notes() == []


def test_viewer_thread_draws_the_newest_result_and_skips_stale_ones():
    viewer = GatedViewer()
    viewer.gate.clear()
    shown = start(viewer)
    shown.write(make_frame(0), make_result(0))
    assert viewer.in_draw.wait(WAIT_S)                 # the thread is inside draw(0), held there

    def pipeline():                                    # the pipeline's side: must never wait for drawing
        for i in range(1, 6):
            shown.write(make_frame(i), make_result(i))
    producer = threading.Thread(target=pipeline)
    producer.start()
    producer.join(WAIT_S)
    assert not producer.is_alive(), "write waited for the viewer"
    assert viewer.drawn == []                           # draw(0) still held: all five writes returned anyway
    viewer.gate.set()
    viewer.wait_drawn(5)
    shown.close()
    assert viewer.drawn == [0, 5]                       # 1-4 were stale when the viewer got to them
    assert viewer.observed == [1, 2, 3, 4]              # ... and seen, in order, without being drawn
    assert shown.stale == 4 and shown.draws == 2
    summary = shown.summary()
    assert summary["results"] == 6 and summary["draws"] == 2 and summary["stale"] == 4
    assert viewer.closed_on == "viewer-test"            # created, drawn and closed on its own thread
    with pytest.raises(ValueError, match="closed"):
        shown.write(make_frame(6), make_result(6))


def test_the_viewer_yields_when_the_pipeline_misses_frames():
    from handpose_live.sinks.viewer_thread import MAX_DRAW_SHARE
    viewer = GatedViewer()
    shown = start(viewer)
    shown.write(make_frame(0), make_result(0))
    viewer.wait_drawn(0)
    assert shown.draw_share == MAX_DRAW_SHARE
    shown.write(make_frame(5), make_result(5))          # frames 1-4 of the camera never reached the viewer
    viewer.wait_drawn(5)
    wait_until(lambda: shown.draw_share < MAX_DRAW_SHARE, "the draw share to drop")
    shown.close()
    assert shown.draw_share == MAX_DRAW_SHARE / 2
    assert shown.summary()["missed"] == 4 and shown.summary()["lowest_draw_share"] == MAX_DRAW_SHARE / 2


def test_quit_in_the_viewer_reaches_quit_requested():
    viewer = GatedViewer()
    shown = start(viewer)
    shown.write(make_frame(0), make_result(0))
    viewer.wait_drawn(0)
    assert not shown.quit_requested
    viewer.quit_now.set()                              # the user pressed q (or closed the window)
    wait_until(lambda: shown.quit_requested, "quit_requested")
    shown.close()


def test_screenshot_shows_the_newest_result_as_drawn_in_one_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(base.FpsMeter, "tick", lambda self: 30.0)   # the fps printed on the overlay
    threaded_shot, plain_shot = tmp_path / "threaded.png", tmp_path / "plain.png"
    shown = ViewerThread(lambda: OpenCvViewer(HAND21, window=False, screenshot_path=threaded_shot), "opencv")
    plain = OpenCvViewer(HAND21, window=False, screenshot_path=plain_shot)
    for i in range(4):
        shown.write(make_frame(i), make_result(i, found=i != 2))
        plain.write(make_frame(i), make_result(i, found=i != 2))
    mid = tmp_path / "mid.png"
    shown.screenshot(mid)                              # drawn on request: the newest result, frame 3
    shown.write(make_frame(4), make_result(4))
    plain.write(make_frame(4), make_result(4))
    shown.close()
    plain.close()
    # the view follows the hand through every result, the skipped ones too (which carry no frame
    # here: the thread hands the viewer their frame's camera), so both show the same picture
    pairs = [(make_frame(i), make_result(i, found=i != 2)) for i in range(5)]
    expected = followed_picture(pairs)
    assert np.array_equal(cv2.imread(str(threaded_shot)), expected)
    assert np.array_equal(cv2.imread(str(plain_shot)), expected)
    assert np.array_equal(cv2.imread(str(mid)), followed_picture(pairs[:4]))
    assert not np.array_equal(expected, render_overlay(*pairs[-1], HAND21, fps=30.0, hint=True))   # history counts
    other = ViewerThread(lambda: OpenCvViewer(HAND21, window=False), "opencv")
    other.write(make_frame(0), make_result(0))
    with pytest.raises(UserError, match="cannot write image"):   # the caller's error, the viewer goes on
        other.screenshot(tmp_path / "x.unknown")
    other.screenshot(tmp_path / "x.png")
    other.close()
    assert (tmp_path / "x.png").exists()


def followed_picture(pairs: list, fps: float = 30.0) -> np.ndarray:
    """What an OpenCV viewer shows after these (frame, result) pairs: its view followed each one."""
    overlay = Overlay(HAND21, hint=True)
    for frame, result in pairs:
        view = overlay.follow(result, frame.intrinsics)
    return render_overlay(frame, result, HAND21, fps=fps, view=view, hint=True)


def test_open3d_screenshot_from_its_thread_matches_one_drawn_in_place(tmp_path, monkeypatch):
    """Off-screen the thread draws only for the image, yet the image is the one a viewer drawing
    every frame shows: the view follows the subject through the skipped results too."""
    from handpose_live.sinks.open3d_viewer import Open3DViewer, open3d_window_available
    monkeypatch.setattr(base.FpsMeter, "tick", lambda self: 30.0)   # the fps in the status text
    available, how = open3d_window_available()
    if not available:
        pytest.skip(f"Open3D cannot create any window here: {how}")
    pairs = [(make_frame(i), make_result(i * 8, found=i != 3)) for i in range(6)]   # the hand moves right
    shown = ViewerThread(lambda: Open3DViewer(HAND21, width=480, height=360, visible=False), "open3d")
    for frame, result in pairs:
        shown.write(frame, result)
    shown.screenshot(tmp_path / "threaded.png")
    shown.close()
    assert shown.draws == 1 and shown.stale == 5
    with Open3DViewer(HAND21, width=480, height=360, visible=False) as plain:
        for frame, result in pairs:
            plain.write(frame, result)
        plain.screenshot(tmp_path / "plain.png")
    with Open3DViewer(HAND21, width=480, height=360, visible=False) as last_only:
        last_only.write(*pairs[-1])
        last_only.screenshot(tmp_path / "last_only.png")
    threaded, drawn = cv2.imread(str(tmp_path / "threaded.png")), cv2.imread(str(tmp_path / "plain.png"))
    assert threaded.shape == (360, 480, 3)
    assert np.array_equal(threaded, drawn)
    assert not np.array_equal(threaded, cv2.imread(str(tmp_path / "last_only.png")))   # the history counts
    colours = np.asarray(skeleton_bgr(HAND21), np.int32)
    above_legend = threaded[:-60].astype(np.int32)
    index_colour = (np.abs(above_legend - colours[5]).max(axis=2) <= 12).sum()
    assert index_colour > 20                            # the skeleton is in it


def test_an_error_in_the_viewer_thread_is_raised_by_the_next_write():
    viewer = GatedViewer(fail_on=1)
    shown = start(viewer)
    shown.write(make_frame(0), make_result(0))
    viewer.wait_drawn(0)
    shown.write(make_frame(1), make_result(1))         # the viewer fails on this one and its thread ends
    assert shown.join(WAIT_S)
    with pytest.raises(RuntimeError, match="GL context lost"):
        shown.write(make_frame(2), make_result(2))
    shown.close()                                       # raised once, not again
    assert viewer.closed_on == "viewer-test"           # the window went, on its own thread


def test_a_viewer_that_cannot_open_fails_at_once():
    def no_window():
        raise UserError("cannot open an Open3D window: no display and no EGL")
    threads_before = threading.active_count()
    with pytest.raises(UserError, match="cannot open an Open3D window"):
        ViewerThread(no_window, "open3d")
    assert threading.active_count() == threads_before


def test_a_hung_viewer_does_not_hang_close(monkeypatch):
    import handpose_live.sinks.viewer_thread as viewer_thread
    monkeypatch.setattr(viewer_thread, "CALL_TIMEOUT_S", 0.2)
    viewer = GatedViewer()
    viewer.gate.clear()
    shown = start(viewer)
    shown.write(make_frame(0), make_result(0))
    assert viewer.in_draw.wait(WAIT_S)
    with pytest.raises(UserError, match="did not close within"):
        shown.close()
    viewer.gate.set()
    assert shown.join(WAIT_S)


def test_screenshot_at_close_that_fails_is_raised_by_close(tmp_path):
    target = tmp_path / "gone" / "shot.png"
    target.parent.mkdir()
    shown = ViewerThread(lambda: OpenCvViewer(HAND21, window=False, screenshot_path=target), "opencv")
    shown.write(make_frame(0), make_result(0))
    target.parent.rmdir()
    with pytest.raises(UserError, match="shot.png"):
        shown.close()


# ---- `run` with real windows in an X server --------------------------------------------------


PATCHED_RUN = """
import sys
from handpose_live.sinks.open3d_viewer import Open3DViewer
from handpose_live.sinks.opencv_viewer import OpenCvViewer
mode = sys.argv[1]
for cls in (Open3DViewer, OpenCvViewer):
    draw, poll = cls.draw, cls.poll
    def patched_draw(self, frame, result, fps=None, _draw=draw):
        self.draws_done = getattr(self, "draws_done", 0) + 1
        if mode == "fail" and self.draws_done == 3:
            raise RuntimeError("GL context lost")
        _draw(self, frame, result, fps)
    def patched_poll(self, _poll=poll):
        _poll(self)
        if mode == "quit" and getattr(self, "draws_done", 0) >= 3:   # as if q was pressed then
            self.quit_requested = True
        return self.quit_requested
    cls.draw, cls.poll = patched_draw, patched_poll
from handpose_live.commands.cli import main
sys.argv = ["handpose-live", *sys.argv[2:]]
main()
"""


def run_in_display(display: str, *args, mode: str = "plain") -> subprocess.CompletedProcess:
    env = {**os.environ, "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, "-c", PATCHED_RUN, mode, "run", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("viewer", ["opencv", "open3d"])
def test_quit_in_the_window_stops_an_endless_run(xvfb_display, viewer):
    # the synthetic camera without --frames never ends: only the viewer's quit can stop this run
    proc = run_in_display(xvfb_display, "--camera", "synthetic", "--viewer", viewer, mode="quit")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "frames processed" in proc.stderr and "viewer: " in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("viewer", ["opencv", "open3d"])
def test_an_error_in_the_viewer_thread_ends_run_with_one_line(xvfb_display, viewer):
    proc = run_in_display(xvfb_display, "--camera", "synthetic", "--viewer", viewer, "--quiet", mode="fail")
    err = proc.stderr.strip()
    assert proc.returncode == 1, err[-2000:]
    assert err.startswith("error: ") and "GL context lost" in err and len(err.splitlines()) == 1, err[-2000:]


@pytest.mark.slow
def test_screenshot_of_the_opencv_window_is_the_headless_one(xvfb_display, tmp_path):
    from handpose_live.capture.record import write_db3
    from handpose_live.capture.synthetic import SyntheticCamera

    camera = SyntheticCamera(seed=3, frames=6)
    recording = tmp_path / "hand.db3"
    write_db3(recording, list(camera.frames()), camera.intrinsics)
    shots = {}
    for display, viewer in ((xvfb_display, "opencv"), ("", "none")):
        shots[viewer] = tmp_path / f"{viewer}.png"
        proc = run_in_display(display, "--input", recording, "--viewer", viewer, "--screenshot", shots[viewer],
                              "--quiet")
        assert proc.returncode == 0, proc.stderr[-2000:]
    window, headless = (cv2.imread(str(shots[v])) for v in ("opencv", "none"))
    assert window.shape == headless.shape == (480, 640, 3)
    window[:70, :240] = headless[:70, :240] = 0          # the status text: the fps of this run
    assert np.array_equal(window, headless)             # the same last frame, drawn the same way (view, labels)
    above_legend = window[:-40].astype(np.int32)
    assert (np.abs(above_legend - skeleton_bgr(HAND21)[5]).max(axis=2) == 0).sum() > 20
    assert (np.abs(above_legend - subject_bgr(0)).max(axis=2) == 0).sum() > 100      # hand #0's box and label


@pytest.mark.slow
def test_screenshot_of_the_open3d_window_shows_the_skeleton(xvfb_display, tmp_path):
    shot = tmp_path / "open3d.png"
    proc = run_in_display(xvfb_display, "--camera", "synthetic", "--frames", 30, "--viewer", "open3d",
                          "--screenshot", shot)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "viewer: " in proc.stderr and "no window" not in proc.stderr
    image = cv2.imread(str(shot))
    assert image.shape == (720, 960, 3)
    cv2.imwrite("/tmp/viewer_thread_open3d_xvfb.png", image)
    above_legend = image[:-60]
    b, g, r = above_legend[..., 0].astype(int), above_legend[..., 1].astype(int), above_legend[..., 2].astype(int)
    assert ((r > 200) & (g > 120) & (g < 200) & (b < 60)).sum() > 20     # the index finger's orange
    # the annotations drawn over the 3D view in a real window too, pixel for pixel: status, legend
    shown = image.copy()
    legend = next(p for p in frame_panels(PoseResult(0, 0.0), HAND21, 960, 720, crisp=True) if p.y > 360)
    assert np.array_equal(shown[legend.y:legend.y + legend.height, legend.x:legend.x + legend.width], legend.image)
    assert (np.abs(image.astype(np.int32) - subject_bgr(0)).max(axis=2) == 0).sum() > 100   # hand #0's box and label


# ---- `bench --viewer`: the whole app next to the pipeline alone -----------------------------

@pytest.mark.slow
def test_bench_runs_the_app_with_each_viewer_next_to_the_pipeline(xvfb_display):
    import json

    env = {**os.environ, "DISPLAY": xvfb_display}
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "bench", "--frames", "20", "--viewer", "none",
                           "--viewer", "opencv", "--json"], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pipeline, *apps = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "stages_ms" in pipeline and "kind" not in pipeline
    assert [a["viewer"] for a in apps] == ["none", "opencv"] and all(a["kind"] == "app" for a in apps)
    for a in apps:
        # the live source runs until the app stops after 20 results: at least 20 frames came in
        assert a["frames"] == 20 and a["frames_in"] >= 20 and a["frames"] + a["dropped"] <= a["frames_in"] and a["fps"] > 0
        assert a["source_alone_fps"] > 0
    assert apps[0]["viewer_draws"] is None
    assert apps[1]["window"] and apps[1]["viewer_draws"] >= 1 and apps[1]["viewer_stale"] >= 0


def test_bench_refuses_an_unknown_viewer_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "bench", "--frames", "5", "--viewer", "vr"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("error: ") and "unknown viewer 'vr'" in err
    assert len(err.splitlines()) == 1
