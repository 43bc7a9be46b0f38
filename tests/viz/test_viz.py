"""Grasp pictures and GLB export."""
import numpy as np
import trimesh
from PIL import Image

from dexvlg_jax import viz
from dexvlg_jax.hand.model import load_hand


def test_hand_mesh_matches_the_collision_primitives():
    mesh = viz.hand_trimesh(np.zeros(3), np.eye(3), np.zeros(16))
    hand = load_hand()
    assert set(np.unique(mesh.metadata["face_link"])) == set(range(hand.num_links)) - {0} | {0}
    # Open hand: fingertips ~13 cm along +x, palm face at z ~ -3.5 cm.
    assert 0.12 < mesh.bounds[1, 0] < 0.15 and -0.04 < mesh.bounds[0, 2] < -0.03


def test_glb_round_trip(tmp_path):
    obj = viz.object_trimesh(*_cylinder())
    path = viz.export_grasp_glb(str(tmp_path / "grasp.glb"), obj, np.array([0.0, 0.0, 0.12]), np.eye(3), np.zeros(16))
    scene = trimesh.load(path)
    faces = sum(len(g.faces) for g in scene.geometry.values())
    assert faces == len(obj.faces) + len(viz.hand_trimesh(np.zeros(3), np.eye(3), np.zeros(16)).faces)


def test_software_picture_shows_hand_and_object_colours(tmp_path):
    obj = viz.object_trimesh(*_cylinder())
    hand_mesh = viz.hand_trimesh(np.array([0.0, 0.0, 0.14]), np.eye(3), np.zeros(16))
    path = viz.render_meshes_png(str(tmp_path / "g.png"), [obj, hand_mesh], size=(160, 120))
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    background = np.all(pixels == 255, axis=1)
    assert 0.05 < 1 - background.mean() < 0.95
    # The hand's skin colour and at least one part colour are visible.
    skin = np.array(viz.meshes.HAND_COLOUR[:3])
    part = viz.part_colours(2)[0, :3].astype(int)
    hue = lambda c: c / max(c.sum(), 1)  # noqa: E731  shading scales brightness, keeps the hue
    assert np.any(np.all(np.abs(pixels / np.maximum(pixels.sum(1, keepdims=True), 1) - hue(skin)) < 0.02, axis=1))
    assert np.any(np.all(np.abs(pixels / np.maximum(pixels.sum(1, keepdims=True), 1) - hue(part)) < 0.02, axis=1))


def _cylinder():
    mesh = trimesh.creation.cylinder(radius=0.03, height=0.2)
    return mesh.vertices, mesh.faces, (mesh.triangles_center[:, 2] > 0.05).astype(int)


def test_report_embeds_tables_and_pictures(tmp_path):
    png = viz.render_meshes_png(str(tmp_path / "h.png"), [viz.hand_trimesh(np.zeros(3), np.eye(3), np.zeros(16))],
                                size=(64, 64))
    from dexvlg_jax.viz.report import Report

    path = Report("t").section("Quality").table([{"split": "seen", "success": 0.5}]).image(png, "hand").image(
        str(tmp_path / "missing.png")).write(str(tmp_path / "r.html"))
    page = open(path).read()
    assert "<td>0.500</td>" in page and "data:image/png;base64," in page and "missing picture" in page


def test_draw_grasp_takes_a_vector_or_a_hand_pose(tmp_path):
    from dexvlg_jax.hand.pose import HandPose
    from dexvlg_jax.objects.reference_shapes import cylinder_object

    obj = cylinder_object(num_points=64, resolution=8)
    vector = np.zeros(25)
    vector[0], vector[3], vector[7] = -0.12, 1.0, 1.0  # beside the cylinder, identity rotation (6D)
    a = viz.draw_grasp(str(tmp_path / "a.png"), obj, vector, size=96, glb=True)
    b = viz.draw_grasp(str(tmp_path / "b.png"), obj, HandPose.from_vector(vector), size=96)
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    assert len(trimesh.load(str(tmp_path / "a.glb")).geometry) == 2
    meshes = viz.grasp_meshes(obj, vector)
    assert len(meshes[0].faces) == len(obj.faces) and meshes[1].bounds[0, 0] < -0.1
