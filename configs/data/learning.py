"""The learning benchmark's dataset (issue 13): all 14 categories x 4 instances, 64 views, one target per view.

Every object is seen from 64 camera azimuths (the tabletop rig: 0.8 m, 45 deg down, object framing), so that the
model learns the object's shape rather than memorising a few images. Each view keeps, per part and mode, the one
sim-passing grasp whose palm faces that camera most (`grasps_per_view=1`): with every grasp in every view (32 views,
8,000 records) the target of one observation is a ring of grasps around the object, and the tiny flow model's
samples fell inside the object (median wrist 82 mm from the object origin vs 93 mm for the data; 1-2% success).
Kettle and flashlight are the unseen
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
    c.instances_per_category = 4  # 2 left most unseen instances with one training instance of their category
    c.unseen_categories = ("kettle", "flashlight")
    c.views_per_object = 64
    c.grasps_per_view = 1
    c.max_grasps_per_part_mode = 1000  # every sim-passing grasp
    c.objects_per_shard = 2
    return c
