"""Renderer throughput: `python -m launch.benchmark render [--size 224] [--views 4] [--chunks 64 256 1024]`.

Renders one library object (default: a mug, ~1.8k faces) resting on the table (+12 table faces, padded to
--faces) from --views random tabletop cameras in one `render_views` call (RGB + depth + part mask), after one
compile/warm-up call, on the current JAX backend. Reports images/s and ms per image for every chunk size tried
(rays per lax.map step) and the best one, and the same with culling off ("brute_force": every face at every pixel).
"""
import argparse
import time

import jax
import jax.numpy as jnp

from dexvlg_jax import render
from dexvlg_jax.scene import place_object
from dexvlg_jax.objects.library import make_object


def _time(fn, repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())  # compile + warm up
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats, compile_s


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark render")
    parser.add_argument("--size", type=int, default=224, help="image height = width (pixels)")
    parser.add_argument("--views", type=int, default=4, help="cameras per render_views call")
    parser.add_argument("--category", default="mug")
    parser.add_argument("--faces", type=int, default=2048, help="pad the scene to this many triangles")
    parser.add_argument("--chunks", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-mode", default="auto", choices=["auto", "vmap", "map"])
    parser.add_argument("--no-brute-force", action="store_true", help="skip the unculled comparison run")
    args = parser.parse_args(argv)

    mesh = make_object(args.category, args.seed)
    placement = place_object(mesh, args.seed)
    scene = render.build_scene(mesh.vertices, mesh.faces, mesh.face_part_ids, placement.object_to_world)
    scene_faces = scene.num_faces
    scene = render.pad_scene(scene, max(args.faces, scene_faces))
    scene = jax.tree_util.tree_map(jnp.asarray, scene)
    keys = jax.random.split(jax.random.key(args.seed), args.views)
    extrinsics = jax.vmap(render.tabletop_camera)(keys)
    intrinsics = jnp.tile(render.intrinsics_from_fov(render.DEFAULT_FOV_Y_DEG, args.size, args.size)[None],
                          (args.views, 1, 1))

    result = {
        "backend": jax.default_backend(), "device": str(jax.devices()[0]), "image_size": [args.size, args.size],
        "views_per_call": args.views, "object": f"{args.category}/{args.seed}", "object_faces": int(len(mesh.faces)),
        "scene_faces": int(scene_faces), "padded_faces": int(scene.num_faces), "repeats": args.repeats, "chunks": {},
        "batch_mode": args.batch_mode,
    }
    def run(tri_scene, chunk):
        def call():
            return render.render_views(tri_scene, intrinsics, extrinsics, args.size, args.size, chunk=chunk,
                                       batch_mode=args.batch_mode)

        seconds, compile_s = _time(call, args.repeats)
        return {
            "images_per_s": args.views / seconds, "ms_per_image": 1e3 * seconds / args.views,
            "compile_plus_first_call_s": compile_s,
        }

    for chunk in args.chunks:
        result["chunks"][str(chunk)] = run(scene, chunk)
    best = max(result["chunks"], key=lambda c: result["chunks"][c]["images_per_s"])
    result.update(best_chunk=int(best), images_per_s=result["chunks"][best]["images_per_s"],
                  ms_per_image=result["chunks"][best]["ms_per_image"])
    if not args.no_brute_force:  # every face tested at every pixel (no screen-box culling of the object)
        brute = run(scene.replace(num_background=0), int(best))
        brute["ray_triangle_tests_per_s"] = args.size ** 2 * int(scene.num_faces) * brute["images_per_s"]
        result["brute_force"] = brute
    return result
