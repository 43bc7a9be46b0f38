"""Grasp record schema (version 1) and its byte encoding.

One record = one (object, part, mode, grasp, view). Frames: the object frame is the ProcessedObject frame (metres,
z up, bbox centred); the camera frame is the renderer's camera frame; `object_to_camera` (4, 4) maps object-frame
points to camera-frame points (p_cam = T[:3, :3] @ p_obj + T[:3, 3]).

Hand pose (25,) float32 = wrist translation (3, metres) + wrist rotation 6D (first two columns of R, col 0 then
col 1) + 16 joint angles (radians, DESIGN order). `pose_camera = transform_pose(pose_object, object_to_camera)`.

Byte format ("DVLG record v1"): an uncompressed `.npz` archive (`np.savez` into bytes) whose entries are plain
numpy arrays, read with `allow_pickle=False` (no pickle anywhere):

| entry | dtype / shape | meaning |
| --- | --- | --- |
| schema_version | int32 () | SCHEMA_VERSION |
| object_id, category, split, part_name, mode, instruction | unicode () | identifiers and text |
| part_id, grasp_index, view_index | int32 () | indices (grasp_index indexes the object's grasp file) |
| pose_camera, pose_object | float32 (25,) | hand pose in the camera / object frame |
| object_to_camera | float32 (4, 4) | object -> camera rigid transform |
| penetration_mm, self_penetration_mm, q1 | float32 () | quality metrics |
| sim_success | bool () | passed the six-direction simulation test |
| rgb_png | uint8 (N,) | RGB (H, W, 3) uint8 as PNG bytes (lossless) |
| depth_png | uint8 (N,) | depth (H, W) as uint16 millimetres PNG: round(depth_m * 1000); 0 = no surface |
| mask_png | uint8 (N,) | part mask (H, W) stored as uint8 PNG of (mask + 2); decoded back to int32 |
| intrinsics | float32 (3, 3) | pinhole K (pixels) |
| extrinsics | float32 (4, 4) | world -> camera transform as given by the renderer |

Depth: metres in [0, 65.535]; quantisation error <= 0.5 mm; non-finite or non-positive depth is stored as 0 and
decodes to 0.0 (meaning "no surface"). Part mask: int32 in the renderer's convention (dexvlg_jax.render.raycast):
k >= 0 = object part k, -1 = table, -2 = background (nothing hit); values must lie in [-2, 253].
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np

from dexvlg_jax.hand.constants import MODES, POSE_DIM
from dexvlg_jax.hand.pose import HandPose

SCHEMA_VERSION = 1
_STRING_FIELDS = ("object_id", "category", "split", "part_name", "mode", "instruction")
_INT_FIELDS = ("part_id", "grasp_index", "view_index")
_FLOAT_FIELDS = ("penetration_mm", "self_penetration_mm", "q1")
_MASK_OFFSET = 2  # stored = mask + 2, so the table (-1) and background (-2) fit in uint8


@dataclasses.dataclass(frozen=True)
class GraspRecord:
    """A decoded record. Images: rgb (H, W, 3) uint8, depth (H, W) float32 metres, part_mask (H, W) int32."""

    object_id: str
    category: str
    split: str
    part_id: int
    part_name: str
    mode: str
    instruction: str
    grasp_index: int
    view_index: int
    pose_camera: np.ndarray
    pose_object: np.ndarray
    object_to_camera: np.ndarray
    penetration_mm: float
    self_penetration_mm: float
    q1: float
    sim_success: bool
    rgb: np.ndarray
    depth: np.ndarray
    part_mask: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray

    def to_dict(self) -> dict:
        """Plain dict of numpy values (strings as 0-d unicode arrays), the form grain transforms pass on."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value if isinstance(value, np.ndarray) else np.asarray(value)
        return out


def transform_pose(pose: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Express hand poses (..., 25) given in frame A in frame B, with `transform` (4, 4) mapping A -> B.

    Translation t' = R_T t + p_T, rotation R' = R_T R (re-encoded as 6D), joints unchanged (`HandPose.transform`,
    computed in float64). Returns float32.
    """
    pose = np.asarray(pose, np.float64)
    transform = np.asarray(transform, np.float64)
    if pose.shape[-1] != POSE_DIM or transform.shape != (4, 4):
        raise ValueError(f"transform_pose: pose must be (..., {POSE_DIM}) and transform (4, 4), "
                         f"got {pose.shape} and {transform.shape}")
    return HandPose.from_vector(pose).transform(transform).to_vector().astype(np.float32)


def _png_bytes(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=6)
    return np.frombuffer(buffer.getvalue(), np.uint8)


def _png_array(data: np.ndarray) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(np.asarray(data, np.uint8).tobytes())) as image:
        return np.asarray(image)


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (H, W) metres -> uint16 millimetres (0 = no surface). Raises if any finite depth exceeds 65.535 m."""
    depth = np.asarray(depth, np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    if np.any(depth[valid] > 65.535):
        raise ValueError(f"depth: {float(depth[valid].max()):.3f} m exceeds the uint16-millimetre range (65.535 m)")
    return np.where(valid, np.round(np.where(valid, depth, 0.0) * 1000.0), 0).astype(np.uint16)


def _check_record(rec: GraspRecord) -> None:
    name = f"record {rec.object_id}/{rec.part_id}/{rec.mode}/{rec.grasp_index}/{rec.view_index}"
    if rec.mode not in MODES:
        raise ValueError(f"{name}: mode {rec.mode!r} is not one of {MODES}")
    for field in ("pose_camera", "pose_object"):
        value = np.asarray(getattr(rec, field))
        if value.shape != (POSE_DIM,) or not np.all(np.isfinite(value)):
            raise ValueError(f"{name}: {field} must be finite with shape ({POSE_DIM},), got {value.shape}")
    rgb = np.asarray(rec.rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"{name}: rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    for field in ("depth", "part_mask"):
        if np.shape(getattr(rec, field)) != rgb.shape[:2]:
            raise ValueError(f"{name}: {field} shape {np.shape(getattr(rec, field))} != image {rgb.shape[:2]}")
    mask = np.asarray(rec.part_mask)
    if mask.size and (mask.min() < -_MASK_OFFSET or mask.max() > 255 - _MASK_OFFSET):
        raise ValueError(f"{name}: part_mask values must lie in [-2, 253], got [{mask.min()}, {mask.max()}]")
    for field, shape in (("intrinsics", (3, 3)), ("extrinsics", (4, 4)), ("object_to_camera", (4, 4))):
        if np.shape(getattr(rec, field)) != shape:
            raise ValueError(f"{name}: {field} must be {shape}, got {np.shape(getattr(rec, field))}")


def encode_record(rec: GraspRecord) -> bytes:
    """GraspRecord -> bytes (schema v1, see the module docstring). Validates shapes, dtypes, ranges."""
    _check_record(rec)
    arrays = {"schema_version": np.asarray(SCHEMA_VERSION, np.int32)}
    arrays.update({k: np.asarray(str(getattr(rec, k))) for k in _STRING_FIELDS})
    arrays.update({k: np.asarray(int(getattr(rec, k)), np.int32) for k in _INT_FIELDS})
    arrays.update({k: np.asarray(float(getattr(rec, k)), np.float32) for k in _FLOAT_FIELDS})
    arrays["sim_success"] = np.asarray(bool(rec.sim_success))
    for k in ("pose_camera", "pose_object", "object_to_camera", "intrinsics", "extrinsics"):
        arrays[k] = np.asarray(getattr(rec, k), np.float32)
    arrays["rgb_png"] = _png_bytes(np.ascontiguousarray(rec.rgb, np.uint8))
    arrays["depth_png"] = _png_bytes(encode_depth(rec.depth))
    arrays["mask_png"] = _png_bytes((np.asarray(rec.part_mask, np.int64) + _MASK_OFFSET).astype(np.uint8))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode_record(data: bytes) -> GraspRecord:
    """bytes -> GraspRecord. Raises ValueError naming the problem for foreign or newer-version bytes."""
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # not an npz archive
        raise ValueError(f"decode_record: not a grasp record ({len(data)} bytes): {exc}") from exc
    with archive:
        version = int(archive["schema_version"]) if "schema_version" in archive.files else None
        if version != SCHEMA_VERSION:
            raise ValueError(f"decode_record: schema_version {version} is not supported (expected {SCHEMA_VERSION})")
        fields = {k: str(archive[k]) for k in _STRING_FIELDS}
        fields.update({k: int(archive[k]) for k in _INT_FIELDS})
        fields.update({k: float(archive[k]) for k in _FLOAT_FIELDS})
        fields["sim_success"] = bool(archive["sim_success"])
        for k in ("pose_camera", "pose_object", "object_to_camera", "intrinsics", "extrinsics"):
            fields[k] = archive[k]
        fields["rgb"] = _png_array(archive["rgb_png"])
        fields["depth"] = _png_array(archive["depth_png"]).astype(np.float32) / np.float32(1000.0)
        fields["part_mask"] = _png_array(archive["mask_png"]).astype(np.int32) - _MASK_OFFSET
    return GraspRecord(**fields)
