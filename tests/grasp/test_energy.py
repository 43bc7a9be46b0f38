"""Energies: shapes, jit/vmap/grad, and values against independent computations (analytic cylinder SDF, the
hand's exact primitive SDF without culling, all self-penetration pairs)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import sdf_grid_query
from dexvlg_jax.grasp import culling
from dexvlg_jax.grasp import energy as E
from dexvlg_jax.grasp import init as I
from dexvlg_jax.objects.reference_shapes import cylinder_object

RADIUS, HEIGHT = 0.03, 0.16


@pytest.fixture(scope="module")
def obj():
    return cylinder_object(RADIUS, HEIGHT, num_points=512, resolution=32)


@pytest.fixture(scope="module")
def sobj(obj):
    return E.synth_object(obj)


@pytest.fixture(scope="module")
def poses(obj):
    return jnp.asarray(I.initial_poses(obj, 0, "wrap", 4, np.random.default_rng(0), I.InitConfig()))


def cylinder_sdf(p):
    """Exact SDF of the capped cylinder along z (independent of the grid)."""
    r = np.linalg.norm(p[:, :2], axis=1) - RADIUS
    h = np.abs(p[:, 2]) - HEIGHT / 2
    outside = np.linalg.norm(np.stack([np.maximum(r, 0), np.maximum(h, 0)], 1), axis=1)
    return outside + np.minimum(np.maximum(r, h), 0)


def _evaluate(sobj, poses, mode, fc_kind):
    """Terms and gradient of the total energy, one compilation (value_and_grad with the terms as aux)."""
    w = E.EnergyWeights()

    def one(p):
        n = culling.near_object_points(p, sobj, 8)
        terms = E.energy_terms(p, sobj, n, mode, fc_kind)
        return E.total_energy(terms, w), (terms, n)

    (_, (terms, near)), g = jax.jit(jax.vmap(jax.value_and_grad(one, has_aux=True)))(poses)
    return terms, near, g


@pytest.fixture(scope="module")
def wrap_dfc(sobj, poses):
    return _evaluate(sobj, poses, "wrap", "dfc")


@pytest.mark.parametrize("mode,fc_kind", [("wrap", "dfc"), ("pinch", "lp_dfc")])
def test_terms_shapes_grad_vmap(sobj, poses, wrap_dfc, mode, fc_kind):
    terms, near, g = wrap_dfc if mode == "wrap" else _evaluate(sobj, poses, mode, fc_kind)
    assert near.shape == (4, len(hand.load_hand().geom_kind), 8, 3)
    c = 7 if mode == "wrap" else 4
    assert terms["forces"].shape == (4, c)
    for name in E.TERMS:
        assert terms[name].shape == (4,) and np.all(np.isfinite(terms[name])) and np.all(terms[name] >= -1e-6)
    assert g.shape == (4, 25) and np.all(np.isfinite(g))
    if fc_kind == "lp_dfc":
        np.testing.assert_allclose(np.max(terms["forces"], axis=1), 1.0, atol=1e-5)


def test_dis_matches_analytic_sdf(poses, wrap_dfc):
    terms = wrap_dfc[0]
    frames = jax.vmap(lambda p: hand.forward_kinematics(*hand.pose_from_vector(p)))(poses)
    x, n = jax.vmap(lambda f: E.hand_contacts(f, "wrap"))(frames)
    ref = np.sum(np.abs(cylinder_sdf(np.asarray(x, np.float64).reshape(-1, 3)).reshape(4, 7)), axis=1)
    # trilinear grid (cell ~6 mm) vs the exact SDF: < 2 mm per contact
    assert np.all(np.abs(np.asarray(terms["dis"]) - ref) < 7 * 2e-3)
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)


def test_pen_without_culling_equals_exact_hand_sdf(sobj):
    # Palm pushed 1 cm into the cylinder's side: object points end up inside the palm boxes.
    rot = jnp.asarray(np.stack([[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]], -1))  # hand z = -x world
    palm = hand.load_hand().site_pos["palm_center"]
    t = jnp.asarray([-RADIUS + 0.01, 0, 0]) - rot @ palm
    pose = jnp.concatenate([t, rot[:, 0], rot[:, 1], jnp.zeros(16)])
    frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
    pts = sobj.points
    all_pts = jnp.broadcast_to(pts, (len(hand.load_hand().geom_kind),) + pts.shape)
    got = float(jnp.sum(E.primitive_penetration(frames, all_pts)))
    exact = float(jnp.sum(jax.nn.relu(-hand.primitive_distances(frames, pts))))
    assert exact > 1e-3
    np.testing.assert_allclose(got, exact, rtol=1e-4)
    culled = float(jnp.sum(E.primitive_penetration(frames, culling.near_object_points(pose, sobj, 64))))
    assert 0.5 * exact < culled <= exact * (1 + 1e-5)
    h = hand.load_hand()
    hpts = hand.link_points_to_world(frames, h.surface_link, h.surface_pos)
    assert float(jnp.sum(jax.nn.relu(-sdf_grid_query(sobj.sdf, hpts)))) > 1e-3


def test_active_pairs_cover_self_penetration():
    h = hand.load_hand()
    rng = np.random.default_rng(123)
    q = rng.uniform(h.joint_lower, h.joint_upper, (256, 16)).astype(np.float32)

    def both(joints):
        f = hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), joints)
        return jnp.sum(hand.self_penetration(f)), jnp.sum(E.self_penetration_active(f))

    full, active = jax.jit(jax.vmap(both))(jnp.asarray(q))
    assert float(jnp.max(full)) > 0
    np.testing.assert_allclose(np.asarray(active), np.asarray(full), atol=1e-6)


def test_limit_dir_and_nonfinite(sobj, poses, wrap_dfc):
    q = poses[0, 9:].at[0].set(hand.load_hand().joint_upper[0] + 0.1)
    h = hand.load_hand()
    limit = jnp.sum(jax.nn.relu(q - h.joint_upper) + jax.nn.relu(h.joint_lower - q))  # the E_limit formula
    np.testing.assert_allclose(float(limit), 0.1, atol=1e-5)
    terms = wrap_dfc[0]
    assert np.all(np.asarray(terms["limit"]) == 0.0)  # init poses respect the limits
    assert np.all((np.asarray(terms["dir"]) >= 0.0) & (np.asarray(terms["dir"]) <= 14.0))
    bad = {k: v[0] for k, v in terms.items()} | {"dis": jnp.nan}
    assert float(E.total_energy(bad, E.EnergyWeights())) == 1e10


def test_lp_dfc_with_unit_forces_is_dfc(sobj, poses):
    frames = hand.forward_kinematics(*hand.pose_from_vector(poses[1]))
    x, _ = E.hand_contacts(frames, "wrap")
    c = -E.object_normals(sobj.sdf, x)
    from dexvlg_jax.grasp import force_closure as fc

    np.testing.assert_allclose(float(fc.lp_dfc_energy(x, c, jnp.ones(7))), float(fc.dfc_energy(x, c)), rtol=1e-6)


def test_pad_sdf_grid(obj):
    grid = obj.sdf
    padded = E.synth_object(obj, 300, (40, 40, 40)).sdf
    assert padded.values.shape == (40, 40, 40)
    rng = np.random.default_rng(0)
    lo, hi = np.asarray(grid.origin), np.asarray(grid.origin) + grid.spacing * (np.array(grid.values.shape) - 1)
    inside = jnp.asarray(rng.uniform(lo, hi, (500, 3)), jnp.float32)
    np.testing.assert_allclose(sdf_grid_query(padded, inside), sdf_grid_query(grid, inside), atol=1e-5)
    outside = jnp.asarray(rng.uniform(hi, hi + 0.05, (200, 3)), jnp.float32)
    assert np.max(np.abs(sdf_grid_query(padded, outside) - sdf_grid_query(grid, outside))) < 2 * float(grid.spacing)
    assert E.synth_object(obj, 3000).points.shape == (3000, 3)


@pytest.mark.parametrize("k", [4, 64])
def test_culled_part_distance_is_exact_where_its_sets_were_taken(sobj, poses, k):
    """E_part over each contact's k nearest part samples equals E_part over every sample at the pose the sets were
    taken at (the optimiser's refresh), for a large part, a small one with fewer than 64 samples, no part (-1)
    and a part id without samples."""
    pts = np.asarray(sobj.points)
    top = (pts[:, 2] > 0.079) & (pts[:, 0] > 0.01)  # a patch of the top cap
    assert 4 < top.sum() < 64
    obj = sobj.replace(part_ids=jnp.asarray(top, jnp.int32))

    @jax.jit
    def both(part):
        def one(p):
            x, _ = E.hand_contacts(hand.forward_kinematics(*hand.pose_from_vector(p)), "wrap")
            near = culling.near_part_points(p, obj, "wrap", part, k)
            return E.part_distance(x, obj, part), E.part_distance(x, obj, part, near)
        return jax.vmap(one)(poses)

    for part in (0, 1, -1, 2):
        exact, culled = both(part)
        assert np.all(exact > 0) if part in (0, 1) else np.all(exact == 0)  # initial contacts are off the surface
        np.testing.assert_allclose(culled, exact, rtol=1e-6, atol=1e-7)


def test_padded_contact_set_as_data_equals_the_modes_own(sobj, obj):
    """The pinch set padded to the wrap set's 7 rows and passed as traced data (what lets both modes share one
    compiled optimiser) gives the same terms, LP-DFC forces (0 at the padding) and gradient as the 4-contact set."""
    poses = jnp.asarray(I.initial_poses(obj, 0, "pinch", 3, np.random.default_rng(1), I.InitConfig()))
    w = E.EnergyWeights()

    def one(p, mode):
        near = culling.near_object_points(p, sobj, 8)
        part = culling.near_part_points(p, sobj, mode, 0, 8)
        terms = E.energy_terms(p, sobj, near, mode, "lp_dfc", None, 1, 0, part)
        return E.total_energy(terms, w), terms

    padded = jax.tree.map(jnp.asarray, E.contact_set("pinch", padded=True))
    assert padded.link.shape == (E.MAX_CONTACTS,) and int(padded.valid.sum()) == 4
    (e4, t4), g4 = jax.jit(jax.vmap(jax.value_and_grad(lambda p: one(p, "pinch"), has_aux=True)))(poses)
    (e7, t7), g7 = jax.jit(jax.vmap(jax.value_and_grad(one, has_aux=True), in_axes=(0, None)))(poses, padded)
    # float32 sums over 4 vs 7 (zero) entries may round differently: relative 1e-5
    np.testing.assert_allclose(e7, e4, rtol=1e-5)
    for name in E.TERMS:
        np.testing.assert_allclose(t7[name], t4[name], rtol=1e-5, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(t7["forces"][:, :4], t4["forces"], atol=1e-5)
    np.testing.assert_array_equal(t7["forces"][:, 4:], 0.0)
    np.testing.assert_array_equal(t7["face"], t4["face"])
    np.testing.assert_allclose(g7, g4, rtol=1e-4, atol=1e-4 * float(jnp.abs(g4).max()))


def test_a_palm_free_pinch_leaves_the_palm_out(sobj, obj):
    """A palm-free pinch (`SynthConfig.palm_free_pinch_classes`) pulls only the three pads: its padded set marks the
    palm row not valid, and its terms equal those of a set built from the three pad sites alone; the wrap keeps the
    mode's set."""
    free = E.contact_set("pinch", padded=True, palm_free=True)
    np.testing.assert_array_equal(free.valid, [True, True, True, False, False, False, False])
    np.testing.assert_array_equal(E.contact_set("pinch", padded=True).valid, [True] * 4 + [False] * 3)
    np.testing.assert_array_equal(E.contact_set("wrap", padded=True, palm_free=True).valid, [True] * 7)
    full = E.contact_set("pinch")
    pads = jax.tree.map(lambda a: jnp.asarray(a[:3]), full)  # th, if, mf pads: PINCH_CONTACT_SITES without the palm
    assert full.link.shape == (4,)
    poses = jnp.asarray(I.initial_poses(obj, 0, "pinch", 2, np.random.default_rng(2), I.InitConfig()))

    def terms(p, cs):
        near = culling.near_object_points(p, sobj, 8)
        part = culling.near_part_points(p, sobj, cs, 0, 8)
        return E.energy_terms(p, sobj, near, cs, "dfc", None, 1, 0, part)

    t_free = jax.vmap(terms, in_axes=(0, None))(poses, jax.tree.map(jnp.asarray, free))
    t_pads = jax.vmap(terms, in_axes=(0, None))(poses, pads)
    t_full = jax.vmap(terms, in_axes=(0, None))(poses, jax.tree.map(jnp.asarray, full))
    for name in ("dis", "dir", "part", "fc"):
        np.testing.assert_allclose(t_free[name], t_pads[name], rtol=1e-5, atol=1e-7, err_msg=name)
    assert np.all(np.asarray(t_full["dis"]) > np.asarray(t_free["dis"]))  # the palm's distance is left out


def test_culled_hand_and_self_penetration_are_exact_where_their_sets_were_taken(sobj):
    """E_hpen over the 256 hand points deepest at a pose and E_spen over its 128 closest sphere pairs (the
    optimiser's refresh, `hand_points_per_block` / `sphere_pairs_per_block`) equal the full terms and their
    gradients there: the palm 1 cm inside the cylinder, fingers in joint configurations that self-penetrate."""
    h = hand.load_hand()
    rot = jnp.asarray(np.stack([[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]], -1))  # hand z = -x world
    t = jnp.asarray([-RADIUS + 0.01, 0, 0]) - rot @ h.site_pos["palm_center"]
    q = np.random.default_rng(7).uniform(h.joint_lower, h.joint_upper, (4, 16)).astype(np.float32)
    poses = jnp.concatenate([jnp.broadcast_to(jnp.concatenate([t, rot[:, 0], rot[:, 1]]), (4, 9)), q], 1)

    def penetration(p, culled):
        n = culling.near_object_points(p, sobj, 8)
        hand_points = culling.near_hand_points(p, sobj, 256) if culled else None
        pairs = culling.near_sphere_pairs(p, 128) if culled else None
        terms = E.energy_terms(p, sobj, n, "wrap", "dfc", hand_points=hand_points, sphere_pairs=pairs)
        return terms["hpen"] + terms["spen"], (terms["hpen"], terms["spen"])

    full, culled = (jax.jit(jax.vmap(jax.value_and_grad(lambda p, c=c: penetration(p, c), has_aux=True)))(poses)
                    for c in (False, True))
    (_, (hpen, spen)), grad = full
    (_, (hpen_c, spen_c)), grad_c = culled
    assert np.all(hpen > 1e-3) and np.sum(spen > 0) >= 2
    np.testing.assert_allclose(hpen_c, hpen, rtol=1e-5)
    np.testing.assert_allclose(spen_c, spen, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(grad_c, grad, rtol=1e-4, atol=1e-6)
