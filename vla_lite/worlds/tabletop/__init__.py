"""The simulated tabletop: a SCARA arm over coloured blocks, "touch the <colour> block".

- `kinematics`: the arm (ArmConfig, forward/inverse kinematics, EE_DELTA)
- `world`: layouts, the touch rule                 - `instructions`: phrasings (train / paraphrase / held-out)
- `render`: top-down RGB images                    - `camera`: SimCamera (a RenderedCamera)
- `expert`: scripted expert for demonstrations and DAgger labels
- `env`: TabletopEnv, episodes in simulated time without a serial link
- `rig`: SimRig, the World behind `--port sim`
- `demos`: record_tabletop_demos, scripted-expert demonstrations in the recording format (`vla-lite demo-data`)

Importing this package loads no OpenCV (the Renderer does) and starts nothing.
"""

from .camera import SimCamera
from .demos import record_tabletop_demos
from .env import TabletopEnv
from .expert import ExpertConfig, ScriptedExpert
from .instructions import COLOURS, make_instruction
from .kinematics import (GEOMETRY, JOINT_NAMES, ScaraGeometry, ScaraKinematics, forward_kinematics,
                         inverse_kinematics, scara_arm)
from .render import Renderer
from .rig import SimRig
from .world import TABLE, Block, Episode, TableSpec, TouchJudge, World, make_episode, sample_world

__all__ = ["COLOURS", "GEOMETRY", "JOINT_NAMES", "TABLE", "Block", "Episode", "ExpertConfig", "Renderer",
           "ScaraGeometry", "ScaraKinematics", "ScriptedExpert", "SimCamera", "SimRig",
           "TableSpec", "TabletopEnv", "TouchJudge", "World", "forward_kinematics", "inverse_kinematics",
           "make_episode", "make_instruction", "record_tabletop_demos", "sample_world", "scara_arm"]
