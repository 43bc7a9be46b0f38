"""Pictures of grasps (PNG, software or MuJoCo GL), GLB export, and the HTML report."""
from dexvlg_jax.viz.meshes import export_grasp_glb, grasp_scene, hand_trimesh, object_trimesh, part_colours
from dexvlg_jax.viz.report import Report
from dexvlg_jax.viz.picture import concat_images, look_at_camera, paint_meshes, render_meshes_png, render_mjcf_png
