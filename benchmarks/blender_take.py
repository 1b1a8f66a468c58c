"""Runs inside Blender: imports a BVH take of `handpose-live run --output take.bvh` with Blender's own importer,
then either writes what Blender made of it as JSON (the armature's bones and their parents, the frame range,
the scene's frame rate, and per frame every bone's world head and tail in metres), or renders frames of it.

    blender -b --factory-startup --python benchmarks/blender_take.py -- dump take.bvh out.json
    blender -b --factory-startup --python benchmarks/blender_take.py -- render take.bvh out.png FRAME [FRAME...]

The import is File > Import > Motion Capture (.bvh) with Scale 0.001 (the take is in millimetres). `render`
draws each bone as a capsule coloured by finger (an armature itself is not rendered) with the Workbench
engine, seen from the depth camera's side, one image per frame, side by side in one PNG (tests/test_bvh.py
and the README's picture). Debian's Blender 3.4 on Python 3.11: its importer opens files with mode 'rU',
which Python 3.11 refuses, so `open` is patched to drop the 'U' while importing.
"""
import builtins
import math
import sys

import bpy
from mathutils import Vector

COLOURS = {"thumb": (0.95, 0.25, 0.25), "index": (0.95, 0.65, 0.1), "middle": (0.2, 0.8, 0.2),
           "ring": (0.15, 0.55, 0.95), "pinky": (0.7, 0.3, 0.9)}


def import_take(path: str):
    real_open = builtins.open
    builtins.open = lambda file, mode="r", *a, **k: real_open(file, mode.replace("U", ""), *a, **k)
    try:
        bpy.ops.import_anim.bvh(filepath=path, global_scale=0.001, rotate_mode="NATIVE", update_scene_fps=True,
                                update_scene_duration=True)
    finally:
        builtins.open = real_open
    return next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")


def dump(arm, out: str) -> None:
    import json

    scene = bpy.context.scene
    start, end = (int(round(v)) for v in arm.animation_data.action.frame_range)
    frames = []
    for f in range(start, end + 1):
        scene.frame_set(f)
        frames.append({b.name: [list(arm.matrix_world @ b.head), list(arm.matrix_world @ b.tail)] for b in arm.pose.bones})
    with open(out, "w") as fh:
        json.dump({"bones": [b.name for b in arm.data.bones],
                   "parents": {b.name: b.parent.name if b.parent else None for b in arm.data.bones},
                   "frame_start": start, "frame_end": end, "fps": scene.render.fps / scene.render.fps_base,
                   "frames": frames}, fh)


def _colour(name: str) -> tuple:
    return COLOURS.get(name.split("_")[0], (0.85, 0.85, 0.85)) + (1.0,)


def render(arm, out: str, frames: list[int]) -> None:
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "OBJECT"
    scene.display.shading.show_cavity = True
    scene.render.resolution_x = scene.render.resolution_y = 320
    scene.render.image_settings.file_format = "PNG"
    arm.hide_render = True
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    cam.data.lens = 50
    scene.collection.objects.link(cam)
    scene.camera = cam
    tiles = []
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        made = []
        heads = []
        for pb in arm.pose.bones:
            head = arm.matrix_world @ pb.head
            heads.append(head)
            bpy.ops.mesh.primitive_uv_sphere_add(radius=0.0055, location=head)
            made.append(bpy.context.object)
            made[-1].color = _colour(pb.name)
            for child in pb.children:
                v = arm.matrix_world @ child.head - head
                if v.length < 1e-6:
                    continue
                bpy.ops.mesh.primitive_cylinder_add(radius=0.0035, depth=v.length, location=head + v / 2)
                made.append(bpy.context.object)
                made[-1].rotation_mode = "QUATERNION"
                made[-1].rotation_quaternion = Vector((0, 0, 1)).rotation_difference(v)
                made[-1].color = _colour(child.name)
        centre = sum(heads, Vector()) / len(heads)
        radius = max((h - centre).length for h in heads) + 0.015
        # from the depth camera's side (it sits at the origin, Blender's -Y of the hand), far enough to see it all
        cam.location = centre * (1.0 - radius / math.tan(cam.data.angle / 2) * 1.1 / centre.length)
        cam.rotation_euler = (centre - cam.location).to_track_quat("-Z", "Z").to_euler()
        scene.render.filepath = f"{out}.{k}.png"
        bpy.ops.render.render(write_still=True)
        tiles.append(bpy.data.images.load(scene.render.filepath))
        for obj in made:
            bpy.data.objects.remove(obj, do_unlink=True)
    width = scene.render.resolution_x
    flat = [tile.pixels[:] for tile in tiles]    # RGBA rows; Blender's Python here has no numpy
    pixels: list[float] = []
    for row in range(width):
        for tile in flat:
            pixels += tile[4 * width * row:4 * width * (row + 1)]
    strip = bpy.data.images.new("strip", width * len(tiles), width)
    strip.pixels = pixels
    strip.filepath_raw = out
    strip.file_format = "PNG"
    strip.save()


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1:]
    mode, path, out = argv[0], argv[1], argv[2]
    arm = import_take(path)
    if mode == "dump":
        dump(arm, out)
    else:
        render(arm, out, [int(f) for f in argv[3:]] or [1])


main()
