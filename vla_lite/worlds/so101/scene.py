"""The SO-101's MuJoCo scene: the arm (assets/so101.xml) on a table with cubes, a bowl, two pads and the front
camera. Built once per world; a layout moves the bodies at reset, it does not rebuild the model.

Physics: implicitfast integrator (stiff servo gains, damped implicitly), SUBSTEPS steps per 30 Hz control period.
Cubes are free bodies; the bowl and pads are fixed bodies whose positions the layout sets (model.body_pos).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .instructions import COLOURS, Place
from .layout import SCENE, SceneSpec
from .model import ARM_XML, arm_assets

CONTROL_HZ = 30.0  # LeRobot's SO-101 default
SUBSTEPS = 16  # physics steps per control period: 2.083 ms
TIMESTEP_S = 1.0 / CONTROL_HZ / SUBSTEPS
BOWL_SEGMENTS = 12  # wall boxes round the bowl
TABLE_RGBA = "0.58 0.55 0.5 1"
WALL_RGBA = "0.78 0.78 0.8 1"  # behind the arm: the front camera sees a room, not black
PAD_RGBA = "0.22 0.22 0.25 1"
BOWL_RGBA = "0.9 0.9 0.88 1"
PLACE_BODY = {Place.BOWL: "bowl", Place.LEFT_PAD: "left_pad", Place.RIGHT_PAD: "right_pad"}
INSTALL_HINT = "pip install 'mujoco>=3.3' (headless rendering: MUJOCO_GL=egl, see .ci/run)"


@dataclass(frozen=True)
class FixedCamera:
    pos_m: tuple[float, float, float]
    lookat_m: tuple[float, float, float]
    fovy_deg: float


# LeRobot SO-101 set-ups call the camera facing the arm across the table "front".
FRONT = FixedCamera(pos_m=(0.62, 0.0, 0.42), lookat_m=(0.14, 0.0, 0.0), fovy_deg=52.0)


def import_mujoco():
    """mujoco, with MUJOCO_GL defaulting to egl (headless) before MuJoCo is first imported."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco
    except ImportError as exc:
        raise ImportError(f"vla_lite.worlds.so101 needs MuJoCo: {INSTALL_HINT} ({exc})") from exc
    return mujoco


def _xyaxes(cam: FixedCamera) -> str:
    """MJCF xyaxes of a camera at cam.pos_m looking at cam.lookat_m, image up towards +z."""
    f = np.subtract(cam.lookat_m, cam.pos_m)
    f /= np.linalg.norm(f)
    x = np.cross(f, (0.0, 0.0, 1.0))
    x /= np.linalg.norm(x)
    y = np.cross(x, f)  # camera y (image up); the camera looks along its -z = f
    return " ".join(f"{v:.6f}" for v in (*x, *y))


def _bowl_geoms(spec: SceneSpec) -> list[str]:
    r_in, wall, h, floor = spec.bowl_inner_radius_m, spec.bowl_wall_m, spec.bowl_height_m, spec.bowl_floor_m
    r_mid = r_in + wall / 2
    half_len = (r_in + wall) * math.tan(math.pi / BOWL_SEGMENTS) + 0.001  # segments overlap at the corners
    geoms = [f'<geom rgba="{BOWL_RGBA}" type="cylinder" size="{r_in + wall:.4f} {floor / 2:.4f}" pos="0 0 {floor / 2:.4f}"/>']
    for k in range(BOWL_SEGMENTS):
        a = 2 * math.pi * k / BOWL_SEGMENTS
        geoms.append(f'<geom rgba="{BOWL_RGBA}" type="box" size="{wall / 2:.4f} {half_len:.4f} {h / 2:.4f}" '
                     f'pos="{r_mid * math.cos(a):.5f} {r_mid * math.sin(a):.5f} {h / 2:.4f}" '
                     f'euler="0 0 {a:.5f}"/>')
    return geoms


def scene_xml(colours=tuple(COLOURS), spec: SceneSpec = SCENE) -> str:
    """The scene's MJCF, including ARM_XML; cubes named cube_<colour>, places by PLACE_BODY."""
    half = spec.cube_size_m / 2
    pad = spec.pad_size_m / 2
    cubes = "\n".join(
        f'<body name="cube_{c}" pos="0 0 {half}"><freejoint name="cube_{c}"/>'
        f'<geom name="cube_{c}" type="box" size="{half} {half} {half}" mass="{spec.cube_mass_kg}" '
        f'rgba="{" ".join(f"{v:.3f}" for v in COLOURS[c])} 1" condim="4" friction="1 0.01 0.0002"/></body>'
        for c in colours)
    pads = "\n".join(
        f'<body name="{PLACE_BODY[p]}"><geom type="box" size="{pad} {pad} {spec.pad_thickness_m / 2}" '
        f'pos="0 0 {spec.pad_thickness_m / 2}" rgba="{PAD_RGBA}"/></body>'
        for p in (Place.LEFT_PAD, Place.RIGHT_PAD))
    bowl = "\n".join(_bowl_geoms(spec))
    return f"""<mujoco model="so101_table">
  <include file="{ARM_XML}"/>
  <option timestep="{TIMESTEP_S:.9f}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual><global offwidth="640" offheight="480"/><quality shadowsize="64"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/></visual>
  <worldbody>
    <light directional="true" pos="0 0 1" dir="0.2 0.1 -1" diffuse="0.45 0.45 0.45" specular="0 0 0"
           castshadow="false"/>
    <geom name="table" type="box" size="0.5 0.55 0.01" pos="0.15 0 -0.01" rgba="{TABLE_RGBA}"/>
    <geom name="wall" type="box" size="0.01 0.8 0.4" pos="-0.36 0 0.38" rgba="{WALL_RGBA}" contype="0" conaffinity="0"/>
    <camera name="front" pos="{" ".join(map(str, FRONT.pos_m))}" xyaxes="{_xyaxes(FRONT)}" fovy="{FRONT.fovy_deg}"/>
    <body name="bowl">{bowl}</body>
    {pads}
    {cubes}
  </worldbody>
</mujoco>
"""


def build_model(colours=tuple(COLOURS), spec: SceneSpec = SCENE, assets: dict[str, bytes] | None = None):
    """The compiled MjModel of the scene. `assets` replaces the packaged arm (benchmarks pass the full meshes)."""
    mujoco = import_mujoco()
    return mujoco.MjModel.from_xml_string(scene_xml(colours, spec), assets if assets is not None else arm_assets())
