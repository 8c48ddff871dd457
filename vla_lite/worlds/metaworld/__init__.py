"""Meta-World (MT10, MT50) behind the firmware bridge: a public benchmark through the whole vla-lite stack.

- `tasks`: MT10, MT50, LeRobot's difficulty groups and the instructions (LeRobot's descriptions, training and
  held-out paraphrases), as data (MT50's in mt50.json)
- `scene`: one Meta-World env with seeded placements (the only module calling Meta-World)
- `controller`: MetaWorldController, a VirtualArm whose plant is Meta-World, EE_DELTA at 80 Hz
- `camera`: fast upright rendering (SceneRenderer) of named views and MetaWorldCamera (Camera protocol)
- `rig`: MetaWorldRig, the controller on a pty plus the cameras: the World for `--port metaworld:...`
- `env`: MetaWorldEnv, episodes without a serial link; `expert`: the scripted experts as EE_DELTA labels
- `demos`: record_metaworld_demos, demonstrations in the recording format the offline path reads
- `misses`: where a policy's misses end (closest approach of the measured point to the goal)

Importing this package imports neither Meta-World nor MuJoCo (`pip install 'vla-lite[metaworld]'`); they
are imported when a scene, renderer or expert is built, with MUJOCO_GL defaulting to "egl" (headless).
"""

from .camera import FRONT, SIDE, VIEWS, CameraView, MetaWorldCamera, SceneRenderer, view_named, views_named
from .controller import JOINT_NAMES, MetaWorldController, metaworld_arm
from .demos import record_metaworld_demos
from .env import MetaWorldEnv
from .expert import EE_DELTA_HIGH, EE_DELTA_LOW, MetaWorldExpert, action_to_ee_delta, ee_delta_to_action
from .rig import MetaWorldEpisode, MetaWorldRig
from .scene import ACTION_SCALE_M, MAX_STEPS, STEP_S, TaskScene
from .tasks import (MT10, MT50, MT50_GROUPS, LEROBOT_DESCRIPTIONS, episode_instruction, make_instruction, task_group,
                    task_instructions, tasks_named)

__all__ = ["ACTION_SCALE_M", "EE_DELTA_HIGH", "EE_DELTA_LOW", "FRONT", "JOINT_NAMES", "LEROBOT_DESCRIPTIONS",
           "MAX_STEPS", "MT10", "MT50", "MT50_GROUPS", "SIDE", "STEP_S", "VIEWS", "CameraView", "MetaWorldCamera",
           "MetaWorldController", "MetaWorldEnv", "MetaWorldEpisode", "MetaWorldExpert", "MetaWorldRig",
           "SceneRenderer", "TaskScene", "action_to_ee_delta", "ee_delta_to_action", "episode_instruction",
           "make_instruction", "metaworld_arm", "record_metaworld_demos", "task_group", "task_instructions",
           "tasks_named", "view_named", "views_named"]
