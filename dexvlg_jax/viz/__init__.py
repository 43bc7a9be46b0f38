"""Pictures of grasps (PNG, software or MuJoCo GL), GLB export, and the HTML page builder.

The one grasp picture is `draw_grasp` (`viz.grasp_pictures`). A whole run's report (dataset, models, evaluation)
is built on these by the evaluation stage, `dexvlg_jax.eval.run_report.write_run_report`: viz imports no stage
above hand, objects and geometry.
"""
from dexvlg_jax.viz.grasp_pictures import draw_grasp, draw_object, grasp_meshes
from dexvlg_jax.viz.meshes import export_grasp_glb, grasp_scene, hand_trimesh, object_trimesh, part_colours
from dexvlg_jax.viz.report import Report
from dexvlg_jax.viz.picture import concat_images, look_at_camera, paint_meshes, render_meshes_png, render_mjcf_png
