"""The fault matrix's bad-data check is a real check: on the simulated tabletop, a tick that sends a command during
a camera stall, from positions the arm cannot be at, or while the controller has a fault latched is counted; holds
are not. (The 60 s run itself is in .ci/run: `python benchmarks/fault_matrix.py --seconds 60`.)"""

import time

import numpy as np
import pytest

from vla_lite.fault_matrix import FaultMatrix, Phase
from vla_lite.models import DEMO_BUNDLE
from vla_lite.tick import TickResult

pytestmark = pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason=f"no demo bundle at {DEMO_BUNDLE}")


@pytest.fixture
def sim():
    from vla_lite.runtime import RunConfig, Runtime

    rt = Runtime.open(RunConfig(port="sim", rate_hz=50.0))
    yield rt
    rt.close()


def _tick(step, held, measured, t_s=None):
    return TickResult(step, None if held else np.asarray(measured), None, held, "x" if held else None, False,
                      measured=np.asarray(measured), t_s=t_s)


def test_commands_from_stale_frames_impossible_states_or_a_latched_fault_are_counted(sim):
    t = [0.0]
    matrix = FaultMatrix(sim, phase_s=1000.0, clock=lambda: t[0], clear_after_s=1e9)
    arm = sim.rig.arm
    matrix.watch(_tick(0, False, arm.positions()))  # clean, true positions: nothing counted
    assert matrix.bad == {"stale_frame": 0, "corrupt_state": 0, "while_faulted": 0}
    matrix.watch(_tick(1, False, arm.positions() + 1.0))  # 1 rad/m off: no state the arm could have sent
    assert matrix.bad["corrupt_state"] == 1
    matrix.stall.stall(True)
    t[0] += 0.6  # past the 0.5 s frame age limit
    matrix.watch(_tick(2, True, arm.positions()))  # a hold during the stall is right
    assert matrix.bad["stale_frame"] == 0
    matrix.watch(_tick(3, False, arm.positions()))
    assert matrix.bad["stale_frame"] == 1
    matrix.stall.stall(False)
    matrix.watch(_tick(4, False, arm.positions(), t_s=t[0] - 0.6))  # observed before the stall began: right
    assert matrix.bad["stale_frame"] == 1
    sim.link.heartbeat()  # arms the controller's 100 ms watchdog; then nothing for 300 ms: it latches
    time.sleep(0.3)
    assert sim.rig.arm.state().faults
    matrix.watch(_tick(5, False, arm.positions()))  # first seen now: a fresh state may not show it yet
    t[0] += 0.5
    matrix.watch(_tick(6, False, arm.positions()))
    assert matrix.bad["while_faulted"] == 1 and matrix.phase is Phase.CLEAN
    assert len(matrix.bad_examples) == 3
