"""The tabletop: coloured blocks at seeded positions, and the touch rule that decides an episode. Pure logic.

Task: "touch the <colour> block". The tool touches a block when its tip is inside the block's square footprint
(axis-aligned, seen from above) and lift <= block height + touch margin. The first block touched decides the
episode: the target is a success, any other block a failure. Blocks are never knocked over or moved: there is no
contact physics, only this rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ...firmware_bridge.arm_config import TABLETOP_HOME
from .instructions import COLOURS, make_instruction
from .kinematics import (ELBOW, GEOMETRY, LIFT, SHOULDER, ScaraGeometry, elbow_point, forward_kinematics,
                         reachable_solution)

MAX_LAYOUT_TRIES = 10_000


@dataclass(frozen=True)
class TableSpec:
    block_size_m: float = 0.04  # cube side: the footprint is block_size_m square
    block_height_m: float = 0.04
    touch_margin_m: float = 0.01  # a touch is lift <= block_height_m + touch_margin_m over the footprint
    min_centre_gap_m: float = 0.09  # between block centres: footprints ~0.03 m apart even corner to corner
    home_clearance_m: float = 0.05  # block centres this far from the arm's links at home: nothing hidden at start
    x_range_m: tuple[float, float] = (-0.26, 0.26)  # where block centres may be (inside the camera's view)
    y_range_m: tuple[float, float] = (0.06, 0.40)
    radius_range_m: tuple[float, float] = (0.15, 0.40)  # distance from the base axis: reachable, with margin
    home: tuple[float, float, float, float] = TABLETOP_HOME  # folded, tool raised, gripper open
    geometry: ScaraGeometry = GEOMETRY

    @property
    def touch_height_m(self) -> float:
        return self.block_height_m + self.touch_margin_m


TABLE = TableSpec()


@dataclass(frozen=True)
class Block:
    colour: str
    x_m: float  # centre of the footprint
    y_m: float

    def contains(self, x_m: float, y_m: float, size_m: float) -> bool:
        half = size_m / 2
        return abs(x_m - self.x_m) <= half and abs(y_m - self.y_m) <= half


@dataclass(frozen=True)
class World:
    blocks: tuple[Block, ...]
    target: int  # index into blocks
    spec: TableSpec = TABLE
    seed: int | None = None

    @property
    def target_block(self) -> Block:
        return self.blocks[self.target]

    def block_at(self, x_m: float, y_m: float) -> int | None:
        """Index of the block whose footprint holds (x_m, y_m), or None."""
        for i, b in enumerate(self.blocks):
            if b.contains(x_m, y_m, self.spec.block_size_m):
                return i
        return None


def sample_world(seed: int, n_blocks: int = 3, spec: TableSpec = TABLE) -> World:
    """A layout fully determined by seed: n_blocks distinct colours at non-overlapping reachable positions, and a
    target block."""
    if not 1 <= n_blocks <= len(COLOURS):
        raise ValueError(f"n_blocks must be 1..{len(COLOURS)} (one per colour), got {n_blocks!r}")
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    colours = [names[i] for i in rng.choice(len(names), size=n_blocks, replace=False)]
    (x0, x1), (y0, y1), (r0, r1) = spec.x_range_m, spec.y_range_m, spec.radius_range_m
    home_links = _links(spec.home, spec.geometry)
    centres: list[tuple[float, float]] = []
    for _ in range(MAX_LAYOUT_TRIES):
        if len(centres) == n_blocks:
            break
        x, y = float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))
        if not r0 <= math.hypot(x, y) <= r1:
            continue
        if any(math.hypot(x - cx, y - cy) < spec.min_centre_gap_m for cx, cy in centres):
            continue
        if any(_distance_to_segment(x, y, a, b) < spec.home_clearance_m for a, b in home_links):
            continue
        centres.append((x, y))
    if len(centres) < n_blocks:
        raise RuntimeError(f"no layout of {n_blocks} blocks {spec.min_centre_gap_m} m apart found in "
                           f"{MAX_LAYOUT_TRIES} tries (seed {seed}); widen the table spec's ranges")
    for x, y in centres:
        reachable_solution(x, y, +1, spec.geometry)  # a spec whose region the arm cannot reach fails loudly here
    blocks = tuple(Block(c, round(x, 6), round(y, 6)) for c, (x, y) in zip(colours, centres))
    return World(blocks, int(rng.integers(n_blocks)), spec, seed)


def _links(positions, geometry: ScaraGeometry) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The two links as ((x, y), (x, y)) segments, m."""
    elbow = elbow_point(positions[SHOULDER], geometry)
    tool = tuple(float(c) for c in forward_kinematics(positions[SHOULDER], positions[ELBOW], geometry))
    return [((0.0, 0.0), elbow), (elbow, tool)]


def _distance_to_segment(x: float, y: float, a, b) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy or 1.0)
    t = min(1.0, max(0.0, t))
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


def touched_block(world: World, positions) -> int | None:
    """Index of the block the tool touches at joint `positions` (shoulder, elbow, lift, ...), or None."""
    if positions[LIFT] > world.spec.touch_height_m:
        return None
    x, y = forward_kinematics(float(positions[SHOULDER]), float(positions[ELBOW]), world.spec.geometry)
    return world.block_at(float(x), float(y))


class TouchJudge:
    """Latches the first block touched during an episode; feed it the arm's positions at every check."""

    def __init__(self, world: World):
        self.world = world
        self.touched: int | None = None

    def observe(self, positions) -> None:
        if self.touched is None:
            self.touched = touched_block(self.world, positions)

    @property
    def success(self) -> bool:
        return self.touched is not None and self.touched == self.world.target

    @property
    def failed(self) -> bool:
        """A block other than the target was touched first."""
        return self.touched is not None and self.touched != self.world.target


class Episode(NamedTuple):
    seed: int
    world: World
    instruction: str  # what the policy is told; the image alone does not say which block

    @property
    def target_colour(self) -> str:
        return self.world.target_block.colour

    @property
    def target(self) -> str:
        """What results are grouped by (vla_lite.worlds.base.Episode): the target block's colour."""
        return self.target_colour


def make_episode(seed: int, n_blocks: int = 3, split: str = "train", spec: TableSpec = TABLE) -> Episode:
    """Layout, target and phrasing from one seed. The phrasing has its own stream, so a seed gives the same layout
    and target in every split."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"episode seed must be an integer >= 0, got {seed!r}")
    world = sample_world(int(seed), n_blocks, spec)
    text = make_instruction(world.target_block.colour, np.random.default_rng([int(seed), 1]), split)
    return Episode(int(seed), world, text)
