"""Tabletop triangle scenes: assembly, padding and stacking (placement: tests/scene)."""
import numpy as np
import pytest

from dexvlg_jax.render import scene
from dexvlg_jax.render.raycast import TABLE_PART_ID


def test_build_pad_stack(test_object):
    vertices, faces, part_ids = test_object
    built = scene.build_scene(vertices, faces, part_ids, np.eye(4))
    num_faces = len(faces) + 12
    assert built.triangles.shape == (num_faces, 3, 3) and built.triangles.dtype == np.float32
    assert built.num_background == 12  # the table's faces come first
    np.testing.assert_array_equal(built.part_ids[12:], part_ids)
    np.testing.assert_array_equal(built.part_ids[:12], TABLE_PART_ID)
    np.testing.assert_allclose(built.colors[12:], scene.part_colors(3)[part_ids])
    plain = scene.build_scene(vertices, faces, part_ids, np.eye(4), base_color=(0.1, 0.2, 0.3))
    np.testing.assert_allclose(plain.colors[12], (0.1, 0.2, 0.3))
    np.testing.assert_allclose(built.triangles[:12, :, 2].max(), 0.0)  # table top at z = 0
    padded = scene.pad_scene(built, num_faces + 5)
    assert padded.triangles.shape == (num_faces + 5, 3, 3)
    np.testing.assert_array_equal(padded.triangles[num_faces:], 0.0)
    small = scene.build_scene(vertices[:8], faces[:4], part_ids[:4], np.eye(4))
    stacked = scene.stack_scenes([built, small])
    assert stacked.triangles.shape == (2, num_faces, 3, 3) and stacked.part_ids.shape == (2, num_faces)
    assert stacked.num_background == 12 and padded.num_background == 12
    with pytest.raises(ValueError, match="num_faces"):
        scene.pad_scene(built, 3)
    with pytest.raises(ValueError, match="face_part_ids"):
        scene.build_scene(vertices, faces, part_ids[:-1], np.eye(4))


def test_decimate_keeps_small_meshes(test_object):
    vertices, faces, part_ids = test_object
    out = scene.decimate(vertices, faces, part_ids, max_faces=10_000)
    assert out[1] is faces
    with pytest.warns(UserWarning) if not _has_fast_simplification() else _nullcontext():
        v, f, p = scene.decimate(vertices, faces, part_ids, max_faces=200)
    assert len(f) == len(p) and p.min() >= 0


def _has_fast_simplification():
    try:
        import fast_simplification  # noqa: F401
        return True
    except ImportError:
        return False


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
