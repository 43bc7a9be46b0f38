"""The camera-roll augmentation against the renderer: rolling the rendered images equals rendering with a rolled
camera, and the rolled grasp label equals the label expressed in the rolled camera's frame."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import trimesh

from dexvlg_jax.data.augment import InstructionNoise, RollAboutOpticalAxis, roll_matrix, roll_observation
from dexvlg_jax.data.schema import transform_pose
from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.render import camera, raycast, scene
from dexvlg_jax.scene import TabletopConfig, place_object
from tests.render.conftest import three_part_object

SIZE = 48
THETA = np.deg2rad(12.0)


@pytest.fixture(scope="module")
def two_cameras():
    """The object on the table seen by a tabletop camera and by the same camera rolled by THETA about its axis."""
    vertices, faces, part_ids = three_part_object()
    placed = place_object(trimesh.Trimesh(vertices, faces, process=False), 0, TabletopConfig(placement="upright"))
    tri_scene = scene.build_scene(vertices, faces, part_ids, placed.object_to_world, num_faces=512)
    k = camera.intrinsics_from_fov(30.0, SIZE, SIZE)
    world_to_camera = np.asarray(camera.tabletop_camera(0.9, target=jnp.array([0.0, 0.0, 0.05])))
    rolled = roll_matrix(THETA) @ world_to_camera
    out = raycast.render_views(tri_scene, jnp.stack([k, k]), jnp.asarray(np.stack([world_to_camera, rolled]),
                                                                          jnp.float32), SIZE, SIZE, chunk=256)
    return np.asarray(k), world_to_camera, rolled, jax.device_get(out)


def _example(k, out, view, pose):
    return {"image": np.asarray(out.rgb[view], np.float32) * 2 - 1, "depth": np.asarray(out.depth[view]),
            "intrinsics": k, "pose": pose, "tokens": np.arange(4)}


def test_rolled_images_match_a_rolled_camera(two_cameras):
    k, _, _, out = two_cameras
    rolled = roll_observation(_example(k, out, 0, np.zeros(25, np.float32)), THETA)
    reference_depth, depth = np.asarray(out.depth[1]), rolled["depth"]
    inside = np.zeros_like(depth, bool)
    inside[6:-6, 6:-6] = True  # corners of the rolled image come from outside the original one
    both = inside & (depth > 0) & (reference_depth > 0)
    assert both.mean() > 0.5
    error = np.abs(depth - reference_depth)[both]
    # nearest-neighbour resampling moves a sample by up to ~0.7 px; one pixel spans 0.9 m x tan(30 deg / 48) ~ 1 cm
    # across, and the table, seen 45 deg down, deepens by about that per pixel: up to ~5 mm, except at silhouettes
    footprint = 0.9 * np.tan(np.deg2rad(30.0 / SIZE))
    assert np.median(error) < footprint / 2 and np.mean(error < 1e-2) > 0.95, (np.median(error), footprint)
    wrong_way = roll_observation(_example(k, out, 0, np.zeros(25, np.float32)), -THETA)["depth"]
    assert np.median(np.abs(wrong_way - reference_depth)[both]) > 2 * np.median(error)  # the test can tell
    colour = np.abs((rolled["image"] + 1) / 2 - np.asarray(out.rgb[1]))[both]
    assert np.median(colour) < 0.02 and np.mean(colour < 0.1) > 0.95
    assert np.array_equal(rolled["tokens"], np.arange(4))  # other keys pass through


def test_rolled_label_is_the_label_in_the_rolled_camera_frame(two_cameras):
    k, world_to_camera, rolled_camera, out = two_cameras
    rng = np.random.default_rng(0)
    world = HandPose(translation=np.array([0.02, -0.01, 0.12]), rotation=trimesh.transformations.random_rotation_matrix(
        rand=rng.uniform(size=3))[:3, :3], joints=rng.uniform(0, 1, 16)).to_vector().astype(np.float32)
    rolled = roll_observation(_example(k, out, 0, transform_pose(world, world_to_camera)), THETA)
    np.testing.assert_allclose(rolled["pose"], transform_pose(world, rolled_camera), atol=2e-6)  # float32 poses
    # and the label's palm projects where the rolled image puts it: the point turned by THETA about (cx, cy)
    pixel = np.asarray(camera.project(jnp.asarray(rolled["pose"][:3]), jnp.asarray(k))[0])
    original = np.asarray(camera.project(jnp.asarray(transform_pose(world, world_to_camera)[:3]), jnp.asarray(k))[0])
    centre = k[:2, 2]
    c, s = np.cos(THETA), np.sin(THETA)
    np.testing.assert_allclose(pixel - centre, np.array([[c, -s], [s, c]]) @ (original - centre), atol=1e-3)


def test_zero_roll_is_identity_and_the_transform_draws_per_record(two_cameras):
    k, _, _, out = two_cameras
    example = _example(k, out, 0, np.zeros(25, np.float32))
    same = roll_observation(example, 0.0)
    assert all(np.array_equal(same[key], example[key]) for key in example)
    transform = RollAboutOpticalAxis(20.0)
    example["pose"] = HandPose(translation=np.zeros(3), rotation=np.eye(3), joints=np.zeros(16)).to_vector()
    a = transform.random_map(example, np.random.default_rng(1))
    b = transform.random_map(example, np.random.default_rng(1))
    c = transform.random_map(example, np.random.default_rng(2))
    assert np.array_equal(a["pose"], b["pose"]) and not np.array_equal(a["pose"], c["pose"])
    roll = np.arctan2(a["pose"][4], a["pose"][3])  # first rot6d column of an identity rotation, turned in xy
    assert 0 < abs(roll) <= np.deg2rad(20.0)
    with pytest.raises(ValueError, match="max_deg"):
        RollAboutOpticalAxis(-1.0)
    with pytest.raises(ValueError, match="square pixels"):
        roll_observation({**example, "intrinsics": np.diag([50.0, 60.0, 1.0])}, 0.1)


def test_instruction_noise_keeps_the_prefix_form_and_its_rate():
    """[BOS] and the separator stay at the ends, survivors keep their order, padding follows, prob 0 is the identity;
    over many draws about prob / 2 of the inner pieces are dropped and prob / 2 replaced."""
    from dexvlg_jax.data.tokenizer import Tokenizer
    tokenizer = Tokenizer()
    tokens, mask = tokenizer.encode("pinch the cap of the bottle with your fingertips", 32)
    element = {"tokens": np.asarray(tokens, np.int32), "token_mask": np.asarray(mask, bool), "pose": np.zeros(25)}
    length = int(element["token_mask"].sum())
    assert InstructionNoise(0.0, tokenizer.vocab_size).random_map(element, np.random.default_rng(0)) is element
    noise = InstructionNoise(0.4, tokenizer.vocab_size)
    rng = np.random.default_rng(1)
    lengths, changed = [], 0
    for _ in range(400):
        out = noise.random_map(element, rng)
        n = int(out["token_mask"].sum())
        assert out["tokens"].shape == element["tokens"].shape and out["pose"] is element["pose"]
        assert np.array_equal(out["token_mask"], np.arange(32) < n) and np.all(out["tokens"][n:] == 0)
        assert out["tokens"][0] == element["tokens"][0] and out["tokens"][n - 1] == element["tokens"][length - 1]
        assert np.all((out["tokens"][1:n - 1] >= 4) & (out["tokens"][1:n - 1] < tokenizer.vocab_size))
        lengths.append(n)
        if n == length:
            changed += int(np.sum(out["tokens"][:n] != element["tokens"][:n]) > 0)
    inner = length - 2
    assert abs(np.mean(lengths) - (length - 0.2 * inner)) < 0.1 * inner  # drop rate prob / 2
    assert changed > 0
    with pytest.raises(ValueError, match="prob"):
        InstructionNoise(1.5, tokenizer.vocab_size)


def test_instruction_noise_keeps_the_part_nouns():
    """With the part nouns protected, every noisy instruction still holds the part's pieces in order, while the
    other pieces are dropped or replaced as before; the pieces are the nouns' own ("▁handle", "▁nozzle" + ...),
    not the template words around them."""
    from dexvlg_jax.data.augment import part_word_pieces
    from dexvlg_jax.data.instructions import render_instruction
    from dexvlg_jax.data.tokenizer import Tokenizer
    tokenizer = Tokenizer()
    protected = part_word_pieces(tokenizer, ["handle", "nozzle head", "bowl"])
    pieces = {tokenizer._sp.id_to_piece(i) for i in protected}
    assert {"▁handle", "▁nozzle", "▁head", "▁bowl", "▁body"} <= pieces
    assert not pieces & {"▁the", "▁of", "▁mug", "▁grab", "▁hold"}
    text = render_instruction("please grab hold of the {part} on {the_object}", "spray_bottle", "nozzle head")
    tokens, mask = tokenizer.encode(text, 32)
    element = {"tokens": np.asarray(tokens, np.int32), "token_mask": np.asarray(mask, bool)}
    part_ids = [int(t) for t in tokens[mask] if int(t) in protected]
    assert len(part_ids) >= 2
    noise, rng, shorter = InstructionNoise(0.8, tokenizer.vocab_size, protected), np.random.default_rng(0), 0
    for _ in range(100):
        out = noise.random_map(element, rng)
        rest = iter(int(t) for t in out["tokens"][out["token_mask"]])
        assert all(any(t == p for t in rest) for p in part_ids)  # the part's pieces survive, in order
        shorter += int(out["token_mask"].sum() < mask.sum())
    assert shorter > 50  # the rest is still noised
    unprotected = InstructionNoise(0.8, tokenizer.vocab_size)
    lost = sum(int(t) not in unprotected.random_map(element, rng)["tokens"] for t in part_ids[:1] for _ in range(50))
    assert lost > 10
