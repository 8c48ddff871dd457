"""Top-down orthographic rendering of the tabletop with OpenCV drawing: (H, W, 3) uint8 RGB, deterministic.

The table and base are drawn once per renderer, the blocks once per world; each frame copies that layer and draws
the arm on it. Lift shows twice: the tool disc grows with height, and its shadow (light from the upper left) moves
down-right away from it, hiding under the tool when the tip is on the table. OpenCV is imported by the Renderer,
not by `import vla_lite.worlds.tabletop`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .instructions import COLOURS
from .kinematics import ELBOW, GRIPPER, LIFT, SHOULDER, elbow_point, forward_kinematics
from .world import TABLE, TableSpec, World

SHIFT = 4  # cv2 fixed-point bits: coordinates in 1/16 px
TABLE_RGB = (178, 174, 166)
OFF_TABLE_RGB = (96, 92, 88)  # behind the table edge (y < 0)
BASE_RGB = (60, 60, 66)
LINK1_RGB, LINK2_RGB = (72, 76, 88), (104, 108, 122)
TOOL_RGB, TOOL_EDGE_RGB, FINGER_RGB = (246, 246, 246), (40, 40, 40), (30, 30, 30)
SHADOW_SCALE = 0.62  # shadow colour = what it falls on × this
_SHADE_Q8 = round(SHADOW_SCALE * 256)  # the same in 1/256ths, for integer maths


@dataclass(frozen=True)
class View:
    x_range_m: tuple[float, float] = (-0.30, 0.30)  # left .. right edge of the image
    y_range_m: tuple[float, float] = (-0.10, 0.50)  # bottom .. top edge (the base is near the bottom)
    link1_width_m: float = 0.030
    link2_width_m: float = 0.024
    tool_radius_m: float = 0.011  # at lift 0
    tool_growth: float = 0.10  # extra radius per metre of lift (m/m)
    shadow_offset: float = 0.45  # shadow displacement per metre of lift (m/m), towards +x, -y


VIEW = View()


class Renderer:
    """`render(world, positions)` -> (size_px, size_px, 3) uint8 RGB. Not thread-safe: one per thread."""

    def __init__(self, size_px: int = 96, spec: TableSpec = TABLE, view: View = VIEW, antialias: bool = True):
        if isinstance(size_px, bool) or not isinstance(size_px, (int, np.integer)) or not 16 <= size_px <= 1024:
            raise ValueError(f"image size must be an integer 16..1024 px, got {size_px!r}")
        (x0, x1), (y0, y1) = view.x_range_m, view.y_range_m
        if not math.isclose(x1 - x0, y1 - y0):
            raise ValueError(f"the view must be square, got {x1 - x0:.4g} x {y1 - y0:.4g} m")
        import cv2  # here, not at import: only code that draws pays for OpenCV
        self._cv2 = cv2
        self.size_px, self.spec, self.view = int(size_px), spec, view
        self._px_per_m = self.size_px / (x1 - x0)
        self._line = cv2.LINE_AA if antialias else cv2.LINE_8
        self._background = self._draw_background()
        self._layer_world: World | None = None
        self._layer = self._background

    # --- coordinates ---------------------------------------------------------------------------------------

    @property
    def px_per_m(self) -> float:
        return self._px_per_m

    def to_px(self, x_m: float, y_m: float) -> tuple[float, float]:
        """(column, row) in pixels, fractional; pixel centres at integer + 0.5."""
        return ((x_m - self.view.x_range_m[0]) * self._px_per_m, (self.view.y_range_m[1] - y_m) * self._px_per_m)

    def _pt(self, x_m: float, y_m: float) -> tuple[int, int]:
        c, r = self.to_px(x_m, y_m)
        return int(round((c - 0.5) * (1 << SHIFT))), int(round((r - 0.5) * (1 << SHIFT)))

    def _len(self, m: float) -> int:
        return max(1, int(round(m * self._px_per_m * (1 << SHIFT))))

    def _width(self, m: float) -> int:
        return max(1, int(round(m * self._px_per_m)))

    # --- static layers -------------------------------------------------------------------------------------

    def _draw_background(self) -> np.ndarray:
        cv2, n = self._cv2, self.size_px
        img = np.empty((n, n, 3), np.uint8)
        img[:] = TABLE_RGB
        edge_row = int(round(self.to_px(0.0, 0.0)[1]))
        img[max(0, edge_row):] = OFF_TABLE_RGB
        cv2.circle(img, self._pt(0.0, 0.0), self._len(0.035), BASE_RGB, -1, self._line, SHIFT)
        return img

    def _draw_blocks(self, world: World) -> np.ndarray:
        cv2 = self._cv2
        img = self._background.copy()
        half = world.spec.block_size_m / 2
        for b in world.blocks:
            rgb = COLOURS[b.colour]
            edge = tuple(int(v * 0.7) for v in rgb)  # darker rim: the block's sides
            corners = np.array([self._pt(b.x_m - half, b.y_m + half), self._pt(b.x_m + half, b.y_m + half),
                                self._pt(b.x_m + half, b.y_m - half), self._pt(b.x_m - half, b.y_m - half)],
                               np.int32)
            cv2.fillConvexPoly(img, corners, edge, self._line, SHIFT)
            inset = half * 0.7
            inner = np.array([self._pt(b.x_m - inset, b.y_m + inset), self._pt(b.x_m + inset, b.y_m + inset),
                              self._pt(b.x_m + inset, b.y_m - inset), self._pt(b.x_m - inset, b.y_m - inset)],
                             np.int32)
            cv2.fillConvexPoly(img, inner, rgb, self._line, SHIFT)
        return img

    # --- a frame -------------------------------------------------------------------------------------------

    def render(self, world: World | None, positions) -> np.ndarray:
        """The table, world's blocks (None: none) and the arm at joint positions (shoulder, elbow, lift, gripper)."""
        if world is not self._layer_world:
            self._layer = self._background if world is None else self._draw_blocks(world)
            self._layer_world = world
        cv2, line, v = self._cv2, self._line, self.view
        img = self._layer.copy()
        geometry = self.spec.geometry
        q1, q2 = float(positions[SHOULDER]), float(positions[ELBOW])
        lift, opening = float(positions[LIFT]), float(positions[GRIPPER])
        ex, ey = elbow_point(q1, geometry)
        tx, ty = (float(c) for c in forward_kinematics(q1, q2, geometry))
        tool_r = v.tool_radius_m + v.tool_growth * lift
        # Shadow first: it lies on the table and blocks, under the arm. Darken what is there, as a shadow would.
        s = v.shadow_offset * lift
        col, row = self.to_px(tx + s, ty - s)
        r_px = tool_r * self._px_per_m
        r0, r1 = max(0, int(row - r_px - 1)), min(self.size_px, int(row + r_px + 2))
        c0, c1 = max(0, int(col - r_px - 1)), min(self.size_px, int(col + r_px + 2))
        if r0 < r1 and c0 < c1:
            mask = np.zeros((r1 - r0, c1 - c0), np.uint8)
            cv2.circle(mask, self._pt_local(tx + s, ty - s, r0, c0), self._len(tool_r), 255, -1, line, SHIFT)
            patch = img[r0:r1, c0:c1]
            patch = patch.astype(np.uint16)
            shade = patch * _SHADE_Q8 >> 8
            m = mask[..., None].astype(np.uint16)  # 0..255 coverage, anti-aliased at the rim
            img[r0:r1, c0:c1] = (shade * m + patch * (255 - m)) // 255
        base, elbow, tool = self._pt(0.0, 0.0), self._pt(ex, ey), self._pt(tx, ty)
        cv2.line(img, base, elbow, LINK1_RGB, self._width(v.link1_width_m), line, SHIFT)
        cv2.circle(img, elbow, self._len(v.link1_width_m * 0.6), LINK1_RGB, -1, line, SHIFT)
        cv2.line(img, elbow, tool, LINK2_RGB, self._width(v.link2_width_m), line, SHIFT)
        # Fingers either side of the tool, across link 2, `opening` apart.
        ux, uy = tx - ex, ty - ey
        norm = math.hypot(ux, uy) or 1.0
        px, py = -uy / norm, ux / norm
        half = opening / 2 + tool_r * 0.55
        for sign in (-1, 1):
            cv2.circle(img, self._pt(tx + sign * half * px, ty + sign * half * py), self._len(0.005), FINGER_RGB,
                       -1, line, SHIFT)
        cv2.circle(img, tool, self._len(tool_r), TOOL_RGB, -1, line, SHIFT)
        cv2.circle(img, tool, self._len(tool_r), TOOL_EDGE_RGB, 1, line, SHIFT)
        return img

    def _pt_local(self, x_m: float, y_m: float, row0: int, col0: int) -> tuple[int, int]:
        c, r = self._pt(x_m, y_m)
        return c - (col0 << SHIFT), r - (row0 << SHIFT)
