"""Ray caster vs trimesh ray casting on the same scene and cameras; batching, padding, compile-once, shading."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import trimesh
from trimesh.ray.ray_triangle import RayMeshIntersector

from dexvlg_jax.render import camera, raycast, scene
from dexvlg_jax.scene import TabletopConfig, place_object

SIZES = (32, 48)  # (H, W) of the reference images: a wide tabletop view and a zoomed one


@pytest.fixture(scope="module")
def rendered(test_object):
    """One placed object + table, two cameras (both views rendered in one `render_views` call)."""
    vertices, faces, part_ids = test_object
    placement = place_object(trimesh.Trimesh(vertices, faces, process=False), 3, TabletopConfig(placement="stable"))
    tri_scene = scene.build_scene(vertices, faces, part_ids, placement.object_to_world, num_faces=512)
    height, width = SIZES
    intrinsics = jnp.stack([camera.intrinsics_from_fov(45.0, height, width),   # the full tabletop view
                            camera.intrinsics_from_fov(15.0, height, width)])  # zoomed on the object
    target = jnp.array([0.0, 0.0, 0.04])
    extrinsics = jnp.stack([camera.tabletop_camera(0.7), camera.tabletop_camera(2.5, target=target)])
    out = raycast.render_views(tri_scene, intrinsics, extrinsics, height, width, chunk=256)
    return tri_scene, np.asarray(intrinsics), np.asarray(extrinsics), jax.device_get(out)


def trimesh_reference(tri_scene, intrinsics, world_to_camera, height, width):
    """Nearest hit per pixel with trimesh (float64): depth (camera z, 0 on miss) and the hit triangle (-1 on miss)."""
    triangles = np.asarray(tri_scene.triangles, np.float64)
    keep = np.abs(triangles).sum((1, 2)) > 0  # drop the padding triangles (trimesh rejects degenerate faces)
    index = np.nonzero(keep)[0]
    mesh = trimesh.Trimesh(triangles[keep].reshape(-1, 3), np.arange(3 * keep.sum()).reshape(-1, 3), process=False)
    rot, trans = world_to_camera[:3, :3].astype(np.float64), world_to_camera[:3, 3].astype(np.float64)
    eye = -rot.T @ trans
    v, u = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    k = intrinsics.astype(np.float64)
    rays_cam = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u, float)], -1).reshape(-1, 3)
    directions = rays_cam @ rot  # camera -> world: R^T d
    tri_ids, ray_ids, locations = RayMeshIntersector(mesh).intersects_id(
        np.broadcast_to(eye, directions.shape), directions, multiple_hits=True, return_locations=True)
    depth_of_hit = (locations - eye) @ rot[2]
    depth = np.full(len(directions), np.inf)
    face = np.full(len(directions), -1)
    for tri, ray, z in zip(tri_ids, ray_ids, depth_of_hit):
        if 1e-3 < z < depth[ray]:
            depth[ray], face[ray] = z, index[tri]
    depth[~np.isfinite(depth)] = 0.0
    return depth.reshape(height, width), face.reshape(height, width)


@pytest.mark.parametrize("view", [0, 1])
def test_depth_and_mask_match_trimesh(rendered, view):
    tri_scene, intrinsics, extrinsics, out = rendered
    height, width = SIZES
    ref_depth, ref_face = trimesh_reference(tri_scene, intrinsics[view], extrinsics[view], height, width)
    depth, part_mask = out.depth[view], out.part_mask[view]
    hit, ref_hit = depth > 0, ref_depth > 0
    agree = (hit == ref_hit).mean()
    both = hit & ref_hit
    error = np.abs(depth[both] - ref_depth[both])
    ref_part = np.where(ref_face >= 0, np.asarray(tri_scene.part_ids)[ref_face], raycast.BACKGROUND_PART_ID)
    part_agree = (part_mask == ref_part).mean()
    object_pixels = int((ref_part >= 0).sum())
    print(f"view {view}: hit-mask agreement {agree:.4f}, depth |err| mean {error.mean():.2e} max {error.max():.2e} m "
          f"on {both.sum()} pixels, part-id agreement {part_agree:.4f}, object pixels {object_pixels}")
    assert agree > 0.99
    assert error.mean() < 1e-4
    assert part_agree > 0.99
    assert object_pixels > (20 if view == 0 else 200)  # the object is actually in view
    assert set(np.unique(part_mask)) >= {raycast.TABLE_PART_ID, 0}


def test_outputs_are_consistent(rendered):
    tri_scene, intrinsics, extrinsics, out = rendered
    assert out.rgb.shape == (2, *SIZES, 3) and out.depth.shape == (2, *SIZES)
    assert out.part_mask.dtype == np.int32 and out.face_index.dtype == np.int32
    hit = out.depth > 0
    np.testing.assert_array_equal(hit, out.face_index >= 0)
    np.testing.assert_array_equal(out.part_mask, np.where(hit, np.asarray(tri_scene.part_ids)[out.face_index],
                                                          raycast.BACKGROUND_PART_ID))
    assert out.rgb.min() >= 0.0 and out.rgb.max() <= 1.0
    np.testing.assert_array_equal(out.rgb[~hit], 0.0)  # default background is black
    assert np.all(out.rgb[hit].max(-1) > 0)


def test_backprojected_depth_lies_on_the_scene(rendered):
    """Back-projecting a rendered table pixel and mapping it to the world lands on the table top (z = 0)."""
    tri_scene, intrinsics, extrinsics, out = rendered
    points = camera.backproject(jnp.asarray(out.depth[0]), jnp.asarray(intrinsics[0]))
    world = camera.transform_points(camera.invert_transform(jnp.asarray(extrinsics[0])), points)
    table_top = (out.part_mask[0] == raycast.TABLE_PART_ID) & (np.asarray(world)[..., 2] > -1e-2)
    assert table_top.sum() > 100
    np.testing.assert_allclose(np.asarray(world)[..., 2][table_top], 0.0, atol=1e-5)


def test_batch_padding_and_compile_once(rendered, test_object):
    tri_scene, intrinsics, extrinsics, out = rendered
    vertices, faces, part_ids = test_object
    other = scene.build_scene(vertices, faces, part_ids,
                              place_object(trimesh.Trimesh(vertices, faces, process=False), 11,
                                           TabletopConfig(placement="stable")).object_to_world)
    stacked = scene.stack_scenes([tri_scene, other], num_faces=512)  # same face count as `rendered`
    height, width = SIZES
    batch = raycast.render_batch(stacked, jnp.asarray(intrinsics), jnp.asarray(extrinsics), height, width, chunk=256)
    # Scene 0 == the render_views result (padding to 512 faces changed nothing).
    np.testing.assert_array_equal(np.asarray(batch.part_mask[0]), out.part_mask[0])
    np.testing.assert_allclose(np.asarray(batch.depth[0]), out.depth[0], atol=1e-6)
    single = raycast.render_image(other, jnp.asarray(intrinsics[1]), jnp.asarray(extrinsics[1]), height, width,
                                  chunk=256)
    np.testing.assert_array_equal(np.asarray(batch.part_mask[1]), np.asarray(single.part_mask))
    np.testing.assert_allclose(np.asarray(batch.depth[1]), np.asarray(single.depth), atol=1e-6)
    # New data with the same shapes does not recompile.
    compiled = raycast.render_batch._cache_size()
    moved = stacked.replace(triangles=stacked.triangles + np.float32(0.01))
    raycast.render_batch(moved, jnp.asarray(intrinsics[::-1]), jnp.asarray(extrinsics), height, width, chunk=256)
    assert raycast.render_batch._cache_size() == compiled


def test_lambertian_shading_of_the_table():
    """A bare table lit from straight above: every table pixel is colour * (ambient + diffuse)."""
    table = scene.build_scene(np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros(0, int), np.eye(4))
    shading = raycast.Shading(light_direction=(0.0, 0.0, 1.0), ambient=0.2, diffuse=0.5, background=(0.0, 1.0, 0.0))
    k = camera.intrinsics_from_fov(45.0, 8, 8)
    out = raycast.render_image(table, k, camera.tabletop_camera(0.0), 8, 8, chunk=64, shading=shading)
    hit = np.asarray(out.depth) > 0
    assert hit.all()
    np.testing.assert_allclose(np.asarray(out.rgb).reshape(-1, 3),
                               np.broadcast_to(np.array(scene.TABLE_COLOR) * 0.7, (64, 3)),
                               atol=1e-5)


def test_culling_and_batch_modes_change_nothing(rendered):
    """Per-block culling of the object's faces (num_background = 12) is exact: same images as testing every face
    at every pixel (num_background = 0), with the views batched by vmap or by a sequential map."""
    tri_scene, intrinsics, extrinsics, out = rendered
    height, width = SIZES
    unculled = tri_scene.replace(num_background=0)
    args = (jnp.asarray(intrinsics), jnp.asarray(extrinsics), height, width)
    for scene_, mode in ((unculled, "vmap"), (unculled, "map"), (tri_scene, "vmap"), (tri_scene, "map")):
        other = raycast.render_views(scene_, *args, chunk=64, batch_mode=mode)
        np.testing.assert_array_equal(np.asarray(other.face_index), out.face_index)
        np.testing.assert_allclose(np.asarray(other.depth), out.depth, atol=1e-6)
        np.testing.assert_allclose(np.asarray(other.rgb), out.rgb, atol=1e-6)
    with pytest.raises(ValueError, match="batch_mode"):
        raycast.render_views(tri_scene, *args, batch_mode="loop")
