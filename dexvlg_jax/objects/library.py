"""Embedded procedural object library: 14 categories with semantic parts and seeded random dimensions.

`make_object(category, seed)` draws one instance (a watertight LabeledMesh in metres, z up). Upright objects
(mug, bottle, ...) stand on z = 0; tools (hammer, knife, ...) lie along x. Every part declares one of the
paper's part classes ("lid", "disk", "L", "shaft"); the dimension ranges are chosen so that the geometric
classifier `classify_part` finds the declared class with a margin (tests check several seeds).
Dimensions below are in centimetres.
"""
from __future__ import annotations

import zlib

import numpy as np

from dexvlg_jax.objects import shapes
from dexvlg_jax.objects.containers import LabeledMesh


def _u(rng, low, high):
    return float(rng.uniform(low, high))


def _side_handle(body_radius, wall_inset, z_center, protrusion, half_height, tube_radius):
    """C-shaped handle on the +x side of an upright body; its ends sink `wall_inset` cm into the body."""
    center = (body_radius - wall_inset, 0.0, z_center)
    path = shapes.arc_path(center, protrusion + wall_inset, half_height, -np.pi / 2, np.pi / 2, count=28)
    # Turn the arc ends horizontal so both ends enter the body wall perpendicularly.
    path = np.concatenate([[path[0] - (protrusion * 0.15, 0, 0)], path, [path[-1] - (protrusion * 0.15, 0, 0)]])
    return shapes.tube(path, tube_radius)


def _mug(rng):
    radius, wall = _u(rng, 3.5, 4.5), _u(rng, 0.45, 0.6)
    height = 2 * radius * _u(rng, 1.3, 1.6)
    body = shapes.cylinder(radius, (0, 0, 0), (0, 0, height)) - shapes.cylinder(
        radius - wall, (0, 0, 0.7), (0, 0, height + 1.0))
    handle = _side_handle(radius, 0.6 * wall, height * 0.52, _u(rng, 2.2, 3.0), _u(rng, 0.3, 0.36) * height,
                          _u(rng, 0.45, 0.6))
    return [("body", "shaft", body), ("handle", "L", handle)]


def _bottle(rng):
    radius, body_height = _u(rng, 3.0, 4.0), _u(rng, 14.0, 18.0)
    shoulder, neck_radius, neck_height = _u(rng, 2.0, 3.0), _u(rng, 1.0, 1.3), _u(rng, 2.0, 3.0)
    top = body_height + shoulder + neck_height
    body = shapes.revolve([(0, 0), (radius, 0), (radius, body_height), (neck_radius, body_height + shoulder),
                           (neck_radius, top), (0, top)])
    cap_height = _u(rng, 1.6, 2.2)
    cap = shapes.cylinder(neck_radius + 0.25, (0, 0, top - 1.0), (0, 0, top - 1.0 + cap_height))
    return [("body", "shaft", body), ("cap", "lid", cap)]


def _pan(rng):
    radius, depth, wall = _u(rng, 10.0, 14.0), _u(rng, 4.0, 6.0), _u(rng, 0.45, 0.6)
    body = shapes.cylinder(radius, (0, 0, 0), (0, 0, depth)) - shapes.cylinder(
        radius - wall, (0, 0, 0.6), (0, 0, depth + 1.0))
    length, width, thickness = _u(rng, 15.0, 20.0), _u(rng, 2.5, 3.5), _u(rng, 1.2, 1.8)
    start = radius - 0.5 * wall
    handle = shapes.box((length + 0.5 * wall, width, thickness),
                        (start + (length + 0.5 * wall) / 2, 0, depth - 0.3 - thickness / 2))
    return [("pan body", "disk", body), ("handle", "shaft", handle)]


def _hammer(rng):
    length, radius = _u(rng, 25.0, 33.0), _u(rng, 1.2, 1.5)
    head_x, head_y, head_z = _u(rng, 2.6, 3.2), _u(rng, 9.0, 12.0), _u(rng, 2.6, 3.2)
    handle = shapes.capsule(radius, (0, 0, 0), (length - head_x / 2, 0, 0))
    head = shapes.box((head_x, head_y, head_z), (length, 0, 0))
    return [("handle", "shaft", handle), ("head", "shaft", head)]


def _spray_bottle(rng):
    radius, height = _u(rng, 2.8, 3.5), _u(rng, 14.0, 19.0)
    body = shapes.cylinder(radius, (0, 0, 0), (0, 0, height))
    protrusion, head_length, head_size = _u(rng, 3.0, 4.0), _u(rng, 6.5, 8.0), _u(rng, 2.5, 3.0)
    head_front = -radius - protrusion
    head = shapes.box((head_length, head_size, head_size), (head_front + head_length / 2, 0, height + head_size / 2))
    trigger_x = head_front + 0.45 * protrusion
    drop, reach = _u(rng, 3.2, 4.5), _u(rng, 2.2, 3.0)
    path = shapes.bent_path((trigger_x, 0, height - drop), (0, 0, -1), (-1, 0, 0), drop + 0.6, reach, 0.8)
    trigger = shapes.tube(path, _u(rng, 0.3, 0.38))
    return [("body", "shaft", body), ("nozzle head", "shaft", head), ("trigger", "L", trigger)]


def _kettle(rng):
    radius, height = _u(rng, 9.0, 11.0), _u(rng, 11.0, 13.0)
    body = shapes.revolve([(0, 0), (radius, 0), (radius, height * 0.8), (radius * 0.75, height), (0, height)])
    lid_radius, lid_height = radius * _u(rng, 0.45, 0.6), _u(rng, 1.0, 1.5)
    lid = shapes.cylinder(lid_radius, (0, 0, height - 0.5), (0, 0, height + lid_height))
    handle = _side_handle(radius, 0.8, height * 0.45, _u(rng, 3.0, 4.0), _u(rng, 0.3, 0.36) * height,
                          _u(rng, 0.7, 0.9))
    spout_length, angle = _u(rng, 7.0, 9.0), np.deg2rad(_u(rng, 35.0, 45.0))
    start = np.array([-(radius - 1.5), 0, 0.3 * height])
    end = start + spout_length * np.array([-np.cos(angle), 0, np.sin(angle)])
    spout = shapes.cylinder(_u(rng, 0.9, 1.2), start, end, sections=24)
    return [("body", "disk", body), ("lid", "lid", lid), ("handle", "L", handle), ("spout", "shaft", spout)]


def _pot(rng):
    radius, height = _u(rng, 9.0, 12.0), _u(rng, 10.0, 13.0)
    body = shapes.cylinder(radius, (0, 0, 0), (0, 0, height))
    lid_height = _u(rng, 0.8, 1.2)
    lid = shapes.cylinder(radius + 0.3, (0, 0, height), (0, 0, height + lid_height))
    knob_height = _u(rng, 1.5, 2.0)
    knob = shapes.cylinder(_u(rng, 1.2, 1.7), (0, 0, height + lid_height - 0.3),
                           (0, 0, height + lid_height + knob_height))
    return [("body", "disk", body), ("lid", "lid", lid), ("knob", "lid", knob)]


def _knife(rng):
    handle_length, handle_width, handle_thickness = _u(rng, 10.0, 12.0), _u(rng, 1.8, 2.4), _u(rng, 1.2, 1.6)
    blade_length, blade_width, blade_thickness = _u(rng, 13.0, 17.0), _u(rng, 3.5, 4.5), _u(rng, 0.35, 0.45)
    handle = shapes.box((handle_length, handle_width, handle_thickness), (handle_length / 2, 0, 0))
    blade = shapes.box((blade_length + 1.5, blade_width, blade_thickness),
                       (handle_length - 1.5 + (blade_length + 1.5) / 2, 0, 0))
    return [("handle", "shaft", handle), ("blade", "disk", blade)]


def _screwdriver(rng):
    handle_length, handle_radius = _u(rng, 9.0, 12.0), _u(rng, 1.2, 1.7)
    shaft_length, shaft_radius = _u(rng, 8.0, 15.0), _u(rng, 0.25, 0.4)
    handle = shapes.capsule(handle_radius, (handle_radius, 0, 0), (handle_length - handle_radius, 0, 0))
    shaft = shapes.cylinder(shaft_radius, (handle_length - 1.0, 0, 0), (handle_length + shaft_length, 0, 0), 20)
    return [("handle", "shaft", handle), ("shaft", "shaft", shaft)]


def _bowl(rng):
    radius, depth, wall = _u(rng, 6.0, 9.0), _u(rng, 5.0, 7.0), _u(rng, 0.45, 0.6)
    angles = np.linspace(0.0, np.pi / 2, 12)
    outer = np.stack([radius * np.sin(angles), depth * (1 - np.cos(angles))], 1)
    bottom = 1.2  # thicker floor, so the foot below never pokes into the cavity
    inner = np.stack([(radius - wall) * np.sin(angles), bottom + (depth - bottom) * (1 - np.cos(angles))], 1)[::-1]
    body = shapes.revolve(np.concatenate([outer, inner], 0))
    foot_radius, foot_height = radius * _u(rng, 0.35, 0.45), _u(rng, 0.8, 1.2)
    foot = shapes.cylinder(foot_radius, (0, 0, -foot_height), (0, 0, 0.12 * depth + 0.1))
    return [("bowl", "disk", body), ("foot", "disk", foot)]


def _knob_box(rng):
    size = (_u(rng, 16.0, 20.0), _u(rng, 15.0, 19.0), _u(rng, 5.5, 7.0))
    body = shapes.box(size, (0, 0, size[2] / 2))
    knob = shapes.cylinder(_u(rng, 1.2, 1.7), (0, 0, size[2] - 0.3), (0, 0, size[2] + _u(rng, 1.5, 2.0)))
    return [("box", "disk", body), ("knob", "lid", knob)]


def _flashlight(rng):
    body_length, body_radius = _u(rng, 14.0, 20.0), _u(rng, 1.2, 1.7)
    head_length, head_radius = _u(rng, 2.0, 3.0), _u(rng, 2.5, 3.2)
    body = shapes.cylinder(body_radius, (0, 0, 0), (body_length + 0.5, 0, 0))
    head = shapes.cylinder(head_radius, (body_length, 0, 0), (body_length + head_length, 0, 0))
    return [("body", "shaft", body), ("head", "disk", head)]


def _jar(rng):
    radius, height = _u(rng, 4.0, 5.5), _u(rng, 4.5, 7.0)
    body = shapes.cylinder(radius, (0, 0, 0), (0, 0, height))
    lid = shapes.cylinder(radius + 0.3, (0, 0, height - 0.5), (0, 0, height + _u(rng, 1.2, 1.8)))
    return [("body", "disk", body), ("lid", "lid", lid)]


def _bucket(rng):
    radius, height, wall = _u(rng, 8.0, 10.0), _u(rng, 6.0, 8.0), _u(rng, 0.5, 0.6)
    body = shapes.revolve([(0, 0), (radius * 0.85, 0), (radius, height), (radius - wall, height),
                           (radius * 0.85 - wall, wall), (0, wall)])
    rise, tube_radius = _u(rng, 6.0, 8.0), _u(rng, 0.45, 0.6)
    # Arch handle over the top in the x-z plane, its feet inside the rim.
    path = shapes.arc_path((0, 0, height - 1.0), radius - wall / 2, rise + 1.0, 0.0, np.pi, count=32)
    handle = shapes.tube(path, tube_radius)
    return [("bucket", "disk", body), ("handle", "L", handle)]


_BUILDERS = {
    "mug": _mug,
    "bottle": _bottle,
    "pan": _pan,
    "hammer": _hammer,
    "spray_bottle": _spray_bottle,
    "kettle": _kettle,
    "pot": _pot,
    "knife": _knife,
    "screwdriver": _screwdriver,
    "bowl": _bowl,
    "knob_box": _knob_box,
    "flashlight": _flashlight,
    "jar": _jar,
    "bucket": _bucket,
}

CATEGORIES: tuple[str, ...] = tuple(_BUILDERS)


def make_object(category: str, seed: int = 0) -> LabeledMesh:
    """Draw instance `seed` of a category: a watertight LabeledMesh in metres (z up), name "<category>_<seed>"."""
    if category not in _BUILDERS:
        raise KeyError(f"unknown object category {category!r}; known: {', '.join(CATEGORIES)}")
    rng = np.random.default_rng([zlib.crc32(category.encode()), int(seed)])
    parts = _BUILDERS[category](rng)
    return shapes.assemble_parts(parts, category=category, name=f"{category}_{int(seed):04d}")


def embedded_objects(num_per_category: int = 1, seed: int = 0, categories=None) -> list[LabeledMesh]:
    """`num_per_category` instances of every category (seeds seed, seed + 1, ...), category-major order."""
    categories = CATEGORIES if categories is None else tuple(categories)
    return [make_object(c, seed + i) for c in categories for i in range(num_per_category)]
