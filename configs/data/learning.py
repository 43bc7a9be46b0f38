"""The learning benchmark's dataset (issue 13): all 14 categories x 2 instances, every sim-passing grasp, 32 views.

The model sees each grasp from 32 camera azimuths (the tabletop rig: 0.8 m, 45 deg down), so that it learns the
object's shape rather than memorising a few images; records = kept grasps x 32. Kettle and flashlight are the unseen
categories; a quarter of the other instances are unseen instances (the held-out split of the learning curves).
The synthesis settings are the demo's (configs/synth/tiny.py), so a dataset folder whose cache/ holds an earlier
build of the same objects only re-renders.

    python -m launch.build_dataset --config configs/data/learning.py --out /tmp/dexvlg_learning
    python -m launch.train --config configs/train/learning.py:data=/tmp/dexvlg_learning --workdir /tmp/learn_run
"""
from configs.data import demo
from dexvlg_jax import objects


def get_config(arg=None):
    c = demo.get_config(arg)  # no argument
    c.categories = tuple(objects.CATEGORIES)
    c.instances_per_category = 2
    c.unseen_categories = ("kettle", "flashlight")
    c.views_per_object = 32
    c.max_grasps_per_part_mode = 1000  # every sim-passing grasp
    c.objects_per_shard = 2
    return c
