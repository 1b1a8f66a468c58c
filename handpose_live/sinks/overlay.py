"""The 2D picture of a frame: depth colour map, every subject's skeleton and label, a legend, status.

What a user wants to see, whichever viewer draws it:
- every subject (hand or person) in the finger (body part) colours of `skeletons.py`, framed by a
  box in its own colour (`subject_bgr`, by id) with a label in that colour: "#3 right 0.97"
  (id, hand side, its score) or "#1 person"; a joint the camera does not see (`Subject.visible`: outside
  the image, behind something) as a hollow ring, the bones to it thin and dashed;
- a legend of the finger colours, and status text: fps, frame number, subjects found, how to quit;
- the subjects large: the view follows them (auto-fit, `Overlay`), zoomed so they fill about
  `FIT_FILL` of it, with a thumbnail of the whole frame and the part shown in a corner.

`render_overlay` is pure (no window, no state) so tests and one-off pictures can call it. `Overlay`
adds the one piece of state, the view following the subjects, smoothed over results with a dead
band so that it neither jitters with the joints nor lags behind a moving hand; the OpenCV viewer
and the video writer draw through it. The annotations are small opaque images (`Panel`), which
the Open3D viewer draws over its 3D view too (`open3d_viewer.Hud`), so both viewers look alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..geometry import camera_to_pixel
from ..skeletons import Skeleton
from ..targets import count_words, get_target
from ..types import DepthFrame, Intrinsics, PoseResult, Subject

# Half of the depth window shown in full colour around the subjects: narrow enough that the
# hand's relief and what is just behind it get distinct colours; everything else is dimmed.
HALF_RANGE_MM = {"hand": 120.0, "body": 1200.0}
DIM_OUTSIDE = 0.35
JOINT_RADIUS_PX = 4
BONE_THICKNESS_PX = 2

# The view that follows the subjects (auto-fit).
FIT_FILL = 0.6            # share of the view's height (or width) the subjects' box fills
FIT_MIN_MM = {"hand": 150.0, "body": 1200.0}   # the smallest region shown around one subject
MAX_ZOOM = 4.0
FIT_SMOOTHING = 0.5       # weight of the previous view, per result
FIT_DEAD_BAND = 0.05      # the goal moves when the subjects' one differs by this share of the view
FIT_HOLD_RESULTS = 30     # results without any subject before the view zooms back out to the frame
THUMB_STEP = 5            # the thumbnail of the whole frame takes every 5th pixel
OUTSIDE_BGR = (48, 48, 48)   # a zoomed view's part past the image's edge

# One colour per subject id (RGB 0..1), apart from the finger colours: the subject's box and label.
SUBJECT_RGB = ((1.0, 0.35, 0.75), (0.2, 0.95, 0.95), (1.0, 1.0, 0.3), (1.0, 1.0, 1.0), (0.6, 1.0, 0.3),
               (0.75, 0.65, 1.0))
LEGEND_ORDER = ("thumb", "index", "middle", "ring", "pinky", "palm",
                "head", "torso", "right_arm", "left_arm", "right_leg", "left_leg")
QUIT_HINT = "q / Esc: quit"
FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
PALM_NORMAL_MM = 60.0         # the palm normal's arrow (hands: Subject.palm), out of the palm's centre
PALM_NORMAL_BGR = (255, 255, 0)


def skeleton_bgr(skeleton: Skeleton) -> list[tuple[int, int, int]]:
    """Per-joint finger colours as OpenCV BGR 0..255."""
    return [_bgr(rgb) for rgb in skeleton.colours()]


def _bgr(rgb) -> tuple[int, int, int]:
    r, g, b = rgb
    return int(round(b * 255)), int(round(g * 255)), int(round(r * 255))


def subject_rgb(subject_id: int) -> tuple[float, float, float]:
    """The colour of a subject (its box and label), RGB 0..1, by id."""
    return SUBJECT_RGB[int(subject_id) % len(SUBJECT_RGB)]


def subject_bgr(subject_id: int) -> tuple[int, int, int]:
    return _bgr(subject_rgb(subject_id))


def subject_label(subject: Subject, target: str) -> str:
    """"#3 right 0.97" (id, hand side, its score), or "#3 hand" / "#1 person" (no side: the target's noun)."""
    if subject.handedness is None:
        return f"#{subject.id} {get_target(target).noun}"
    score = "" if subject.handedness_score is None else f" {float(subject.handedness_score):.2f}"
    return f"#{subject.id} {subject.handedness}{score}"


def status_lines(result: PoseResult, target: str, fps: float | None = None, hint: bool = False) -> list[str]:
    """The status text: fps and frame, subjects found, and how to quit (in a window)."""
    found = count_words(get_target(target), len(result.subjects))
    first = f"frame {result.frame_index}" if fps is None else f"{fps:.1f} fps  frame {result.frame_index}"
    return [first, found] + ([QUIT_HINT] if hint else [])


def ui_scale(height: int) -> float:
    """Font scale for an image this tall (0.5 at 480 rows)."""
    return max(0.4, height / 960.0)


# ---- panels: small opaque images placed on the picture ----------------------------------------

@dataclass
class Panel:
    """An opaque BGR image to place with its top-left corner at (x, y)."""

    image: np.ndarray
    x: int
    y: int

    @property
    def width(self) -> int:
        return self.image.shape[1]

    @property
    def height(self) -> int:
        return self.image.shape[0]


@dataclass
class Box:
    """A rectangle outline (a subject's frame), `thickness` pixels inside (x0, y0)-(x1, y1), and
    one dark pixel outside them, so it shows on any colour."""

    x0: int
    y0: int
    x1: int
    y1: int
    bgr: tuple[int, int, int]
    thickness: int = 2

    def rings(self) -> list[tuple[int, int, int, int, tuple[int, int, int]]]:
        """(x0, y0, x1, y1, colour) of each 1-pixel rectangle, outermost first."""
        rings = [(self.x0 - 1, self.y0 - 1, self.x1 + 1, self.y1 + 1, BLACK)]
        for k in range(self.thickness):
            if self.x1 - k >= self.x0 + k and self.y1 - k >= self.y0 + k:
                rings.append((self.x0 + k, self.y0 + k, self.x1 - k, self.y1 - k, self.bgr))
        return rings


def _put_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour, crisp: bool) -> None:
    """Anti-aliased text, or `crisp`: each pixel either the text's colour or left as it was (fewer
    runs of one colour for `open3d_viewer.Hud`)."""
    if not crisp:
        cv2.putText(image, text, origin, FONT, scale, colour, 1, cv2.LINE_AA)
        return
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.putText(mask, text, origin, FONT, scale, 255, 1, cv2.LINE_AA)
    image[mask >= 128] = colour


@lru_cache(maxsize=256)
def text_panel(lines: tuple[str, ...], scale: float, fg=WHITE, bg=BLACK, crisp: bool = False, border=None) -> np.ndarray:
    """Lines of text on an opaque box, with a 1-pixel `border` of that colour if given (cached:
    status and labels repeat)."""
    pad = max(3, int(round(8 * scale)))
    sizes = [cv2.getTextSize(line, FONT, scale, 1) for line in lines]
    line_h = max(h + base for (_, h), base in sizes) + pad // 2
    width = max(w for (w, _), _ in sizes) + 2 * pad
    image = np.empty((line_h * len(lines) + pad, width, 3), np.uint8)
    image[:] = bg
    for k, (line, ((_, h), _)) in enumerate(zip(lines, sizes)):
        _put_text(image, line, (pad, pad + k * line_h + h), scale, fg, crisp)
    if border is not None:
        cv2.rectangle(image, (0, 0), (image.shape[1] - 1, image.shape[0] - 1), border, 1, cv2.LINE_8)
    image.flags.writeable = False
    return image


@lru_cache(maxsize=32)
def legend_panel(skeleton: Skeleton, scale: float, crisp: bool = False) -> np.ndarray:
    """One row: a swatch and the name of each finger (body part) colour group of the skeleton."""
    groups = sorted(set(skeleton.groups), key=lambda g: LEGEND_ORDER.index(g) if g in LEGEND_ORDER else len(LEGEND_ORDER))
    colours = dict(zip(skeleton.groups, skeleton_bgr(skeleton)))
    pad = max(3, int(round(8 * scale)))
    (_, text_h), base = cv2.getTextSize("Ag", FONT, scale, 1)
    height = text_h + base + 2 * pad
    radius = max(3, int(round(text_h * 0.5)))
    entries, width = [], pad
    for group in groups:
        name = group.replace("_", " ")
        entries.append((width, name, colours[group]))
        width += 2 * radius + pad // 2 + cv2.getTextSize(name, FONT, scale, 1)[0][0] + 2 * pad
    image = np.zeros((height, width - pad, 3), np.uint8)
    for x, name, colour in entries:
        cv2.circle(image, (x + radius, height // 2), radius, colour, -1, cv2.LINE_8 if crisp else cv2.LINE_AA)
        _put_text(image, name, (x + 2 * radius + pad // 2, pad + text_h), scale, WHITE, crisp)
    image.flags.writeable = False
    return image


def frame_panels(result: PoseResult, skeleton: Skeleton, width: int, height: int, fps: float | None = None,
                 hint: bool = False, crisp: bool = False) -> list[Panel]:
    """The status (top left) and the legend (bottom left) of a picture this big."""
    scale = ui_scale(height)
    margin = max(2, int(round(6 * scale)))
    status = text_panel(tuple(status_lines(result, skeleton.target, fps, hint)), scale, crisp=crisp)
    legend = legend_panel(skeleton, scale, crisp)
    return [Panel(status, margin, margin), Panel(legend, margin, height - legend.shape[0] - margin)]


def subject_annotations(subjects: list[Subject], points: list[np.ndarray], target: str, width: int,
                        height: int, crisp: bool = False, avoid: list[Panel] = ()) -> tuple[list[Box], list[Panel]]:
    """Each subject's box around its joints `points` [J, 2] (picture pixels, NaN where unseen) and its
    label on top of the box (below it at the top edge; moved down while it would cover another label
    or one of the panels to `avoid`: the status text)."""
    scale = ui_scale(height)
    pad = max(4, int(round(10 * scale)))
    boxes, labels, taken = [], [], list(avoid)
    for subject, px in zip(subjects, points):
        px = np.asarray(px, np.float64).reshape(-1, 2)
        px = px[np.isfinite(px).all(axis=1) & (np.abs(px) < 1e5).all(axis=1)]
        if not len(px):
            continue
        x0, y0 = (int(v) - pad for v in np.floor(px.min(axis=0)))
        x1, y1 = (int(v) + pad for v in np.ceil(px.max(axis=0)))
        colour = subject_bgr(subject.id)
        boxes.append(Box(x0, y0, x1, y1, colour, thickness=2))
        label = text_panel((subject_label(subject, target),), scale, BLACK, colour, crisp, BLACK)
        lw, lh = label.shape[1], label.shape[0]
        x = int(np.clip(x0, 0, max(0, width - lw)))
        y = y0 - lh if y0 - lh >= 0 else y1 + 1
        y = int(np.clip(y, 0, max(0, height - lh)))
        for other in taken:
            if x < other.x + other.width and other.x < x + lw and y < other.y + other.height and other.y < y + lh:
                y = min(other.y + other.height + 1, max(0, height - lh))
        labels.append(Panel(label, x, y))
        taken.append(labels[-1])
    return boxes, labels


def paste(image: np.ndarray, panel: Panel) -> None:
    """Copy a panel onto the image, clipped to it."""
    h, w = image.shape[:2]
    x0, y0 = max(panel.x, 0), max(panel.y, 0)
    x1, y1 = min(panel.x + panel.width, w), min(panel.y + panel.height, h)
    if x1 > x0 and y1 > y0:
        image[y0:y1, x0:x1] = panel.image[y0 - panel.y:y1 - panel.y, x0 - panel.x:x1 - panel.x]


def draw_box(image: np.ndarray, box: Box) -> None:
    for x0, y0, x1, y1, colour in box.rings():
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, 1, cv2.LINE_8)


# ---- the depth picture and the view ----------------------------------------------------------

def _subject_depth_mm(subject: Subject) -> float | None:
    for points in (subject.centre_mm, subject.joints_mm):
        if points is not None:
            z = np.asarray(points, np.float64).reshape(-1, 3)[:, 2]
            z = z[np.isfinite(z) & (z > 0)]
            if z.size:
                return float(np.median(z))
    return None


def depth_window(result: PoseResult, half_range_mm: float) -> tuple[float, float] | None:
    """(near, far) mm shown in full colour: around every subject's depth; None without subjects."""
    depths = [z for z in (_subject_depth_mm(s) for s in result.subjects) if z is not None]
    if not depths:
        return None
    return min(depths) - half_range_mm, max(depths) + half_range_mm


def _colour_table() -> np.ndarray:
    """[256, 1, 3] BGR lookup table of `colourise_depth`'s codes: 1..253 the JET map (far blue to
    near red), 0 and 254 its ends dimmed (beyond the depth window, behind or in front), 255 black
    (no depth)."""
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0]
    table = np.zeros((256, 3), np.uint8)
    table[1:254] = jet[np.round(np.linspace(0, 255, 253)).astype(int)]
    table[0], table[254] = (jet[0] * DIM_OUTSIDE).astype(np.uint8), (jet[255] * DIM_OUTSIDE).astype(np.uint8)
    return table.reshape(256, 1, 3)


COLOURS = _colour_table()


def colourise_depth(depth_mm: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """JET colour map, near = red, over the depth `window` (near, far) mm, or the image's 2-98 % range.

    Each pixel becomes a one-byte code (`_colour_table`) and one `cv2.LUT` gives its colour: the
    viewer draws this for every frame it shows, so it must stay cheap.
    """
    depth = np.asarray(depth_mm, np.float32)
    invalid = ~((depth > 0) & (depth < np.inf))     # NaN and inf too
    if window is not None:
        near, far = window
    elif not invalid.all():
        near, far = (float(v) for v in np.percentile(depth[~invalid], (2, 98)))
    else:
        return np.zeros(depth.shape + (3,), np.uint8)
    far = max(far, near + 1.0)
    with np.errstate(invalid="ignore"):
        codes = (np.float32(far) - depth) * np.float32(252.0 / (far - near)) + np.float32(1.0)
        np.clip(codes, 0, 254, out=codes)
    index = codes.astype(np.uint8)
    index[invalid] = 255
    return cv2.LUT(cv2.merge([index, index, index]), COLOURS)


def subject_pixels(subject: Subject, intrinsics: Intrinsics) -> np.ndarray:
    """[J, 2] depth-image pixels of the subject's joints (NaN where not seen)."""
    if subject.joints_mm is None:
        return np.full((0, 2), np.nan)
    uvz = camera_to_pixel(np.asarray(subject.joints_mm, np.float64).reshape(-1, 3), intrinsics)
    ok = np.isfinite(uvz).all(axis=1) & (uvz[:, 2] > 0)
    return np.where(ok[:, None], uvz[:, :2], np.nan)


def fit_goal(result: PoseResult, intrinsics: Intrinsics, target: str) -> np.ndarray | None:
    """The view (centre u, centre v, height) in depth pixels that frames every subject, or None.

    The subjects' box (each at least `FIT_MIN_MM` across at its depth) fills `FIT_FILL` of the
    view; the view has the image's aspect, zooms `MAX_ZOOM` at most and is never bigger than the image.
    """
    width, height = intrinsics.width, intrinsics.height
    lows, highs = [], []
    for subject in result.subjects:
        px = subject.joints_px if subject.joints_px is not None else subject_pixels(subject, intrinsics)
        px = np.asarray(px, np.float64).reshape(-1, 2)
        px = px[np.isfinite(px).all(axis=1) & (np.abs(px) < 1e5).all(axis=1)]
        z = _subject_depth_mm(subject)
        if not len(px) or z is None:
            continue
        lo, hi = px.min(axis=0), px.max(axis=0)
        half = np.maximum((hi - lo) / 2, 0.5 * intrinsics.fy * FIT_MIN_MM.get(target, FIT_MIN_MM["hand"]) / z)
        lows.append((lo + hi) / 2 - half)
        highs.append((lo + hi) / 2 + half)
    if not lows:
        return None
    lo, hi = np.min(lows, axis=0), np.max(highs, axis=0)
    size = (hi - lo) / FIT_FILL
    view_h = min(max(size[1], size[0] * height / width, height / MAX_ZOOM), height)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, view_h])


def view_rect(view: np.ndarray | None, width: int, height: int) -> tuple[int, int, int, int]:
    """(u0, v0, u1, v1): the pixels [u0, u1) x [v0, v1) of a view (centre u, centre v, height); the
    whole image for None. A zoomed view may reach past the image's edge by half of what it leaves
    out (then the part outside is `OUTSIDE_BGR`), so a subject at the edge is not pushed to the
    picture's edge too."""
    if view is None:
        return 0, 0, width, height
    view_h = float(np.clip(view[2], 1.0, height))
    view_w = min(view_h * width / height, width)
    spare_u, spare_v = (width - view_w) / 2, (height - view_h) / 2
    u0 = float(np.clip(view[0] - view_w / 2, -spare_u, width - view_w + spare_u))
    v0 = float(np.clip(view[1] - view_h / 2, -spare_v, height - view_h + spare_v))
    u0i, v0i = int(round(u0)), int(round(v0))
    return u0i, v0i, u0i + max(1, int(round(view_w))), v0i + max(1, int(round(view_h)))


class ViewMap:
    """Depth-image pixels -> picture pixels for the part [u0, u1) x [v0, v1) scaled to width x height."""

    def __init__(self, rect: tuple[int, int, int, int], width: int, height: int) -> None:
        self.rect = rect
        u0, v0, u1, v1 = rect
        self.sx, self.sy = width / (u1 - u0), height / (v1 - v0)
        self.zoom = min(self.sx, self.sy)

    def __call__(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, np.float64)
        return np.stack([(uv[..., 0] - self.rect[0] + 0.5) * self.sx - 0.5,
                         (uv[..., 1] - self.rect[1] + 0.5) * self.sy - 0.5], axis=-1)


# ---- drawing ------------------------------------------------------------------------------------

def _dashes(a: tuple[int, int], b: tuple[int, int], dash_px: float) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The dashes of a dashed line from a to b: `dash_px` long, `dash_px` apart (one piece if shorter)."""
    pa, pb = np.asarray(a, np.float64), np.asarray(b, np.float64)
    length = float(np.linalg.norm(pb - pa))
    if length <= 2 * dash_px:
        return [(a, b)]
    out = []
    for start in np.arange(0.0, length, 2 * dash_px):
        p, q = pa + (pb - pa) * start / length, pa + (pb - pa) * min(start + dash_px, length) / length
        out.append(((int(round(p[0])), int(round(p[1]))), (int(round(q[0])), int(round(q[1])))))
    return out


def draw_skeleton(image: np.ndarray, px: np.ndarray, skeleton: Skeleton, zoom: float = 1.0,
                  visible: np.ndarray | None = None) -> None:
    """Bones as lines, joints as filled circles, in finger colours, each with a dark outline; `px`
    [J, 2] picture pixels (NaN where not seen); thicker when the view is zoomed. A joint `visible` says
    is hidden (outside the image, behind something, unsure: `Subject.visible`) is a hollow ring, and
    the bones to it are thinner and dashed."""
    px = np.asarray(px, np.float64).reshape(-1, 2)
    ok = np.isfinite(px).all(axis=1) & (np.abs(px) < 1e5).all(axis=1)
    if not ok.any():
        return
    seen = np.ones(len(px), bool)
    if visible is not None and np.size(visible) == len(px):
        seen = np.asarray(visible, bool).reshape(-1)
    pts = [(int(round(u)), int(round(v))) for u, v in np.where(ok[:, None], px, 0.0).tolist()]
    grow = min(2.0, max(1.0, zoom) ** 0.5)
    radius, thickness = int(round(JOINT_RADIUS_PX * grow)), int(round(BONE_THICKNESS_PX * grow))
    thin = max(1, thickness - 1)
    colours = skeleton_bgr(skeleton)
    bones = [(a, b) for a, b in skeleton.bones if a < len(pts) and b < len(pts) and ok[a] and ok[b]]
    pieces = []
    for a, b in bones:
        if seen[a] and seen[b]:
            pieces.append((pts[a], pts[b], colours[b], thickness))
        else:
            pieces += [(p, q, colours[b], thin) for p, q in _dashes(pts[a], pts[b], 3 * thin + 3)]
    for p, q, _, width in pieces:
        cv2.line(image, p, q, BLACK, width + 2, cv2.LINE_AA)
    for p, q, colour, width in pieces:
        cv2.line(image, p, q, colour, width, cv2.LINE_AA)
    for j in np.flatnonzero(ok[:len(colours)]):
        if seen[j]:
            cv2.circle(image, pts[j], radius + 1, BLACK, -1, cv2.LINE_AA)
            cv2.circle(image, pts[j], radius, colours[j], -1, cv2.LINE_AA)
        else:
            ring = max(1, thickness - 1)
            cv2.circle(image, pts[j], radius, BLACK, ring + 2, cv2.LINE_AA)
            cv2.circle(image, pts[j], radius, colours[j], ring, cv2.LINE_AA)


def draw_palm_normal(image: np.ndarray, subject: Subject, intrinsics: Intrinsics, mapping) -> None:
    """A hand's palm normal: an arrow `PALM_NORMAL_MM` long out of the palm's centre (`Subject.palm`)."""
    palm = subject.palm
    if palm is None:
        return
    ends = np.stack([palm.position_mm, np.asarray(palm.position_mm) + PALM_NORMAL_MM * np.asarray(palm.normal)])
    uvz = camera_to_pixel(ends, intrinsics)
    if not (np.isfinite(uvz).all() and (uvz[:, 2] > 0).all()):
        return
    a, b = (tuple(int(round(v)) for v in p) for p in mapping(uvz[:, :2]))
    thickness = max(1, int(round(2 * mapping.zoom)))
    cv2.arrowedLine(image, a, b, BLACK, thickness + 2, cv2.LINE_AA, tipLength=0.25)
    cv2.arrowedLine(image, a, b, PALM_NORMAL_BGR, thickness, cv2.LINE_AA, tipLength=0.25)


def _thumbnail(depth: np.ndarray, window, rect, width: int, height: int) -> Panel:
    """The whole frame, small, with the part shown outlined: bottom right."""
    small = np.ascontiguousarray(colourise_depth(depth[::THUMB_STEP, ::THUMB_STEP], window))
    sh, sw = small.shape[:2]
    u0, v0, u1, v1 = rect
    cv2.rectangle(small, (u0 // THUMB_STEP, v0 // THUMB_STEP), (min(sw, u1 // THUMB_STEP) - 1, min(sh, v1 // THUMB_STEP) - 1),
                  WHITE, 1, cv2.LINE_8)
    framed = np.full((sh + 2, sw + 2, 3), 255, np.uint8)
    framed[1:-1, 1:-1] = small
    margin = max(2, int(round(6 * ui_scale(height))))
    return Panel(framed, width - framed.shape[1] - margin, height - framed.shape[0] - margin)


def render_overlay(frame: DepthFrame, result: PoseResult, skeleton: Skeleton, fps: float | None = None,
                   view: str | np.ndarray | None = "fit", hint: bool = False) -> np.ndarray:
    """A new BGR uint8 image, the frame's size, with every subject drawn on it (inputs untouched).

    `view`: "fit" frames this result's subjects (`fit_goal`), "full" or None shows the whole
    frame, or a (centre u, centre v, height) from `Overlay`. `hint` adds how to quit (a window's).
    """
    depth = frame.depth_mm
    height, width = depth.shape[:2]
    if isinstance(view, str):
        view = fit_goal(result, frame.intrinsics, skeleton.target) if view == "fit" else None
    rect = view_rect(view, width, height)
    mapping = ViewMap(rect, width, height)
    window = depth_window(result, HALF_RANGE_MM.get(skeleton.target, HALF_RANGE_MM["hand"]))
    u0, v0, u1, v1 = rect
    if rect == (0, 0, width, height):
        image = colourise_depth(depth, window)
    else:
        part = np.empty((v1 - v0, u1 - u0, 3), np.uint8)
        part[:] = OUTSIDE_BGR
        iu0, iv0, iu1, iv1 = max(u0, 0), max(v0, 0), min(u1, width), min(v1, height)
        if iu1 > iu0 and iv1 > iv0:
            part[iv0 - v0:iv1 - v0, iu0 - u0:iu1 - u0] = colourise_depth(depth[iv0:iv1, iu0:iu1], window)
        image = cv2.resize(part, (width, height), interpolation=cv2.INTER_LINEAR)
    points = [mapping(subject_pixels(s, frame.intrinsics)) for s in result.subjects]
    panels = frame_panels(result, skeleton, width, height, fps, hint)
    boxes, labels = subject_annotations(result.subjects, points, skeleton.target, width, height, avoid=panels[:1])
    for box in boxes:
        draw_box(image, box)
    for subject, px in zip(result.subjects, points):
        draw_skeleton(image, px, skeleton, mapping.zoom, subject.visible)
    for subject in result.subjects:
        draw_palm_normal(image, subject, frame.intrinsics, mapping)
    if mapping.zoom > 1.1:
        panels.append(_thumbnail(depth, window, rect, width, height))
    for panel in panels + labels:
        paste(image, panel)
    return image


class Overlay:
    """`render_overlay` with a view that follows the subjects over results, for a viewer or a video.

    `follow(result, intrinsics)` moves the view for one result (call it for every result, drawn
    or not, so the picture does not depend on which ones are drawn) and returns it; `render`
    follows and draws. The view eases towards the subjects' frame (`FIT_SMOOTHING` per result)
    and changes its goal only when that frame moved by `FIT_DEAD_BAND` of the view, so joints
    that tremble do not shake the picture; after `FIT_HOLD_RESULTS` results without a subject it
    eases back out to the whole frame.
    """

    def __init__(self, skeleton: Skeleton, fit: bool = True, hint: bool = False) -> None:
        self.skeleton = skeleton
        self.fit = fit
        self.hint = hint
        self.view: np.ndarray | None = None
        self._goal: np.ndarray | None = None
        self._misses = 0
        self._size: tuple[int, int] | None = None
        self.intrinsics: Intrinsics | None = None

    def follow(self, result: PoseResult, intrinsics: Intrinsics | None = None) -> np.ndarray | None:
        if intrinsics is None:
            intrinsics = result.frame.intrinsics if result.frame is not None else self.intrinsics
        if not self.fit or intrinsics is None:
            return self.view
        size = (intrinsics.width, intrinsics.height)
        if size != self._size:
            self.view, self._goal, self._misses, self._size = None, None, 0, size
        self.intrinsics = intrinsics
        goal = fit_goal(result, intrinsics, self.skeleton.target)
        if goal is None:
            self._misses += 1
            if self._misses < FIT_HOLD_RESULTS or self._goal is None:
                goal = self._goal
            else:
                goal = np.array([size[0] / 2, size[1] / 2, float(size[1])])
        else:
            self._misses = 0
        if goal is None:
            return self.view
        current = self._goal
        if current is None or (np.abs(goal[:2] - current[:2]).max() > FIT_DEAD_BAND * current[2]
                               or abs(goal[2] - current[2]) > FIT_DEAD_BAND * current[2]):
            self._goal = goal
        if self.view is None or np.abs(self.view - self._goal).max() < 0.1:
            self.view = self._goal.copy()             # arrived (or the first): still from now on
        else:
            self.view = FIT_SMOOTHING * self.view + (1 - FIT_SMOOTHING) * self._goal
        return self.view

    def render(self, frame: DepthFrame, result: PoseResult, fps: float | None = None) -> np.ndarray:
        view = self.follow(result, frame.intrinsics)
        return render_overlay(frame, result, self.skeleton, fps, view=view if self.fit else None, hint=self.hint)
