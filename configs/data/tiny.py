"""A dataset that builds in a few minutes on a 2-core CPU: 4 categories x 1 instance, small images.

    python -m launch.build_dataset --config configs/data/tiny.py --out /tmp/dexvlg_tiny
"""
import ml_collections

from configs.args import check_arg
from configs.synth import tiny as synth_tiny


def get_config(arg=None):
    check_arg(arg, ("",))  # no argument; change fields with --set (e.g. --set instances_per_category=2)
    c = ml_collections.ConfigDict()
    c.categories = ("mug", "bottle", "pan", "screwdriver")
    c.instances_per_category = 1
    c.seed = 0
    c.processing = dict(grid_resolution=32, num_surface_points=1024, coacd_max_pieces=12)
    c.synth = synth_tiny.get_config()
    c.synth.synth.modes = ["wrap", "pinch"]
    c.sim_filter = True
    c.sim_backend = "c"
    c.views_per_object = 2
    c.image_size = 64
    c.max_grasps_per_part_mode = 4
    c.objects_per_shard = 1
    c.unseen_categories = ("screwdriver",)
    c.unseen_instance_fraction = 0.0
    c.test_seen_fraction = 0.0
    return c
