"""The control loop's logic on a real bundle, a real backend and a real pty to the virtual controller, stepped in
simulated time (an injected clock): chunk consumption, instruction changes flushing the queue, holds on stale
frames and non-finite actions, and an arm that only ever receives commands inside its limits."""

import dataclasses
import time

import numpy as np
import pytest

from bundle_factory import ARM, CAMERAS, E, tiny_bundle  # noqa: F401  (fixture)
from vla_lite.backends import open_backend
from vla_lite.bundle import load_bundle
from vla_lite.cameras import make_preprocessor
from vla_lite.cameras.base import Frame, StaleFrame
from vla_lite.evaluate import SimClock
from vla_lite.execution import make_executor
from vla_lite.firmware_bridge.arm_server import ArmServer
from vla_lite.firmware_bridge.fault_injection import FaultInjection
from vla_lite.firmware_bridge.link import ArmLink
from vla_lite.firmware_bridge.virtual_arm import VirtualArm
from vla_lite.loop import ControlLoop, LoopConfig
from vla_lite.safety import SafetyFilter, SafetyLimits


class ClockCamera:
    """A camera whose frames carry the injected clock's time; `freeze()` stops new frames (they go stale)."""

    def __init__(self, name, shape, clock):
        self.name, self.clock = name, clock
        self.image = np.random.default_rng(0).integers(0, 255, shape + (3,), dtype=np.uint8)
        self.frozen_at, self.index = None, 0

    def freeze(self):
        self.frozen_at = self.clock()

    def read(self, max_age_s=None):
        t = self.clock() if self.frozen_at is None else self.frozen_at
        if max_age_s is not None and self.clock() - t > max_age_s:
            raise StaleFrame(f"camera {self.name}: newest frame is {1e3 * (self.clock() - t):.0f} ms old")
        self.index += self.frozen_at is None
        return Frame(self.image, t, self.index)

    def close(self):
        pass


class NaNAfter:
    """A policy that starts returning NaN after n good chunks (a diverging model)."""

    def __init__(self, policy, n):
        self.policy, self.n, self.calls = policy, n, 0

    def infer(self, images, state, instruction):
        self.calls += 1
        out = self.policy.infer(images, state, instruction)
        return out * np.nan if self.calls > self.n else out


@pytest.fixture
def rig(tiny_bundle):
    clock = SimClock()
    arm = VirtualArm(dataclasses.replace(ARM, watchdog_ms=60_000), now_s=clock())
    server = ArmServer.on_pty(arm, clock=clock).start()
    link = ArmLink.open(server.port, timeout_s=5.0, clock=clock)
    bundle = load_bundle(tiny_bundle.path)
    m = bundle.manifest
    cams = {name: ClockCamera(name, shape, clock) for name, shape in CAMERAS.items()}
    period_s = 1.0 / m.rate_hz

    def make_loop(policy=None, executor=None):
        policy = policy or open_backend(bundle, "onnx", "fp32")
        safety = SafetyFilter(SafetyLimits.from_bundle_and_arm(m, link.info, period_s), period_s)
        return ControlLoop(bundle=bundle, policy=policy, link=link, cameras=cams,
                           preprocessors={c.name: make_preprocessor(c) for c in m.cameras},
                           executor=executor or make_executor("replan", m.chunk.length, m.chunk.replan_every),
                           safety=safety, config=LoopConfig(m.rate_hz), clock=clock)

    def tick(loop):
        clock.advance(period_s)
        server.step_now()
        before = link.stats.states_received
        result = loop.step()
        assert link.wait_reply(before, 2.0), "the controller did not answer the tick"
        return result

    yield dict(make_loop=make_loop, tick=tick, arm=arm, cams=cams, link=link, clock=clock, server=server,
               period_s=period_s)
    link.close()
    server.close()


def _embedding(seed):
    e = np.random.default_rng(seed).standard_normal(E).astype(np.float32)
    return e / np.linalg.norm(e)


def test_chunks_are_consumed_k_at_a_time_and_an_instruction_change_replans_at_once(rig):
    loop = rig["make_loop"]()
    loop.set_instruction("touch the red block", _embedding(1))
    results = [rig["tick"](loop) for _ in range(12)]
    # The handshake's STATE is fresh at tick 0; a chunk (T = 4) is inferred every replan_every = 2 ticks.
    inferred = [r.step for r in results if r.inferred]
    assert inferred == [0, 2, 4, 6, 8, 10]
    assert all(not r.held and r.command is not None for r in results)
    loop.set_instruction("touch the blue block", _embedding(2))  # mid-chunk: the queue is dropped
    r = rig["tick"](loop)
    assert r.inferred and not r.held  # replanned on the very next tick with the new instruction
    assert loop.set_instruction("touch the blue block", _embedding(2)) is False  # same text: nothing flushed
    assert not rig["tick"](loop).inferred


def test_a_stale_camera_holds_the_last_safe_command_and_recovers(rig):
    loop = rig["make_loop"]()
    loop.set_instruction("touch the red block", _embedding(1))
    for _ in range(6):
        last = rig["tick"](loop)
    rig["cams"]["wrist"].freeze()
    held = [rig["tick"](loop) for _ in range(15)]  # 0.75 s at 20 Hz: older than the 0.5 s limit after 10 ticks
    stale = [r for r in held if r.held]
    assert stale and all(r.reason.startswith("stale camera wrist") for r in stale)
    for r in stale:  # holding = the last command sent before, never a new policy action
        np.testing.assert_allclose(r.command, stale[0].command)
    rig["cams"]["wrist"].frozen_at = None
    assert not rig["tick"](loop).held
    assert last.command is not None


def test_non_finite_policy_output_is_never_sent_the_arm_holds_and_the_fault_is_counted(rig, tiny_bundle):
    bundle = load_bundle(tiny_bundle.path)
    loop = rig["make_loop"](policy=NaNAfter(open_backend(bundle, "onnx", "fp32"), n=2))
    loop.set_instruction("touch the red block", _embedding(1))
    results = [rig["tick"](loop) for _ in range(30)]
    assert loop.ledger.faults["non-finite policy output"] >= 1
    assert any(r.held for r in results[6:])
    sent = [rec.command.target for rec in rig["arm"].command_log]
    assert sent and np.all(np.isfinite(sent))


def test_the_arm_only_ever_receives_commands_inside_its_limits(rig, tiny_bundle):
    class Wild:
        """Actions far outside every limit, alternating sign: the safety filter must contain them."""

        def __init__(self):
            self.k = 0

        def infer(self, images, state, instruction):
            self.k += 1
            return np.full((4, 4), 50.0 * (-1) ** self.k, np.float32)

    loop = rig["make_loop"](policy=Wild())
    loop.set_instruction("touch the red block", _embedding(3))
    for _ in range(60):
        rig["tick"](loop)
    arm = rig["arm"]
    assert arm.commands_received > 50 and arm.commands_rejected == 0
    lo = np.array([j.pos_min for j in ARM.joints])
    hi = np.array([j.pos_max for j in ARM.joints])
    targets = np.array([rec.command.target for rec in arm.command_log])
    assert np.all(targets >= lo - 1e-6) and np.all(targets <= hi + 1e-6)
    steps = np.abs(np.diff(targets, axis=0))
    vmax = np.array([j.vel_max for j in ARM.joints])
    assert np.all(steps <= vmax / 20.0 + 1e-6)  # never more than vel_max per tick at 20 Hz
    assert sum(loop.safety.clamp_counts.values()) > 0


def test_after_a_restart_the_loop_waits_for_a_state_taken_after_it(rig):
    """A teleport between episodes (or an arm moved by hand): the newest STATE still shows the old pose, and a
    command computed from it would drag the arm back. The first tick after restart() holds for a new state."""
    loop = rig["make_loop"]()
    loop.set_instruction("touch the red block", _embedding(1))
    for _ in range(5):
        rig["tick"](loop)
    moved = np.array([1.0, -1.0, 0.5, 0.04])
    rig["arm"].reset(moved)
    loop.restart()
    first = rig["tick"](loop)
    assert first.held and first.reason == "waiting for a state after restart" and first.command is None
    second = rig["tick"](loop)
    assert second.command is not None
    step = np.array([j.vel_max for j in ARM.joints]) / 20.0  # the ramp starts from the measured pose
    assert np.all(np.abs(second.command - moved) <= step + 1e-6)


class SlowReplies:
    """Every reply of the rig's controller delayed by delay_s of simulated time (fault_injection on the bytes to
    the host), and `tick` as the rig's, except that it waits for the replies that are due, not for the tick's."""

    def __init__(self, rig, delay_s: float):
        self.rig, self.cable = rig, FaultInjection(delay_ms=1e3 * delay_s)
        self.base_bytes = rig["link"].decoder.stats.bytes  # the rig's ticks have read every undelayed reply
        rig["server"].faults_out = self.cable

    def deliver(self) -> None:
        """Let the server write every reply now due and the host read it (real time, bounded)."""
        link, clock, cable = self.rig["link"], self.rig["clock"], self.cable
        deadline = time.monotonic() + 5.0
        while not ((cable.next_due_s() is None or cable.next_due_s() > clock())
                   and link.decoder.stats.bytes - self.base_bytes == cable.stats.bytes_out):
            assert time.monotonic() < deadline, "the delayed replies were not delivered"
            link.poll()
            time.sleep(0.001)

    def tick(self, loop, advance: bool = True):
        if advance:
            self.rig["clock"].advance(self.rig["period_s"])
        self.rig["server"].step_now()
        self.deliver()
        return loop.step()

    def answered(self, count: int) -> None:
        """Wait (real time) until the controller has sent `count` replies since the delay began (each on its way)."""
        deadline = time.monotonic() + 5.0
        while self.cable.stats.chunks < count:
            assert time.monotonic() < deadline, "the controller did not answer"
            time.sleep(0.001)


def test_a_state_taken_before_a_restart_is_not_used_after_it_even_when_it_arrives_later(rig):
    """A reply on its way while the arm is moved under the loop (a world's reset, a hand guide) arrives after
    restart() but shows the old pose: the loop waits for a state the controller took after the restart, however
    the replies are delayed (issue 16's fault matrix: commands computed from a pre-reset state in its delay
    phase). Counting the states that arrived since the restart took the old one."""
    loop, arm, link, clock = rig["make_loop"](), rig["arm"], rig["link"], rig["clock"]
    loop.set_instruction("touch the red block", _embedding(1))
    for _ in range(5):
        rig["tick"](loop)
    old, new = np.array([1.0, -1.0, 0.5, 0.04]), np.array([-1.0, 1.0, -0.5, 0.02])
    arm.reset(old)
    loop.restart()  # moved by hand: the loop holds, sending HEARTBEATs, until a state taken after this
    slow = SlowReplies(rig, delay_s=0.1)
    first = slow.tick(loop)
    assert first.reason == "waiting for a state after restart" and first.command is None
    slow.answered(1)  # the controller took its answer (the arm at `old`): 100 ms on its way to the host
    clock.advance(0.01)
    arm.reset(new)
    loop.restart()  # moved again while that answer is on its way
    clock.advance(0.1)
    slow.deliver()
    np.testing.assert_allclose(link.latest_state.position, old, atol=1e-6)  # it arrived after the restart
    results = [slow.tick(loop, advance=False)] + [slow.tick(loop) for _ in range(8)]
    assert results[0].command is None and results[0].reason == "waiting for a state after restart"
    acted = [r for r in results if r.measured is not None]
    assert acted and all(np.abs(r.measured - new).max() < 1e-6 for r in acted)
    first_command = next(r.command for r in results if r.command is not None)
    step = np.array([j.vel_max for j in ARM.joints]) / 20.0  # the ramp starts from the pose after the restart
    assert np.all(np.abs(first_command - new) <= step + 1e-6)


def test_replies_that_arrive_later_than_the_state_age_limit_are_never_acted_on(rig):
    """Freshness is when the controller took a state, not when it arrived: with every reply 0.4 s on its way (a
    stalled host reading a full buffer, a queue in an adapter), no policy action is computed from one, however
    new it looks on arrival (issue 16's fault matrix: a command computed from a state older than a fault latched
    on the controller). The arm holds its last command, saying why."""
    loop, link = rig["make_loop"](), rig["link"]
    loop.set_instruction("touch the red block", _embedding(1))
    for _ in range(5):
        assert not rig["tick"](loop).held
    slow = SlowReplies(rig, delay_s=0.4)
    before = link.stats.states_received
    results = [slow.tick(loop) for _ in range(20)]  # 1 s at 20 Hz
    assert link.stats.states_received - before >= 5  # the late replies did arrive and were read
    late = results[5:]  # from 0.3 s on, the newest state was taken more than max_state_age_s (0.25 s) ago
    assert all(r.held and r.reason == "no fresh arm state" and r.predicted is None for r in late), \
        [(r.step, r.reason) for r in late]
    assert all(r.command is not None for r in late)  # the hold is the last safe command, re-sent


def test_a_new_episode_replans_even_for_the_same_text_and_counts_its_own_steps(rig):
    """What a driver (Session, evaluate) calls between episodes: the same instruction for a new layout still starts
    a fresh plan from a state taken after it; the instruction in force can only be changed through the loop."""
    loop = rig["make_loop"]()
    loop.new_episode("  touch the red   block ", _embedding(1), arm_moved=False)  # normalised once, here
    assert loop.instruction == "touch the red block"
    first = [rig["tick"](loop) for _ in range(3)]
    assert [r.inferred for r in first] == [True, False, True] and loop.episode_steps == 3
    with pytest.raises(AttributeError):
        loop.instruction = None  # no more forcing a replan from outside
    loop.new_episode("touch the red block", _embedding(1))
    assert loop.episode_steps == 0
    held = rig["tick"](loop)
    assert held.held and held.reason == "waiting for a state after restart"  # restarted: the old state is not used
    fresh = rig["tick"](loop)
    assert fresh.inferred and not fresh.held and loop.episode_steps == 2
    with pytest.raises(ValueError, match="instruction is empty"):
        loop.new_episode("   ", _embedding(1))
    assert loop.instruction == "touch the red block"


def test_hold_sends_the_last_safe_command_and_waits_for_its_answer(rig):
    loop = rig["make_loop"]()
    assert loop.hold() is None  # nothing known to hold yet: nothing is sent
    loop.set_instruction("touch the red block", _embedding(1))
    for _ in range(4):
        last = rig["tick"](loop)
    sent = rig["arm"].commands_received
    held = loop.hold("stopping")
    assert held is not None and rig["arm"].commands_received == sent + 1
    np.testing.assert_allclose(held, last.command)  # joint_position: the last target, not a new action
    np.testing.assert_allclose(rig["arm"].command_log[-1].command.target, held)
    assert rig["link"].wait_reply(None, 0.0)  # already answered: nothing pending
