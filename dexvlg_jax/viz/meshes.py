"""Triangle meshes of a posed hand and a grasp scene, for pictures and GLB export.

`hand_trimesh(translation, rotation, joints)` builds the hand's collision primitives (boxes and capsules,
exactly what synthesis and simulation see) as one trimesh in the world/object frame, with per-face link ids.
"""
import numpy as np
import trimesh

from dexvlg_jax import atomic_io
from dexvlg_jax.geometry.primitives import BOX
from dexvlg_jax.hand.kinematics import forward_kinematics
from dexvlg_jax.hand.model import load_hand

HAND_COLOUR = (205, 180, 150, 255)
FINGERTIP_COLOUR = (240, 240, 240, 255)


def _primitive_mesh(kind: int, size: np.ndarray) -> trimesh.Trimesh:
    if kind == BOX:
        return trimesh.creation.box(extents=2 * size[:3])
    return trimesh.creation.capsule(height=2 * size[1], radius=size[0], count=[12, 12])


def hand_trimesh(translation, rotation, joints) -> trimesh.Trimesh:
    """The posed hand's collision primitives as one mesh (metres, frame of `translation`/`rotation`).

    Args: translation (3,), rotation (3, 3) palm frame in the world, joints (16,) radians.
    Returns a trimesh with `metadata["face_link"]` (F,) link index per face, vertex colours set.
    """
    hand = load_hand()
    frames = forward_kinematics(np.asarray(translation, np.float32), np.asarray(rotation, np.float32),
                                np.asarray(joints, np.float32))
    link_pos, link_rot = np.asarray(frames.pos), np.asarray(frames.rot)
    pieces, face_link = [], []
    for g in range(len(hand.geom_kind)):
        mesh = _primitive_mesh(int(hand.geom_kind[g]), hand.geom_size[g])
        link = hand.geom_link[g]
        rot = link_rot[link] @ hand.geom_rot[g]
        pos = link_pos[link] + link_rot[link] @ hand.geom_pos[g]
        mesh.apply_transform(_homogeneous(rot, pos))
        colour = FINGERTIP_COLOUR if hand.geom_names[g].endswith("_tip") else HAND_COLOUR
        mesh.visual.vertex_colors = np.tile(colour, (len(mesh.vertices), 1))
        pieces.append(mesh)
        face_link.append(np.full(len(mesh.faces), link))
    combined = trimesh.util.concatenate(pieces)
    combined.metadata["face_link"] = np.concatenate(face_link)
    return combined


def part_colours(num_parts: int) -> np.ndarray:
    """Distinct RGBA colours (uint8, (num_parts, 4)) for part ids 0..num_parts-1 (golden-ratio hues)."""
    hues = (np.arange(num_parts) * 0.618033988749895) % 1.0
    rgb = np.stack([_hue_to_rgb(h) for h in hues]) if num_parts else np.zeros((0, 3))
    return np.concatenate([(rgb * 255).astype(np.uint8), np.full((num_parts, 1), 255, np.uint8)], axis=1)


def object_trimesh(vertices, faces, face_part_ids) -> trimesh.Trimesh:
    """An object mesh coloured by part (face colours from `part_colours`)."""
    mesh = trimesh.Trimesh(np.asarray(vertices), np.asarray(faces), process=False)
    ids = np.asarray(face_part_ids)
    mesh.visual.face_colors = part_colours(int(ids.max()) + 1 if len(ids) else 0)[np.clip(ids, 0, None)]
    return mesh


def grasp_scene(object_mesh: trimesh.Trimesh, translation, rotation, joints) -> trimesh.Scene:
    """A trimesh scene with the object and the posed hand (both in the object frame)."""
    scene = trimesh.Scene()
    scene.add_geometry(object_mesh, node_name="object")
    scene.add_geometry(hand_trimesh(translation, rotation, joints), node_name="hand")
    return scene


def export_grasp_glb(path: str, object_mesh: trimesh.Trimesh, translation, rotation, joints) -> str:
    """Write the grasp (object + hand) as a binary glTF file that any 3D viewer opens; returns the path."""
    data = grasp_scene(object_mesh, translation, rotation, joints).export(file_type="glb")
    return atomic_io.write_bytes(path, data)


def _homogeneous(rot: np.ndarray, pos: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rot, pos
    return out


def _hue_to_rgb(h: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return 0.85 - 0.6 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
