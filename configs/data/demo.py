"""The demo's dataset (`python -m launch.demo`): 8 categories x 2 instances, 64 px images; ~8 min on 2 CPU cores.

Splits: knife and flashlight are unseen categories; a quarter of the remaining instances are unseen instances.
    python -m launch.build_dataset --config configs/data/demo.py --out /tmp/dexvlg_demo_data
"""
from configs.data import tiny


def get_config(arg=None):
    c = tiny.get_config(arg)  # no argument (tiny checks it)
    c.categories = ("mug", "bottle", "pan", "screwdriver", "hammer", "jar", "knife", "flashlight")
    c.instances_per_category = 2
    c.unseen_categories = ("knife", "flashlight")
    c.unseen_instance_fraction = 0.25
    c.objects_per_shard = 2
    return c
