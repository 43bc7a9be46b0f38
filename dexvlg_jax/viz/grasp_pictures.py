"""The one grasp picture: an object coloured by part with the posed hand's collision primitives, in the object
frame (software renderer: works headless). Evaluation (`eval.tables`), the run report (`eval.run_report`) and
`launch.render` all draw grasps with it."""
from __future__ import annotations

import numpy as np
import trimesh

from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.objects.containers import ProcessedObject
from dexvlg_jax.viz.meshes import export_grasp_glb, hand_trimesh, object_trimesh
from dexvlg_jax.viz.picture import render_meshes_png


def as_hand_pose(pose) -> HandPose:
    """A HandPose from a HandPose or a 25-vector (translation, 6D rotation, 16 joints: `hand.pose`)."""
    return pose if isinstance(pose, HandPose) else HandPose.from_vector(np.asarray(pose, np.float64))


def grasp_meshes(obj: ProcessedObject, pose) -> list[trimesh.Trimesh]:
    """[object coloured by part, posed hand] in the object frame; `pose`: HandPose or 25-vector."""
    hand = as_hand_pose(pose)
    return [object_trimesh(obj.vertices, obj.faces, obj.face_part_ids),
            hand_trimesh(np.asarray(hand.translation), np.asarray(hand.rotation), np.asarray(hand.joints))]


def draw_grasp(path: str, obj: ProcessedObject, pose, size: int = 320, glb: bool = False) -> str:
    """PNG of `obj` grasped with `pose` (HandPose or 25-vector) at `path`; with `glb`, also `<stem>.glb` for any
    3D viewer. Returns the PNG path."""
    meshes = grasp_meshes(obj, pose)
    render_meshes_png(path, meshes, size=(size, size))
    if glb:
        hand = as_hand_pose(pose)
        export_grasp_glb(path.rsplit(".", 1)[0] + ".glb", meshes[0], np.asarray(hand.translation),
                         np.asarray(hand.rotation), np.asarray(hand.joints))
    return path


def draw_object(path: str, obj: ProcessedObject, size: int = 260) -> str:
    """PNG of `obj` coloured by semantic part at `path`."""
    return render_meshes_png(path, [object_trimesh(obj.vertices, obj.faces, obj.face_part_ids)], size=(size, size))
