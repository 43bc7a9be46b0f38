"""The demo's dataset (`python -m launch.demo`): 5 categories x 2 instances, 64 px images.

The categories are ones the tabletop world lets the LEAP Hand grasp (bodies, caps, handles that stand clear of the
table; measured with `python -m launch.benchmark dataset`): objects that lie flat (knife, hammer, screwdriver)
give almost no grasp that lifts them off a table. Like the learning benchmark (configs/data/learning.py), every
object is rendered from 32 azimuths and each view keeps the one kept grasp per part and mode that faces the camera
(rendering is cheap; one target per observation is what lets the tiny model learn).
Splits: the bottle is the unseen category and a quarter of the other instances are unseen instances. Every
part of a bottle is a solid of revolution, so on a seen bottle a training grasp turned by a random yaw already lifts
it (the image-free baseline lifted 96% of seen bottle trials when bottles were trained on, the model 65-85%): seen
bottles told nothing about whether the model reads the image. Held out, the bottle asks instead whether the model
grasps a new category. README, "The demo's model": the three choices of unseen category, measured.
    python -m launch.build_dataset --config configs/data/demo.py --out /tmp/dexvlg_demo_data
"""
from configs.data import tiny


def get_config(arg=None):
    c = tiny.get_config(arg)  # no argument (tiny checks it)
    c.categories = ("bottle", "mug", "bucket", "jar", "spray_bottle")
    c.instances_per_category = 2
    c.unseen_categories = ("bottle",)
    c.unseen_instance_fraction = 0.25
    c.objects_per_shard = 2
    c.views_per_object = 32
    c.grasps_per_view = 1
    c.max_grasps_per_part_mode = 1000  # every kept grasp can be the one facing a view
    return c
