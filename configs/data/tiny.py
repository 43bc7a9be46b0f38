"""A dataset that builds in a few minutes on a 2-core CPU: 4 categories x 1 instance, small images.

    python -m launch.build_dataset --config configs/data/tiny.py --out /tmp/dexvlg_tiny

Every field of dexvlg_jax.data.pipeline.DatasetConfig is here with its default (so `--set` reaches each one,
nested ones too: `--set processing.grid_resolution=64`, `--set tabletop.placement=stable`); this file overrides
only what makes the run tiny. `synth` has the configs/synth layout.
"""
from configs.args import check_arg
from configs.synth import tiny as synth_tiny
from dexvlg_jax.config_convert import config_dict
from dexvlg_jax.data.pipeline import DatasetConfig


def get_config(arg=None):
    check_arg(arg, ("",))  # no argument; change fields with --set (e.g. --set instances_per_category=2)
    c = config_dict(DatasetConfig, skip=("synth",))
    c.categories = ("mug", "bottle", "bucket", "spray_bottle")  # ones the LEAP Hand can lift off a table
    c.instances_per_category = 1
    c.processing.update(grid_resolution=32, num_surface_points=1024, coacd_max_pieces=12)
    c.synth = synth_tiny.get_config()
    # The tabletop-lift simulation that follows is the filter of record, so the Q1 >= 0.01 screen (worst-case wrench
    # about the object's origin) is off: re-simulating the learning build's grasps that failed only that screen,
    # 183 of 636 lifted (hammers, flashlights, mugs, spray bottles: conditions with >= 4 kept grasps 39 -> 48 of
    # 256; demo objects 15 -> 20 of 44). Q1 stays a reported quality figure. (Stand-alone synthesis keeps it.)
    c.synth.filter.min_q1 = 0.0
    c.image_size = 64
    c.max_grasps_per_part_mode = 4
    c.objects_per_shard = 1
    c.unseen_categories = ("spray_bottle",)
    c.unseen_instance_fraction = 0.0
    c.test_seen_fraction = 0.0
    return c
