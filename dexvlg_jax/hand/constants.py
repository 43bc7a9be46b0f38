"""LEAP Hand (right) names and conventions. Numbers (offsets, ranges) live only in assets/leap_right.xml.

Joint order (DESIGN, = MuJoCo Menagerie's qpos order): index (mcp, rot, pip, dip), middle (same), ring (same),
thumb (cmc, axl, mcp, ipl). Frames: the hand frame is the `palm` body; the palm faces -z, fingers extend +x.
"""
import os

MJCF_PATH = os.path.join(os.path.dirname(__file__), "assets", "leap_right.xml")

FINGERS = ("if", "mf", "rf", "th")
JOINT_NAMES = (
    "if_mcp", "if_rot", "if_pip", "if_dip",
    "mf_mcp", "mf_rot", "mf_pip", "mf_dip",
    "rf_mcp", "rf_rot", "rf_pip", "rf_dip",
    "th_cmc", "th_axl", "th_mcp", "th_ipl",
)
NUM_JOINTS = len(JOINT_NAMES)
# The flat hand-pose vector (records, model, grasp files): translation (3) + rot6d (6) + joints; see hand/pose.py.
POSE_DIM = 3 + 6 + NUM_JOINTS
ACTUATOR_NAMES = tuple(f"{j}_act" for j in JOINT_NAMES)

# Bodies in kinematic-tree order (the MJCF's order); "palm" is the root / hand frame.
LINK_NAMES = (
    "palm",
    "if_bs", "if_px", "if_md", "if_ds",
    "mf_bs", "mf_px", "mf_md", "mf_ds",
    "rf_bs", "rf_px", "rf_md", "rf_ds",
    "th_mp", "th_bs", "th_px", "th_ds",
)
NUM_LINKS = len(LINK_NAMES)
FINGERTIP_SITES = ("if_tip_site", "mf_tip_site", "rf_tip_site", "th_tip_site")
FINGERTIP_GEOMS = ("if_tip", "mf_tip", "rf_tip", "th_tip")

# Contact sets of the paper's two modes (LEAP has four fingers, so the paper's "5 fingertips" become 4).
# wrap: 4 fingertip pads + palm + the medial-phalanx pads of index and middle (our choice of the 2 extra
# phalanx contacts: they are the phalanges that touch a handle first when the hand closes around it).
WRAP_CONTACT_SITES = ("if_pad", "mf_pad", "rf_pad", "th_pad", "palm_center", "if_md_pad", "mf_md_pad")
# pinch: thumb tip, index tip, middle tip, palm.
PINCH_CONTACT_SITES = ("th_pad", "if_pad", "mf_pad", "palm_center")
MODES = ("wrap", "pinch")

# Palmar (gripping) side of each link, as a unit direction in the link frame; contact candidates are the
# collision-surface samples whose outward normal points this way. Derived from the zero pose (finger links:
# the palm's -z seen in the link frame) and, for the thumb, from a closed grasp pose (toward the palm centre).
PALMAR_DIRECTION = {
    "palm": (0.0, 0.0, -1.0),
    "bs": (1.0, 0.0, 0.0),
    "px": (0.0, 0.0, -1.0),
    "md": (-1.0, 0.0, 0.0),
    "ds": (-1.0, 0.0, 0.0),
    "th_px": (1.0, 0.0, 0.0),
    "th_ds": (-1.0, 0.0, 0.0),
}
# Links without contact candidates (thumb base links rarely touch objects in a grasp).
LINKS_WITHOUT_CANDIDATES = ("th_mp", "th_bs")
