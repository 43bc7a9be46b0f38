"""Pictures of grasps as PNG: MuJoCo's offscreen renderer where a GL context exists, else a software painter.

The software path (always available, headless CI included) projects the triangles with a pinhole camera,
shades them flat (Lambert + ambient) and paints them back to front with Pillow. It is meant for figures in
reports, not for training data (the data renderer is `dexvlg_jax.render`).
"""
import os

import numpy as np
import trimesh

from dexvlg_jax import atomic_io
from PIL import Image, ImageDraw

LIGHT_DIRECTION = np.array([0.3, -0.4, 0.85]) / np.linalg.norm([0.3, -0.4, 0.85])


def look_at_camera(target: np.ndarray, azimuth_deg: float, elevation_deg: float, distance: float) -> np.ndarray:
    """World-to-camera 4x4 (OpenCV axes: x right, y down, z forward) looking at `target` from the given angles."""
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    eye = target + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right = right / max(np.linalg.norm(right), 1e-9) if np.linalg.norm(right) > 1e-6 else np.array([1.0, 0, 0])
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])  # rows: camera axes in world
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rot, -rot @ eye
    return out


def paint_meshes(meshes, world_to_camera: np.ndarray, size=(480, 480), fov_deg: float = 40.0,
                 background=(255, 255, 255)) -> Image.Image:
    """Software-render trimeshes (with face or vertex colours) into a Pillow image (painter's algorithm)."""
    width, height = size
    focal = 0.5 * height / np.tan(np.deg2rad(fov_deg) / 2)
    polys, depths, colours = [], [], []
    for mesh in meshes:
        verts_cam = mesh.vertices @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        tri = verts_cam[mesh.faces]  # (F, 3, 3)
        z = tri[..., 2]
        visible = np.all(z > 1e-3, axis=1)
        uv = np.stack([focal * tri[..., 0] / np.maximum(z, 1e-3) + width / 2,
                       focal * tri[..., 1] / np.maximum(z, 1e-3) + height / 2], -1)
        normals_world = mesh.face_normals
        shade = 0.35 + 0.65 * np.clip(np.abs(normals_world @ LIGHT_DIRECTION), 0, 1)
        base = np.asarray(mesh.visual.face_colors)[:, :3].astype(float)
        polys.append(uv[visible])
        depths.append(z[visible].mean(axis=1))
        colours.append((base * shade[:, None])[visible])
    image = Image.new("RGB", size, background)
    if not polys:
        return image
    polys, depths, colours = np.concatenate(polys), np.concatenate(depths), np.concatenate(colours)
    draw = ImageDraw.Draw(image)
    for i in np.argsort(-depths):
        colour = tuple(int(c) for c in colours[i])
        draw.polygon([tuple(p) for p in polys[i]], fill=colour, outline=colour)
    return image


def _mujoco_gl_available() -> bool:
    return bool(os.environ.get("MUJOCO_GL") or os.environ.get("DISPLAY"))


def render_meshes_png(path: str, meshes, azimuth_deg: float = 210.0, elevation_deg: float = 35.0,
                      size=(480, 480), distance: float | None = None) -> str:
    """Render meshes (object frame, metres) to a PNG that frames them all; returns the path.

    Uses the software painter (identical output on every machine). MuJoCo's GL renderer is used by
    `render_mjcf_png` for full simulation scenes when a GL context (MUJOCO_GL or DISPLAY) exists.
    """
    bounds = np.array([m.bounds for m in meshes])
    lo, hi = bounds[:, 0].min(0), bounds[:, 1].max(0)
    centre = (lo + hi) / 2
    distance = distance or 1.05 * np.linalg.norm(hi - lo) / (2 * np.tan(np.deg2rad(20))) + 1e-3
    camera = look_at_camera(centre, azimuth_deg, elevation_deg, distance)
    atomic_io.write_image(path, paint_meshes(meshes, camera, size=size))
    return path


def render_mjcf_png(path: str, model, data, camera=-1, size=(480, 480)) -> str:
    """Render a MuJoCo model/data with MuJoCo's own renderer (needs a GL context); returns the path."""
    import mujoco

    if not _mujoco_gl_available():
        raise RuntimeError("MuJoCo rendering needs a GL context: set MUJOCO_GL=egl or osmesa, or use "
                           "render_meshes_png (software) instead")
    with mujoco.Renderer(model, height=size[1], width=size[0]) as renderer:
        renderer.update_scene(data, camera=camera)
        atomic_io.write_image(path, Image.fromarray(renderer.render()))
    return path


def concat_images(paths, out_path: str, columns: int = 4) -> str:
    """Tile PNGs into one contact sheet (same-size tiles)."""
    images = [Image.open(p).convert("RGB") for p in paths]
    if not images:
        raise ValueError("concat_images: no images given")
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (w * min(columns, len(images)), h * rows), (255, 255, 255))
    for i, im in enumerate(images):
        sheet.paste(im.resize((w, h)), ((i % columns) * w, (i // columns) * h))
    atomic_io.write_image(out_path, sheet)
    return out_path


def as_trimesh_list(*items) -> list[trimesh.Trimesh]:
    """Flatten meshes and scenes into a list of meshes in one frame."""
    out = []
    for item in items:
        if isinstance(item, trimesh.Scene):
            out.extend(item.dump() if hasattr(item, "dump") else item.geometry.values())
        else:
            out.append(item)
    return out
