"""MJCF scene assembly for grasp trials: LEAP Hand welded to a mocap body + a free object + an optional table.

World frame: metres, z up. The object is a free body whose frame is the processed object's frame (origin at its
bounding-box centre); hand poses are given in that object frame and mapped to the world by the object's initial
placement: a `dexvlg_jax.scene.Tabletop` (the object resting on the table top z = 0, the placement every stage
shares) or, without a table, the identity (six-direction).

Scene contents (built with `mujoco.MjSpec` from the project's LEAP Hand MJCF, `dexvlg_jax.hand.MJCF_PATH`):
  * `hand_mocap`: a mocap body; the hand's `palm` body gets a free joint and is held to `hand_mocap` by a weld
    equality (identity relative pose), so a schedule of mocap poses drives the wrist. qpos[0:7] is the palm.
  * the 16 finger position actuators of the hand MJCF, gains overridden by `SceneConfig` (kp, kv, forcerange).
  * `object`: a free body (qpos[23:30]) made of one convex mesh geom per piece (<= 64 vertices each), uniform
    density scaled so the body mass is the Tabletop's mass (`SceneConfig.object_mass` without one).
  * `table` (with a Tabletop): a plane at z = 0 of the Tabletop's half extent.
Collision filtering by contype/conaffinity bits, so only hand-object, object-table and hand-table pairs exist
(no hand self-collision, no piece-piece pairs): hand contype 1 / conaffinity 0, object 2 / 1, table 0 / 3.
Model gravity is OFF: protocols apply the object's weight as an external force (xfrc_applied) only when and
where they want gravity (the hand is position-controlled and needs none).
One compiled model per object; trials of one object batch over poses (same model, different states/controls).
"""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from dexvlg_jax.hand import constants
from dexvlg_jax.scene import Tabletop

HAND_CONTYPE, HAND_CONAFFINITY = 1, 0
OBJECT_CONTYPE, OBJECT_CONAFFINITY = 2, 1
TABLE_CONTYPE, TABLE_CONAFFINITY = 0, 3
PALM_QPOS = slice(0, 7)       # palm free joint: pos (3), quat (w, x, y, z)
FINGER_QPOS = slice(7, 23)    # 16 joints, constants.JOINT_NAMES order
OBJECT_QPOS = slice(23, 30)   # object free joint
PALM_QVEL, FINGER_QVEL, OBJECT_QVEL = slice(0, 6), slice(6, 22), slice(22, 28)


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """Physics settings shared by both backends (MJX needs the same options as C MuJoCo to agree).

    timestep (s); iterations / ls_iterations: Newton solver; cone: "elliptic" or "pyramidal"; impratio;
    condim: contact dimensionality of hand/object/table geoms (3 = sliding friction; 4 adds torsion);
    friction: sliding, torsional, rolling; object_mass (kg); finger_kp (N m / rad), finger_kv (N m s / rad),
    finger_forcerange (N m): position actuators; weld_solref: (timeconst s, dampratio) of the wrist weld;
    max_contact_points: MJX cap on emitted contacts (-1 = none); contact_solref/solimp for all contacts.
    """

    timestep: float = 0.005
    iterations: int = 10
    ls_iterations: int = 8
    cone: str = "elliptic"
    impratio: float = 1.0
    condim: int = 3
    friction: tuple = (1.0, 0.02, 0.0001)
    object_mass: float = 0.1
    finger_kp: float = 3.0
    finger_kv: float = 0.01
    finger_forcerange: float = 0.95
    weld_solref: tuple = (0.01, 1.0)
    contact_solref: tuple = (0.005, 1.0)
    contact_solimp: tuple = (0.95, 0.99, 0.001, 0.5, 2.0)
    max_contact_points: int = 64


@dataclasses.dataclass(frozen=True)
class Scene:
    """A compiled scene. model: mujoco.MjModel; geom index sets; object placement; part bookkeeping.

    hand_geoms (Nh,), object_geoms (K,) and table_geom (int or -1) are geom ids; geom_part (ngeom,) is the
    object part id of every object geom and -1 elsewhere; object_body, palm_body are body ids;
    object_to_world (4, 4): the object's initial placement (identity without a table); object_mass (kg) as
    compiled; num_parts: parts of the object.
    """

    model: mujoco.MjModel
    config: SceneConfig
    hand_geoms: np.ndarray
    object_geoms: np.ndarray
    table_geom: int
    geom_part: np.ndarray
    object_body: int
    palm_body: int
    mocap_id: int
    object_to_world: np.ndarray
    object_mass: float
    num_parts: int

    @property
    def object_pos(self) -> np.ndarray:
        return self.object_to_world[:3, 3]

    @property
    def object_rot(self) -> np.ndarray:
        return self.object_to_world[:3, :3]

    @property
    def object_quat(self) -> np.ndarray:
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, np.ascontiguousarray(self.object_rot).reshape(-1))
        return quat

    def pose_to_world(self, translation, rotation):
        """Hand poses (object frame: translation (B, 3), rotation (B, 3, 3)) -> world."""
        return (np.asarray(translation, np.float64) @ self.object_rot.T + self.object_pos,
                np.einsum("ij,bjk->bik", self.object_rot, np.asarray(rotation, np.float64)))

    @property
    def is_hand_geom(self) -> np.ndarray:
        mask = np.zeros(self.model.ngeom, bool)
        mask[self.hand_geoms] = True
        return mask


def _validate_pieces(pieces, piece_part_ids):
    if len(pieces) == 0:
        raise ValueError("object: convex_pieces is empty; a scene needs at least one convex piece")
    if len(piece_part_ids) != len(pieces):
        raise ValueError(f"object: {len(pieces)} convex pieces but {len(piece_part_ids)} piece_part_ids")
    out = []
    for i, piece in enumerate(pieces):
        piece = np.asarray(piece, np.float64)
        if piece.ndim != 2 or piece.shape[1] != 3 or len(piece) < 4:
            raise ValueError(f"object: convex piece {i} must be (V>=4, 3) vertices, got shape {piece.shape}")
        if len(piece) > 64:
            raise ValueError(f"object: convex piece {i} has {len(piece)} vertices; MJX needs <= 64")
        if not np.all(np.isfinite(piece)):
            raise ValueError(f"object: convex piece {i} has non-finite vertices")
        out.append(piece)
    return out


def build_scene(pieces, piece_part_ids, num_parts: int | None = None, table: Tabletop | None = None,
                config: SceneConfig = SceneConfig()) -> Scene:
    """Compile the trial scene for one object.

    pieces: list of (V_i, 3) convex-piece vertices in the object frame (metres); piece_part_ids (K,) ints.
    table: a `scene.Tabletop` (`scene.place_object`): the z = 0 table plane, the object placed as it says, its
    mass and friction. None: no table, the object frame is the world frame, mass `config.object_mass`.
    """
    if table is not None and not isinstance(table, Tabletop):
        raise TypeError(f"table must be a scene.Tabletop (scene.place_object) or None, got {type(table).__name__}")
    pieces = _validate_pieces(pieces, piece_part_ids)
    object_to_world = np.eye(4) if table is None else np.asarray(table.object_to_world, np.float64)
    friction = list(config.friction) if table is None else [table.friction, *config.friction[1:]]
    mass = config.object_mass if table is None else table.mass
    piece_part_ids = np.asarray(piece_part_ids, np.int64)
    num_parts = int(piece_part_ids.max()) + 1 if num_parts is None else int(num_parts)
    spec = mujoco.MjSpec.from_file(constants.MJCF_PATH)
    spec.modelname = "dexvlg_grasp_trial"
    opt = spec.option
    opt.timestep = config.timestep
    opt.iterations = config.iterations
    opt.ls_iterations = config.ls_iterations
    opt.cone = {"elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC, "pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL}[config.cone]
    opt.impratio = config.impratio
    opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    opt.gravity = [0.0, 0.0, 0.0]
    opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    if config.max_contact_points > 0:
        spec.add_numeric(name="max_contact_points", data=[config.max_contact_points])

    # Hand: free palm welded to a mocap body; finger gains overridden; no self-collision.
    palm = spec.body("palm")
    palm.add_freejoint(name="palm_free")
    spec.worldbody.add_body(name="hand_mocap", mocap=True)
    spec.add_equality(type=mujoco.mjtEq.mjEQ_WELD, name1="hand_mocap", name2="palm", objtype=mujoco.mjtObj.mjOBJ_BODY,
                      data=[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0], solref=list(config.weld_solref))
    for act in spec.actuators:
        act.gainprm[0] = config.finger_kp
        act.biasprm[1] = -config.finger_kp
        act.biasprm[2] = -config.finger_kv
        act.forcerange = [-config.finger_forcerange, config.finger_forcerange]
    for ex in list(spec.excludes):
        spec.delete(ex)
    for geom in spec.geoms:
        geom.contype, geom.conaffinity = HAND_CONTYPE, HAND_CONAFFINITY
        geom.condim = config.condim
        geom.friction = friction
        geom.solref = list(config.contact_solref)
        geom.solimp = list(config.contact_solimp)

    # Object: one free body of convex mesh pieces, placed as the Tabletop says.
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(object_to_world[:3, :3]).reshape(-1))
    body = spec.worldbody.add_body(name="object", pos=object_to_world[:3, 3].tolist(), quat=quat.tolist())
    body.add_freejoint(name="object_free")
    for i, piece in enumerate(pieces):
        spec.add_mesh(name=f"piece_{i}", uservert=piece.reshape(-1).tolist())
        body.add_geom(name=f"object_piece_{i}", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"piece_{i}",
                      contype=OBJECT_CONTYPE, conaffinity=OBJECT_CONAFFINITY, condim=config.condim,
                      friction=friction, solref=list(config.contact_solref),
                      solimp=list(config.contact_solimp), density=1000.0, rgba=[0.8, 0.5, 0.3, 1])
    if table is not None:
        half = table.table_half_extent
        spec.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[half, half, 0.01],
                                contype=TABLE_CONTYPE, conaffinity=TABLE_CONAFFINITY, condim=config.condim,
                                friction=friction, solref=list(config.contact_solref),
                                solimp=list(config.contact_solimp))
    model = spec.compile()

    # Rescale the object's density so that its mass is the scene's (inertia scales with it).
    obj = model.body("object").id
    scale = mass / float(model.body_mass[obj])
    model.body_mass[obj] *= scale
    model.body_inertia[obj] *= scale
    mujoco.mj_setConst(model, mujoco.MjData(model))

    object_geoms = np.array([model.geom(f"object_piece_{i}").id for i in range(len(pieces))])
    hand_bodies = {model.body(n).id for n in constants.LINK_NAMES}
    hand_geoms = np.array([g for g in range(model.ngeom) if model.geom_bodyid[g] in hand_bodies])
    geom_part = -np.ones(model.ngeom, np.int64)
    geom_part[object_geoms] = piece_part_ids
    return Scene(model=model, config=config, hand_geoms=hand_geoms, object_geoms=object_geoms,
                 table_geom=model.geom("table").id if table is not None else -1, geom_part=geom_part, object_body=obj,
                 palm_body=model.body("palm").id, mocap_id=int(model.body_mocapid[model.body("hand_mocap").id]),
                 object_to_world=object_to_world, object_mass=float(model.body_mass[obj]), num_parts=num_parts)


def box_pieces(half_extents, center=(0.0, 0.0, 0.0)) -> np.ndarray:
    """The 8 corners (8, 3) of an axis-aligned box: a convex piece for tests and hand-made objects."""
    h = np.asarray(half_extents, np.float64)
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], np.float64)
    return corners * h + np.asarray(center, np.float64)


def cylinder_piece(radius: float, half_height: float, segments: int = 16, center=(0.0, 0.0, 0.0),
                   axis: int = 2) -> np.ndarray:
    """A convex polygonal cylinder (2 * segments, 3) along world axis `axis` (0, 1, 2)."""
    a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([radius * np.cos(a), radius * np.sin(a)], -1)
    pts = np.concatenate([np.c_[ring, -half_height * np.ones(segments)], np.c_[ring, half_height * np.ones(segments)]])
    pts = np.roll(pts, shift=(axis + 1) % 3, axis=1) if axis != 2 else pts
    return pts + np.asarray(center, np.float64)
