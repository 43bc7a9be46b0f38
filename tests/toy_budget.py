"""The toy synthesis and rendering budget of the end-to-end data-engine tests (`tests/data/test_pipeline.py`,
`tests/launch/test_demo.py`): the config files those tests write call `toy_budget` (importable as
`tests.toy_budget` from the repository root, which both put on the path)."""


def toy_budget(c):
    """Shrinks a data-engine ConfigDict `c` in place and returns it: 4 initial hands per part, 40 optimiser
    iterations, batch 8, wrap only, no simulation filter, one 32 px view per grasp. 40 iterations make no good
    grasps, so the synthesis filter accepts every finite one (these tests are about the build, not grasp quality)."""
    c.synth.init.num_per_part = 4
    c.synth.optimizer.num_iters = 40
    c.synth.synth.batch_size = 8
    c.synth.synth.modes = ["wrap"]
    c.synth.filter.update(max_pen_mm=1e3, max_hand_pen_mm=1e3, max_spen_mm=1e3, min_contacts_wrap=0,
                          min_q1=-1.0, min_part_agreement=-1.0)
    c.sim_filter = False
    c.views_per_object = 1
    c.image_size = 32
    return c
