"""Whole-frame scenes of real rooms, for training and measuring the person detector.

A hand-held or wall-mounted depth camera in an office or lab: a floor seen at the camera's tilt,
a back wall and often side walls, furniture (desks with monitors, office chairs, tables, shelves,
cabinets, boxes) and 0-4 people walking, standing, reaching or sitting at desks, crossing and
hiding each other, some half out of view at the image borders. Three kinds of view:
- `office`: the camera at 0.8-1.8 m, tilted 0-25 degrees down, people 0.8-6 m away;
- `desk`: the camera on a desk or monitor (0.9-1.4 m), one person 0.5-1.5 m in front of it with
  only the upper body in view (cut by the image border), arms down or moving; others behind;
- `high`: the camera high on a wall (2.2-3.0 m) looking 25-50 degrees down at the room.
Each frame is seen through one of the cameras people use for bodies (`ROOM_CAMERAS`) with its
sensor family (Kinect v1 structured light, Kinect v2 / Azure Kinect / Orbbec Femto time of flight,
RealSense stereo), rendered at the detector's resolution: the camera's image strided as
`inference/detector.py` strides it, the middle 160x120 of it (a smaller strided image is padded
with invalid pixels, as the detector sees it).

The same rooms are the `rooms` world of the body datasets (`synth --target body --world rooms`,
`sample_room_body`): seen at the dataset camera's full resolution, one person whose upper body is
in view is the subject (its torso the cube's centre, all 15 joints labels, those out of view or
hidden too), everything else (the other people, the furniture, the walls) is around it, and each
frame has one of three sensor families with its range in rooms (`ROOM_SENSORS`). This is what
teaches the body pose model people cut by the image border and people among furniture.

The label of a person is the torso joint's pixel (clipped into the image when the torso is below
its border) and camera-space position; a person counts when at least `MIN_UPPER_VISIBLE` of the
upper-body joints (head, neck, shoulders, torso, hips) are visible. Room frame: y up, the floor at
y = 0, the camera near x = z = 0 looking towards -z; people face +z (the camera) give or take.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..geometry import camera_to_pixel
from ..types import Intrinsics
from .body import look_at, sample_body_pose, yaw_rotation
from .render import Background, Plane, render_depth_mm
from .sensor import SENSORS, SensorModel
from .shapes import Surface, rotation_about
from .world import VISIBILITY_TOL_MM, Subject, body_subject, furniture

# Camera preset -> its sensor family and working range (mm) in rooms. Orbbec Femto (Bolt, Mega) has
# the Azure Kinect's depth modes. Kinect v1's hand-range family stops at 4 m; in rooms it reads on.
ROOM_CAMERAS = {"kinect-v1": ("kinect-v1", 400.0, 8000.0), "kinect-v2": ("tof", 500.0, 6000.0),
                "azure-kinect-nfov": ("tof", 500.0, 3860.0), "azure-kinect-wfov": ("tof", 250.0, 2880.0),
                "d435-640x480": ("d4xx", 200.0, 10000.0)}
VIEWS = {"office": 0.55, "desk": 0.25, "high": 0.20}
SIZE = (160, 120)                        # the detector's input for 640x480 strided by 4
UPPER = (0, 1, 2, 3, 8, 9, 10)            # ITOP15 head, neck, shoulders, torso, hips
MIN_UPPER_VISIBLE = 3
MIN_FOCAL_PX = 90.0                       # as inference/detector.py strides a camera
EDGE_JUMP_MM = 150.0                      # a silhouette at the detector's resolution
_UP = np.array([0.0, 1.0, 0.0])
# The body datasets' rooms world: each frame's sensor family (shares), and that family with the range
# ROOM_CAMERAS gives it on a D435, a Kinect v1 and a Kinect v2 (Azure Kinect / Orbbec Femto: time of flight).
ROOM_SENSOR_MIX = {"d4xx": 0.35, "kinect-v1": 0.3, "tof": 0.35}
ROOM_SENSORS = {family: replace(SENSORS[family], min_depth_mm=near, max_depth_mm=far)
                for family, near, far in (ROOM_CAMERAS[c] for c in ("d435-640x480", "kinect-v1", "kinect-v2"))}


@dataclass
class ScenePerson:
    centre_mm: np.ndarray       # torso joint, camera mm
    centre_px: np.ndarray       # its pixel (u, v) in the rendered image, clipped into it
    visible_upper: int          # upper-body joints visible
    joints_mm: np.ndarray       # [15, 3] ITOP15, camera mm


def detector_view(intr: Intrinsics, size: tuple[int, int] = SIZE) -> tuple[Intrinsics, tuple[int, int]]:
    """The camera as the detector sees it: strided like `inference/detector.py` (the largest stride up
    to 4 keeping fx / stride >= 90), the middle `size` of that image; and the strided image's size
    (pixels of the window outside it are invalid)."""
    s = int(min(4, max(1, intr.fx // MIN_FOCAL_PX)))
    w, h = intr.width // s, intr.height // s
    ox, oy = (w - size[0]) / 2.0, (h - size[1]) / 2.0
    view = Intrinsics(intr.fx / s, intr.fy / s, intr.cx / s - ox, intr.cy / s - oy, size[0], size[1], intr.depth_scale_m)
    return view, (w, h)


def _office_chair(at: np.ndarray, facing: float, s: Surface) -> None:
    """Seat, back, column and five-star base; `facing` = yaw of the seat's front (radians)."""
    r = rotation_about(_UP, facing)
    h = 460.0
    s.ellipsoid(at + [0, h, 0], r @ np.diag([230.0, 40, 220]))
    s.ellipsoid(at + r @ [0, h + 300, -200], r @ np.diag([210.0, 240, 35]))
    s.capsule(at + [0, 80, 0], at + [0, h, 0], 25)
    for k in range(5):
        d = rotation_about(_UP, facing + 2 * np.pi * k / 5) @ [0, 0, 300.0]
        s.capsule(at + [0, 80, 0], at + d + [0, 40, 0], 20, 15)


def _desk(rng: np.random.Generator, at: np.ndarray, yaw: float, s: Surface) -> None:
    """A desk (top, legs or side panels) with a monitor on it half of the time."""
    r = rotation_about(_UP, yaw)
    w, d, h = rng.uniform(550, 900), rng.uniform(300, 450), rng.uniform(700, 760)
    s.ellipsoid(at + [0, h, 0], r @ np.diag([w, 20, d]))
    if rng.random() < 0.5:
        for sx in (-0.9, 0.9):
            for sz in (-0.85, 0.85):
                s.capsule(at + r @ [sx * w, 0, sz * d], at + r @ [sx * w, h, sz * d], 25)
    else:
        for sx in (-0.95, 0.95):
            s.ellipsoid(at + r @ [sx * w, h / 2, 0], r @ np.diag([18.0, h / 2, d]))
    if rng.random() < 0.5:
        mw = rng.uniform(250, 350)
        s.ellipsoid(at + r @ [rng.uniform(-0.4, 0.4) * w, h + 280, -0.5 * d], r @ np.diag([mw, 170, 25]))
        s.capsule(at + r @ [0, h, -0.5 * d], at + r @ [0, h + 150, -0.5 * d], 30)


def _thing(rng: np.random.Generator, at: np.ndarray, s: Surface) -> None:
    """Something standing on the floor: a desk, an office chair, a shelf or cabinet, or the
    tables, chairs and boxes of the crowded body world."""
    kind = rng.choice(["desk", "chair", "shelf", "other"], p=[0.3, 0.3, 0.15, 0.25])
    yaw = rng.uniform(-np.pi, np.pi)
    if kind == "desk":
        _desk(rng, at, yaw, s)
    elif kind == "chair":
        _office_chair(at, yaw, s)
    elif kind == "shelf":
        w, d, h = rng.uniform(300, 600), rng.uniform(150, 250), rng.uniform(500, 1000)
        s.ellipsoid(at + [0, h, 0], rotation_about(_UP, yaw) @ np.diag([w, h, d]))
    else:
        s.extend(furniture(rng, at))


def _camera(rng: np.random.Generator, view: str) -> tuple[np.ndarray, np.ndarray]:
    """World -> camera rotation and the camera's position (room frame, mm)."""
    if view == "high":
        height, pitch = rng.uniform(2200, 3000), rng.uniform(25, 50)
    elif view == "desk":
        height, pitch = rng.uniform(900, 1400), rng.uniform(-5, 12)
    else:
        height, pitch = rng.uniform(800, 1800), rng.uniform(0, 25)
    eye = np.array([0.0, height, 0.0])
    yaw = np.deg2rad(rng.uniform(-10, 10))
    forward = rotation_about(_UP, yaw) @ rotation_about([1.0, 0, 0], np.deg2rad(-pitch)) @ [0, 0, -1.0]
    up = rotation_about(forward, np.deg2rad(rng.normal(0, 2))) @ _UP
    return look_at(eye, eye + forward, up), eye


def _floor_point(rng: np.random.Generator, rot: np.ndarray, eye: np.ndarray, intr: Intrinsics, dist: float,
                 spread: float = 1.15) -> np.ndarray:
    """A point on the floor about `dist` mm in front of the camera, within the horizontal field of
    view widened by `spread` (beyond 1: half out of view at the borders)."""
    half = np.arctan(intr.width / 2.0 / intr.fx) * spread
    forward = rot[2] * [1, 0, 1]
    forward /= np.linalg.norm(forward)
    d = rotation_about(_UP, rng.uniform(-half, half)) @ forward
    p = eye + d * dist
    return np.array([p[0], 0.0, p[2]])


def _person(rng: np.random.Generator, at: np.ndarray, rot: np.ndarray, eye: np.ndarray, family: str | None,
            scene: Surface) -> Subject:
    pose = sample_body_pose(rng, family)
    toward = eye - at
    facing = np.arctan2(toward[0], toward[2])         # yaw that turns +z towards the camera
    yaw = rotation_about(_UP, facing) @ yaw_rotation(rng)
    person = body_subject(pose, yaw, rot, eye - at)
    scene.extend(person.surface)
    if pose.seat_mm is not None and rng.random() < 0.6:     # the desk they sit at
        desk = Surface()
        _desk(rng, at + yaw @ [0, 0, rng.uniform(450, 650)], facing, desk)
        scene.extend(desk.transformed(rot, -rot @ eye))
    return person


def sample_room_scene(rng: np.random.Generator, intr: Intrinsics, view: str | None = None
                      ) -> tuple[Surface, Background, list[Subject]]:
    """A room seen by a camera of intrinsics `intr`: (people and furniture, walls and floor, the people)."""
    view = view or str(rng.choice(list(VIEWS), p=list(VIEWS.values())))
    rot, eye = _camera(rng, view)
    surface, background, people = Surface(), Background(), []
    to_cam = [(np.array([0, 1.0, 0]), 0.0)]                                  # floor
    back = rng.uniform(3000, 7000)
    to_cam.append((np.array([0, 0, 1.0]), -back))                            # back wall at z = -back
    for side in (-1.0, 1.0):
        if rng.random() < 0.5:
            to_cam.append((np.array([side, 0, 0]), side * rng.uniform(1500, 4000)))
    for n_w, d_w in to_cam:
        background.planes.append(Plane(rot @ n_w, float(d_w - n_w @ eye)))
    taken: list[np.ndarray] = []

    def free(p: np.ndarray, gap: float) -> bool:
        return p[2] > -back + 300 and all(np.linalg.norm(p - q) >= gap for q in taken)

    if view == "desk":
        at = _floor_point(rng, rot, eye, intr, rng.uniform(500, 1500) + 100, spread=0.5)
        family = str(rng.choice(["sitting", "standing", "reaching"], p=[0.55, 0.3, 0.15]))
        people.append(_person(rng, at, rot, eye, family, surface))
        taken.append(at)
        others = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
        near = (1800, 5500)
    else:
        others = int(rng.choice([0, 1, 2, 3, 4], p=[0.15, 0.3, 0.25, 0.2, 0.1]))
        near = (800, 6000) if view == "office" else (1200, 6500)
    for _ in range(others):
        for _ in range(20):
            at = _floor_point(rng, rot, eye, intr, rng.uniform(*near))
            if free(at, 550):
                family = str(rng.choice(["standing", "walking", "reaching", "sitting"], p=[0.3, 0.35, 0.15, 0.2]))
                people.append(_person(rng, at, rot, eye, family, surface))
                taken.append(at)
                break
    for _ in range(int(rng.integers(1, 8))):
        for _ in range(20):
            at = _floor_point(rng, rot, eye, intr, rng.uniform(700, 6500), spread=1.4)
            if free(at, 700):
                thing = Surface()
                _thing(rng, at, thing)
                surface.extend(thing.transformed(rot, -rot @ eye))
                taken.append(at)
                break
    return surface, background, people


def render_room_scene(rng: np.random.Generator, camera: Intrinsics, camera_name: str, sensor: bool = True,
                      view: str | None = None) -> tuple[np.ndarray, list[ScenePerson]]:
    """(depth_mm [120, 160] float32 as the detector sees the preset `camera_name` of intrinsics
    `camera`, through its sensor model unless `sensor` is False; the people in view)."""
    intr, (w, h) = detector_view(camera)
    model = room_sensor(camera, camera_name)
    sensor_range = (model.min_depth_mm, model.max_depth_mm)
    surface, background, people = sample_room_scene(rng, intr, view)
    clean = render_depth_mm(surface, background, intr)
    depth = model.apply(clean, intr, rng, (0, 0)) if sensor else clean
    inside = _inside_mask(intr, camera, w, h)
    depth = np.where(inside, depth, 0.0).astype(np.float32)
    found = []
    in_range = np.where(inside & (clean >= sensor_range[0]) & (clean <= sensor_range[1]), clean, 0.0)
    for p in people:
        vis = person_visibility(p, in_range, intr)
        upper = int(vis[list(UPPER)].sum())
        if upper < MIN_UPPER_VISIBLE:
            continue
        uv = camera_to_pixel(p.centre_mm, intr)[:2]
        uv = np.clip(uv, [0, 0], [intr.width - 1, intr.height - 1])
        found.append(ScenePerson(p.centre_mm.astype(np.float64), uv, upper, p.joints_mm))
    return depth, found


def sample_room_body(rng: np.random.Generator, intr: Intrinsics) -> tuple[Subject, Background, SensorModel]:
    """A frame of the body datasets' rooms world (module docstring): (the subject, whose surface is the
    whole room's people and furniture; the walls and floor; the frame's sensor). The subject is one of
    the people with at least `MIN_UPPER_VISIBLE` upper-body joints in the image and the sensor's range
    (`subject_seen` checks, after rendering, that they are not all hidden)."""
    sensor = ROOM_SENSORS[str(rng.choice(list(ROOM_SENSOR_MIX), p=list(ROOM_SENSOR_MIX.values())))]
    while True:
        surface, background, people = sample_room_scene(rng, intr)
        seen = []
        for p in people:
            uvz = camera_to_pixel(p.joints_mm[list(UPPER)], intr)
            inside = ((uvz[:, 0] >= 0) & (uvz[:, 0] < intr.width) & (uvz[:, 1] >= 0) & (uvz[:, 1] < intr.height)
                      & (uvz[:, 2] >= sensor.min_depth_mm) & (uvz[:, 2] <= sensor.max_depth_mm))
            if inside.sum() >= MIN_UPPER_VISIBLE:
                seen.append(p)
        if seen:
            person = seen[int(rng.integers(len(seen)))]
            return replace(person, surface=surface), background, sensor


def subject_seen(visible: np.ndarray) -> bool:
    """A rendered rooms-world frame's subject is seen: `MIN_UPPER_VISIBLE` of its upper-body joints visible
    (not hidden by someone or something in front of it)."""
    return int(np.asarray(visible)[list(UPPER)].sum()) >= MIN_UPPER_VISIBLE


def _inside_mask(view: Intrinsics, camera: Intrinsics, w: int, h: int) -> np.ndarray:
    """Pixels of the rendered window that lie in the camera's strided image of `w` x `h`."""
    ox = camera.cx * view.fx / camera.fx - view.cx
    oy = camera.cy * view.fy / camera.fy - view.cy
    u = np.arange(view.width) + ox
    v = np.arange(view.height) + oy
    return ((v >= 0) & (v < h))[:, None] & ((u >= 0) & (u < w))[None, :]


def room_sensor(camera: Intrinsics, camera_name: str):
    """The sensor model of a camera preset in rooms, for images at the detector's resolution: its
    family, its range, and noise computed with the camera's own (full-resolution) focal length."""
    family, near, far = ROOM_CAMERAS[camera_name]
    base = SENSORS[family]
    # Silhouettes: neighbours 4 pixels apart on a slanted floor at 5 m differ by ~100 mm, which is no edge.
    if isinstance(base, SensorModel):
        return replace(base, min_depth_mm=near, max_depth_mm=far, focal_px=base.focal_px or camera.fx,
                       edge_jump_mm=EDGE_JUMP_MM)
    return replace(base, min_depth_mm=near, max_depth_mm=far, edge_jump_mm=EDGE_JUMP_MM)


def person_visibility(person: Subject, sensed_mm: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """[15] bool: the joint's pixel is in the image and the depth measured there lies on the person
    (not nearer: hidden; not farther: the background seen past them, or nothing measured)."""
    uvz = camera_to_pixel(person.joints_mm, intr)
    u, v = np.rint(uvz[:, 0]).astype(np.int64), np.rint(uvz[:, 1]).astype(np.int64)
    inside = (u >= 0) & (u < intr.width) & (v >= 0) & (v < intr.height) & (uvz[:, 2] > 0)
    d = np.zeros(len(u), np.float32)
    d[inside] = sensed_mm[v[inside], u[inside]]
    r = person.joint_radius_mm + VISIBILITY_TOL_MM
    return inside & (d > 0) & (d >= uvz[:, 2] - r - 2 * VISIBILITY_TOL_MM) & (d <= uvz[:, 2] + r)
