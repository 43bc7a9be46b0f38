"""Record schema round trip, resumable shard writer + manifest, grain loader with iterator state."""
import json
import os

import pickle

import numpy as np
import pytest

from dexvlg_jax.data import schema, shards, source, writer
from dexvlg_jax.data.splits import SPLITS, assign_splits
from dexvlg_jax.render import camera


def fake_record(object_id="mug_0000", split="train", category="mug", grasp=0, view=0, size=(24, 32), seed=0):
    rng = np.random.default_rng(seed)
    height, width = size
    angle = rng.uniform(0, 2 * np.pi)
    transform = np.eye(4)
    transform[:3, :3] = [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    transform[:3, 3] = rng.normal(size=3)
    pose_object = np.concatenate([rng.normal(size=3) * 0.1, [1, 0, 0, 0, 1, 0], rng.uniform(0, 1, 16)])
    depth = rng.uniform(0.3, 1.5, size).astype(np.float32)
    depth[0, :3] = np.inf  # no surface
    mask = rng.integers(-2, 3, size).astype(np.int32)
    return schema.GraspRecord(
        object_id=object_id, category=category, split=split, part_id=1, part_name="handle", mode="wrap",
        instruction="grasp the mug by its handle", grasp_index=grasp, view_index=view,
        pose_camera=schema.transform_pose(pose_object, transform), pose_object=pose_object.astype(np.float32),
        object_to_camera=transform.astype(np.float32), penetration_mm=1.5, self_penetration_mm=0.2, q1=0.08,
        sim_success=True, rgb=rng.integers(0, 256, (height, width, 3), dtype=np.uint8), depth=depth,
        part_mask=mask, intrinsics=np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]], np.float32),
        extrinsics=np.eye(4, dtype=np.float32))


def test_round_trip_bit_exact_images_and_depth_within_1mm():
    rec = fake_record()
    data = schema.encode_record(rec)
    out = schema.decode_record(data)
    np.testing.assert_array_equal(out.rgb, rec.rgb)
    np.testing.assert_array_equal(out.part_mask, rec.part_mask)
    finite = np.isfinite(rec.depth)
    assert np.abs(out.depth[finite] - rec.depth[finite]).max() <= 0.0005 + 1e-6
    assert np.all(out.depth[~finite] == 0)
    for key in ("object_id", "category", "split", "part_id", "part_name", "mode", "instruction", "grasp_index",
                "view_index", "sim_success"):
        assert getattr(out, key) == getattr(rec, key)
    np.testing.assert_allclose(out.q1, rec.q1, rtol=1e-6)
    for key in ("pose_camera", "pose_object", "object_to_camera", "intrinsics", "extrinsics"):
        np.testing.assert_array_equal(out.__dict__[key], np.asarray(rec.__dict__[key], np.float32))
    assert out.rgb.dtype == np.uint8 and out.depth.dtype == np.float32 and out.part_mask.dtype == np.int32
    # Compact: the fixed overhead on top of the PNG payloads stays small.
    assert len(data) < rec.rgb.nbytes + 4 * rec.depth.size + 6000


def test_transform_pose_matches_matrix_composition():
    """pose_camera of a non-identity object-frame rotation, against the 4x4 product object_to_camera @ palm_to_object
    computed here with scipy's rotations (no project code on the reference side)."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(3)
    palm_rot = Rotation.random(random_state=4).as_matrix()
    pose_object = np.concatenate([rng.normal(size=3) * 0.1, palm_rot[:, 0], palm_rot[:, 1], rng.uniform(0, 1, 16)])
    transform = np.eye(4)
    transform[:3, :3] = Rotation.random(random_state=5).as_matrix()
    transform[:3, 3] = rng.normal(size=3)
    palm_to_object = np.eye(4)
    palm_to_object[:3, :3], palm_to_object[:3, 3] = palm_rot, pose_object[:3]
    want = transform @ palm_to_object
    got = schema.transform_pose(pose_object, transform)
    assert got.dtype == np.float32 and got.shape == (25,)
    np.testing.assert_allclose(got[:3], want[:3, 3], atol=1e-6)
    np.testing.assert_allclose(got[3:6], want[:3, 0], atol=1e-6)  # 6D = first column, then second
    np.testing.assert_allclose(got[6:9], want[:3, 1], atol=1e-6)
    np.testing.assert_array_equal(got[9:], pose_object[9:].astype(np.float32))
    assert np.abs(got[3:9] - pose_object[3:9]).max() > 0.1  # the rotation really changed
    # A batch gives the same rows, and the inverse transform brings the pose back.
    batch = schema.transform_pose(np.stack([pose_object, pose_object]), transform)
    np.testing.assert_allclose(batch, np.stack([got, got]), atol=1e-7)
    back = schema.transform_pose(got, np.linalg.inv(transform))
    np.testing.assert_allclose(back, pose_object, atol=1e-5)


def test_bad_records_and_bytes_are_rejected_with_clear_errors():
    rec = fake_record()
    with pytest.raises(ValueError, match="mode"):
        schema.encode_record(schema.GraspRecord(**{**rec.__dict__, "mode": "poke"}))
    with pytest.raises(ValueError, match="pose_camera"):
        schema.encode_record(schema.GraspRecord(**{**rec.__dict__, "pose_camera": np.full(25, np.nan)}))
    with pytest.raises(ValueError, match="not a grasp record"):
        schema.decode_record(b"garbage")


def _objects(count=8):
    return {f"obj_{i:03d}": ("mug" if i % 2 else "bottle") for i in range(count)}


def _records_for(spec, objects, per_object=3):
    for object_id in spec.object_ids:
        for grasp in range(per_object):
            yield fake_record(object_id, spec.split, objects[object_id], grasp=grasp, seed=grasp)


def test_splits_are_deterministic_and_cover_unseen_categories():
    objects = {f"{c}_{i}": c for c in ("mug", "bottle", "pan", "hammer", "kettle") for i in range(20)}
    splits = assign_splits(objects, seed=1)
    assert splits == assign_splits(dict(reversed(list(objects.items()))), seed=1)
    assert set(splits.values()) == set(SPLITS)
    unseen = {objects[k] for k, v in splits.items() if v == "test_unseen_category"}
    assert len(unseen) == 1
    assert not any(objects[k] in unseen for k, v in splits.items() if v != "test_unseen_category")
    parts = [shards.shard_of_work(list(range(10)), i, 3) for i in range(3)]
    assert sorted(sum(parts, [])) == list(range(10))
    assert shards.parse_shard_flag("1/3") == (1, 3)
    with pytest.raises(ValueError, match="--shard"):
        shards.parse_shard_flag("3/3")


def test_writer_resume_no_duplicates(tmp_path):
    objects = _objects(8)
    specs = shards.plan_shards({k: "train" for k in objects}, objects_per_shard=2)
    assert len(specs) == 4
    w = writer.DatasetWriter(tmp_path, config={"name": "test"})
    for spec in specs[:2]:
        w.write_shard(spec, _records_for(spec, objects))
    w.update_manifest()

    def crashing(spec):
        yield from list(_records_for(spec, objects))[:2]
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        w.write_shard(specs[2], crashing(specs[2]))
    assert not w.is_done(specs[2].name) and not os.path.exists(w.shard_path(specs[2].name))
    # Re-run from scratch with the same plan: done shards are skipped, the rest written once.
    w2 = writer.DatasetWriter(tmp_path, config={"name": "test"})
    written = []
    for spec in shards.plan_shards({k: "train" for k in objects}, objects_per_shard=2):
        if w2.is_done(spec.name):
            continue
        written.append(spec.name)
        w2.write_shard(spec, _records_for(spec, objects), failures=[{"object_id": "x", "stage": "s", "reason": "r"}])
    manifest = w2.update_manifest()
    assert written == [specs[2].name, specs[3].name]
    assert manifest["num_records"] == 8 * 3 and manifest["num_shards"] == 4
    assert manifest["counts"]["object"] == {k: 3 for k in objects}
    assert manifest["counts"]["category"] == {"mug": 12, "bottle": 12}
    assert manifest["counts"]["mode"] == {"wrap": 24} and manifest["counts"]["part"] == {"handle": 24}
    assert len(manifest["failures"]) == 2
    assert not [f for f in os.listdir(tmp_path) if "tmp" in f]
    with open(tmp_path / writer.MANIFEST_NAME) as f:
        assert json.load(f)["num_records"] == 24
    paths = writer.shard_paths(tmp_path, "train")
    ids = [(str(r["object_id"]), int(r["grasp_index"])) for r in map(source.DecodeRecord().map, _read_all(paths))]
    assert len(ids) == len(set(ids)) == 24
    stats = writer.compute_pose_statistics(paths)
    np.testing.assert_allclose(stats["mean"], manifest["pose_statistics"]["train"]["mean"], atol=1e-5)
    np.testing.assert_allclose(stats["std"], manifest["pose_statistics"]["train"]["std"], atol=1e-4)


def _read_all(paths):
    data = source.open_data_source(paths)
    return [data[i] for i in range(len(data))]


def test_loader_shapes_and_iterator_state(tmp_path):
    objects = _objects(4)
    w = writer.DatasetWriter(tmp_path)
    for spec in shards.plan_shards({k: "train" for k in objects}, 2):
        w.write_shard(spec, _records_for(spec, objects, per_object=4))
    w.update_manifest()
    mean, std = source.pose_statistics(tmp_path)
    assert mean.shape == std.shape == (25,) and np.all(std >= 0)

    class WordTokenizer:  # picklable stand-in with the Tokenizer.encode signature
        def encode(self, text, max_len):
            ids = [len(word) for word in text.split()][:max_len]
            tokens = np.zeros(max_len, np.int32)
            tokens[:len(ids)] = ids
            return tokens, tokens > 0

    ops = source.default_operations(tokenizer=WordTokenizer(), max_len=12, image_size=16)
    loader = source.make_data_loader(str(tmp_path), batch_size=4, operations=ops, seed=3, num_epochs=2,
                                     split="train")
    it = iter(loader)
    batch = next(it)
    assert batch["rgb"].shape == (4, 16, 16, 3) and batch["rgb"].dtype == np.uint8
    assert batch["depth"].shape == (4, 16, 16) and batch["points"].shape == (4, 16, 16, 3)
    assert batch["pose"].shape == (4, 25) and batch["pose"].dtype == np.float32
    assert batch["tokens"].shape == (4, 12) and batch["token_mask"].dtype == bool
    assert batch["intrinsics"].shape == (4, 3, 3)
    next(it)
    state = it.get_state()
    want = next(it)
    it2 = iter(loader)
    it2.set_state(state)
    got = next(it2)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    # One epoch = 16 records = 4 batches; two epochs = 8 batches in all.
    assert sum(1 for _ in it2) == 8 - 3

    # Memoised examples (the training loader's in-memory cache): the same batches in the same order, whether every
    # record fits in the budget or only some do; the budget is respected; the cache survives pickling empty.
    plain = list(iter(loader))
    record_bytes = sum(np.asarray(v).nbytes for v in plain[0].values()) // 4
    for budget, cached in ((10**9, 16), (5 * record_bytes, 5)):
        memo = source.make_data_loader(str(tmp_path), batch_size=4, operations=ops, seed=3, num_epochs=2,
                                       split="train", cache_bytes=budget)
        got = list(iter(memo))
        assert len(got) == len(plain) == 8
        for a, b in zip(got, plain):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
        held = memo._data_source
        assert isinstance(held, source.MemoizedExamples)
        assert len(held._cache) == cached and held._bytes <= budget
    # Resuming (a new process): a fresh memoising loader, its cache empty, accepts the iterator state that the
    # first one saved after filling its cache (grain checks the data source's repr), and continues identically.
    memo = source.make_data_loader(str(tmp_path), batch_size=4, operations=ops, seed=3, num_epochs=2, split="train",
                                   cache_bytes=10**9)
    it = iter(memo)
    for _ in range(5):
        next(it)
    state, want = it.get_state(), next(it)
    fresh = iter(source.make_data_loader(str(tmp_path), batch_size=4, operations=ops, seed=3, num_epochs=2,
                                         split="train", cache_bytes=10**9))
    fresh.set_state(state)
    got = next(fresh)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    picklable = source.MemoizedExamples(held.source, [source.DecodeRecord()], 10**9)
    picklable[0]
    assert len(picklable._cache) == 1 and len(pickle.loads(pickle.dumps(picklable))._cache) == 0


def test_resize_crop_keeps_back_projection_consistent():
    rec = fake_record(size=(24, 32))
    depth = np.full((24, 32), 0.8, np.float32)
    rgb, new_depth, mask, k = source.resize_crop(rec.rgb, depth, rec.part_mask, rec.intrinsics, 12)
    assert rgb.shape == (12, 12, 3) and new_depth.shape == (12, 12) and mask.dtype == np.int32
    # The ray through the crop's centre is the same ray before and after.
    before = camera.backproject(depth, rec.intrinsics)
    after = camera.backproject(new_depth, k)
    np.testing.assert_allclose((before[11, 15] + before[12, 16]) / 2, (after[5, 5] + after[6, 6]) / 2, atol=1e-5)


def test_transforms_pickle_with_the_project_tokenizer():
    import pickle

    from dexvlg_jax.data.tokenizer import Tokenizer

    ops = source.default_operations(tokenizer=Tokenizer(), max_len=16, image_size=8)
    ops = pickle.loads(pickle.dumps(ops))
    element = schema.encode_record(fake_record())
    for op in ops:
        element = op.map(element)
    assert element["tokens"].shape == (16,) and element["tokens"][0] == 2 and element["rgb"].shape == (8, 8, 3)
    assert set(element) == {"rgb", "depth", "points", "part_mask", "intrinsics", "pose", "tokens", "token_mask",
                            "part_id"}
