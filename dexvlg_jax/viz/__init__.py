"""Pictures of grasps (PNG, software or MuJoCo GL), GLB export, and the HTML report.

The one grasp picture is `draw_grasp` (`viz.grasp_pictures`); a whole run's report (dataset, models, evaluation)
is `dexvlg_jax.viz.run_report.write_run_report` (import it directly: it reads datasets and training runs).
"""
from dexvlg_jax.viz.grasp_pictures import draw_grasp, draw_object, grasp_meshes
from dexvlg_jax.viz.meshes import export_grasp_glb, grasp_scene, hand_trimesh, object_trimesh, part_colours
from dexvlg_jax.viz.report import Report
from dexvlg_jax.viz.picture import concat_images, look_at_camera, paint_meshes, render_meshes_png, render_mjcf_png
