"""Rendering: pinhole cameras (OpenCV frame), tabletop scenes, and a jitted batched RGB-D + part-mask ray caster."""
from dexvlg_jax.render.camera import (
    DEFAULT_FOV_Y_DEG,
    TABLETOP_DISTANCE,
    TABLETOP_ELEVATION_DEG,
    backproject,
    camera_center,
    intrinsics_from_fov,
    invert_transform,
    look_at,
    pixel_rays,
    project,
    random_azimuth,
    rigid_transform,
    tabletop_camera,
    transform_points,
)
from dexvlg_jax.render.raycast import (
    BACKGROUND_PART_ID,
    TABLE_PART_ID,
    RenderOutput,
    Shading,
    TriangleScene,
    render,
    render_batch,
    render_image,
    render_views,
)
from dexvlg_jax.render.scene import (
    build_scene,
    decimate,
    pad_scene,
    part_colors,
    stack_scenes,
    table_mesh,
)
