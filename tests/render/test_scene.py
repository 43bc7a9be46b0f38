"""Tabletop scenes: stable placement on the table, scene assembly, padding and stacking."""
import numpy as np
import pytest
import trimesh
from scipy.optimize import nnls

from dexvlg_jax.render import scene
from dexvlg_jax.render.raycast import TABLE_PART_ID


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_object_rests_on_table(test_object, seed):
    vertices, faces, _ = test_object
    placement = scene.place_on_table(vertices, faces, seed)
    transform = placement.object_to_world
    np.testing.assert_allclose(transform[:3, :3] @ transform[:3, :3].T, np.eye(3), atol=1e-9)
    world = vertices @ transform[:3, :3].T + transform[:3, 3]
    assert abs(world[:, 2].min()) < 1e-3          # touches the table top (z = 0) within 1 mm
    low, high = world.min(0), world.max(0)
    np.testing.assert_allclose((low[:2] + high[:2]) / 2, 0.0, atol=1e-9)  # centred on the table
    # Stable: the centre of mass projects inside the support polygon (hull of the contact points).
    mesh = trimesh.Trimesh(world, faces, process=False)
    contact = world[world[:, 2] < 1e-5][:, :2]
    weights, residual = nnls(np.vstack([contact.T, np.ones(len(contact))]), np.r_[mesh.center_mass[:2], 1.0])
    assert residual < 1e-4, "centre of mass is not above the support polygon"
    assert 0 <= placement.pose_index < 3 and 0 < placement.pose_probability <= 1


def test_placement_is_seeded(test_object):
    vertices, faces, _ = test_object
    first = scene.place_on_table(vertices, faces, np.random.default_rng(7))
    again = scene.place_on_table(vertices, faces, np.random.default_rng(7))
    np.testing.assert_array_equal(first.object_to_world, again.object_to_world)
    yaws = {round(scene.place_on_table(vertices, faces, s).yaw, 6) for s in range(5)}
    assert len(yaws) == 5


def test_box_rests_on_its_largest_face():
    box = trimesh.creation.box(extents=(0.3, 0.2, 0.05))
    box.apply_transform(trimesh.transformations.rotation_matrix(1.0, (1, 1, 0)))
    placement = scene.place_on_table(box.vertices, box.faces, 0, num_candidates=1)
    world = box.vertices @ placement.object_to_world[:3, :3].T + placement.object_to_world[:3, 3]
    assert world[:, 2].max() == pytest.approx(0.05, abs=1e-6)
    assert world[:, 2].min() == pytest.approx(0.0, abs=1e-9)


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


def test_library_object_rests_on_table():
    from dexvlg_jax.objects.library import make_object

    mesh = make_object("mug", 0)
    placement = scene.place_on_table(mesh.vertices, mesh.faces, 0)
    world = mesh.vertices @ placement.object_to_world[:3, :3].T + placement.object_to_world[:3, 3]
    assert abs(world[:, 2].min()) < 1e-3


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


def test_upright_placement_keeps_z_up_and_rests_on_the_table():
    import numpy as np
    import trimesh

    from dexvlg_jax.render import place_upright

    mesh = trimesh.creation.cylinder(radius=0.03, height=0.2)
    placement = place_upright(mesh.vertices, 3)
    world = mesh.vertices @ placement.object_to_world[:3, :3].T + placement.object_to_world[:3, 3]
    np.testing.assert_allclose(placement.object_to_world[:3, 2], [0.0, 0.0, 1.0], atol=1e-12)
    assert abs(world[:, 2].min()) < 1e-9 and abs(world[:, 2].max() - 0.2) < 1e-9
    np.testing.assert_allclose((world.min(0) + world.max(0))[:2] / 2, 0.0, atol=1e-9)
