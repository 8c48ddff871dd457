"""Where things are on the SO-101's table: the scene's sizes (SceneSpec) and seeded placements (Layout). Pure numpy.

Coordinates: metres, the arm's base frame (x forward, y to the arm's left, z up, table top at z = 0). Places are
laid out round the pan axis (PAN_AXIS_XY) where the arm reaches with the gripper pointing down: the bowl in front,
the left pad on the left (+y), the right pad on the right; each jittered per seed. Cubes go anywhere else within
reach, at a random yaw, clear of each other and of the places. A seed fixes the layout; nothing else does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .instructions import COLOURS, Place

PAN_AXIS_XY = (0.038835, 0.0)  # the shoulder_pan axis on the table (so101.xml)
MAX_LAYOUT_TRIES = 10_000  # cube positions drawn per layout at most ...
RESTART_TRIES = 200  # ... in rounds of this many, each starting the cubes afresh


@dataclass(frozen=True)
class SceneSpec:
    cube_size_m: float = 0.03
    cube_mass_kg: float = 0.03  # a 30 mm cube of PLA or wood
    bowl_inner_radius_m: float = 0.04
    bowl_wall_m: float = 0.004  # wall thickness
    bowl_height_m: float = 0.03  # rim height above the table
    bowl_floor_m: float = 0.004  # floor thickness: the inside bottom is this high
    pad_size_m: float = 0.06  # square pad side
    pad_thickness_m: float = 0.003
    # Polar ranges about the pan axis: (radius min, max) m and (angle min, max) deg, angle from +x towards +y.
    bowl_polar: tuple[tuple[float, float], tuple[float, float]] = ((0.17, 0.23), (-15.0, 15.0))
    left_pad_polar: tuple[tuple[float, float], tuple[float, float]] = ((0.15, 0.22), (45.0, 70.0))
    cube_polar: tuple[tuple[float, float], tuple[float, float]] = ((0.11, 0.25), (-90.0, 90.0))
    # Between footprints (cube circumradius, place radius): room for the open jaws, which reach 17 mm past a cube's
    # faces along their closing direction (opening 64 mm).
    cube_clearance_m: float = 0.02
    rest_tolerance_m: float = 0.006  # a placed cube's centre is within this of its resting height

    @property
    def right_pad_polar(self):
        (r, (a0, a1)) = self.left_pad_polar
        return r, (-a1, -a0)


SCENE = SceneSpec()


@dataclass(frozen=True)
class CubePlacement:
    colour: str
    x_m: float
    y_m: float
    yaw_rad: float  # about z; a cube looks the same every 90 degrees, so in [-pi/4, pi/4)


@dataclass(frozen=True)
class Layout:
    cubes: tuple[CubePlacement, ...]
    places: dict  # Place -> (x_m, y_m), centres on the table

    def cube(self, colour: str) -> CubePlacement:
        for c in self.cubes:
            if c.colour == colour:
                return c
        raise ValueError(f"no {colour!r} cube in this scene; it has {[c.colour for c in self.cubes]}")


def _polar(rng: np.random.Generator, polar) -> tuple[float, float]:
    (r0, r1), (a0, a1) = polar
    r, a = rng.uniform(r0, r1), math.radians(rng.uniform(a0, a1))
    return PAN_AXIS_XY[0] + r * math.cos(a), PAN_AXIS_XY[1] + r * math.sin(a)


def place_radius_m(place: Place, spec: SceneSpec) -> float:
    """The radius of a circle covering the place's footprint."""
    if place is Place.BOWL:
        return spec.bowl_inner_radius_m + spec.bowl_wall_m
    return spec.pad_size_m / math.sqrt(2)


def sample_layout(seed: int, colours=tuple(COLOURS), spec: SceneSpec = SCENE) -> Layout:
    """The places and the cubes of `colours` for seed (any integer >= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"episode seed must be an integer in [0, 2**63), got {seed!r}")
    bad = [c for c in colours if c not in COLOURS]
    if bad or not colours or len(set(colours)) != len(colours):
        raise ValueError(f"cube colours must be distinct names from {list(COLOURS)}, got {colours!r}")
    rng = np.random.default_rng([int(seed), 0])
    places = {Place.BOWL: _polar(rng, spec.bowl_polar), Place.LEFT_PAD: _polar(rng, spec.left_pad_polar),
              Place.RIGHT_PAD: _polar(rng, spec.right_pad_polar)}
    for _ in range(MAX_LAYOUT_TRIES // RESTART_TRIES):  # a crowded start can leave no room: start the cubes anew
        cubes = _place_cubes(rng, colours, places, spec)
        if cubes is not None:
            return Layout(cubes, {p: (round(x, 6), round(y, 6)) for p, (x, y) in places.items()})
    raise RuntimeError(f"no layout of {len(colours)} cubes found in {MAX_LAYOUT_TRIES} tries (seed {seed}); "
                       "widen the scene spec's cube_polar or lower cube_clearance_m")


def _place_cubes(rng, colours, places, spec: SceneSpec) -> tuple[CubePlacement, ...] | None:
    cube_r = spec.cube_size_m / math.sqrt(2)  # footprint's circumradius
    keep_out = [(xy, place_radius_m(p, spec)) for p, xy in places.items()]
    cubes: list[CubePlacement] = []
    for _ in range(RESTART_TRIES):
        x, y = _polar(rng, spec.cube_polar)
        yaw = float(rng.uniform(-math.pi / 4, math.pi / 4))
        if any(math.hypot(x - cx, y - cy) < r + cube_r + spec.cube_clearance_m for (cx, cy), r in keep_out):
            continue
        cubes.append(CubePlacement(colours[len(cubes)], round(x, 6), round(y, 6), round(yaw, 6)))
        if len(cubes) == len(colours):
            return tuple(cubes)
        keep_out.append(((x, y), cube_r))
    return None
