"""The safety filter: pure limit functions, limits built from a bundle and an arm, and the stateful filter
(ramp-in, NaN/Inf holds, per-mode hold semantics, velocity/acceleration bounds over long random sequences)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bundle_factory import ARM, base_manifest
from vla_lite.bundle.manifest import Manifest
from vla_lite.firmware_bridge.arm_config import ArmConfig
from vla_lite.firmware_bridge.protocol import JointInfo, Mode, Unit
from vla_lite.safety import (ActionMode, SafetyFilter, SafetyLimits, brake_speed, clamp_to_limits,
                             limit_step, limit_velocity_acceleration)

DT = 0.02  # s, a 50 Hz loop
EPS = 1e-9
NAMES = ("a", "b", "c")


def manifest(mode="joint_position", **action) -> Manifest:
    d = copy.deepcopy(base_manifest())
    d["members"] = {}
    if mode == "joint_velocity":
        d["action"].update(mode=mode, units=["rad/s", "rad/s", "rad/s", "m/s"], low=[-5, -1, -5, -0.5],
                           high=[5, 1.5, 5, 0.5])
    elif mode == "ee_delta":
        d["action"] = {"mode": mode, "dim": 4, "names": ["dx", "dy", "dz", "grip"], "units": ["m", "m", "m", "1"],
                       "low": [-0.01, -0.01, -0.02, -2.0], "high": [0.01, 0.01, 0.02, 0.5]}
        d["normalization"]["action"] = {k: v[:4] for k, v in d["normalization"]["action"].items()}
    d["action"].update(action)
    return Manifest.from_dict(d)


def position_limits(max_step=0.05, vel=2.0, acc=10.0, low=-1.0, high=1.0) -> SafetyLimits:
    n = len(NAMES)
    return SafetyLimits(ActionMode.JOINT_POSITION, NAMES, [low] * n, [high] * n, [max_step] * n, [vel] * n,
                        [acc] * n)


def velocities(commands, start, dt=DT):
    return np.diff(np.vstack([start, commands]), axis=0) / dt


# --- pure functions -------------------------------------------------------------------------------------------

def test_clamp_and_step_return_what_is_sent():
    assert clamp_to_limits([-5, 0.5, 7], [-1, -1, -1], [1, 1, 2]).tolist() == [-1, 0.5, 2]
    out = limit_step([1.0, -1.0, 0.01], [0.0, 0.0, 0.0], [0.1, 0.2, 0.1])
    np.testing.assert_allclose(out, [0.1, -0.2, 0.01])
    assert out.dtype == np.float64


def test_brake_speed_stops_exactly_within_the_distance():
    a, dt = 10.0, DT
    for dist in [0.0, 1e-4, 0.003, 0.004, 0.05, 0.7, 3.0]:
        v = float(brake_speed(dist, a, dt))
        covered, speed = 0.0, v
        while speed > 1e-12:
            covered += speed * dt
            speed -= a * dt
        assert covered == pytest.approx(dist, abs=1e-9)
        faster, covered = v * 1.01 + 1e-6, 0.0  # any faster start overshoots
        while faster > 0:
            covered += faster * dt
            faster -= a * dt
        assert covered > dist


def test_velocity_acceleration_profile_to_a_far_target_lands_without_overshoot():
    prev, v0, cmds = np.zeros(1), np.zeros(1), []
    for _ in range(200):
        cmd = limit_velocity_acceleration([1.0], prev, v0, DT, [2.0], [10.0])
        v = (cmd - prev) / DT
        assert abs(v[0]) <= 2.0 + EPS and abs(v[0] - v0[0]) <= 10.0 * DT + EPS
        prev, v0 = cmd, v
        cmds.append(cmd[0])
    assert cmds[0] == pytest.approx(10.0 * DT * DT)  # starts from rest at acc_max
    assert max(cmds) <= 1.0 and cmds[-1] == 1.0  # lands exactly, never passes
    assert np.all(np.diff(cmds) >= 0)
    assert cmds.index(1.0) < 40  # 2 rad/s, 10 rad/s²: ~0.7 s


def test_velocity_acceleration_brakes_for_limits_when_the_target_reverses():
    # Moving at full speed toward high; the target jumps beyond the limit: the command stops at the limit.
    prev, v0 = np.array([0.0]), np.array([2.0])
    for _ in range(100):
        cmd = limit_velocity_acceleration([5.0], prev, v0, DT, [2.0], [10.0], low=[-1.0], high=[0.5])
        v = (cmd - prev) / DT
        assert abs(v[0] - v0[0]) <= 10.0 * DT + EPS and cmd[0] <= 0.5  # slows in time, no hard stop
        prev, v0 = cmd, v
    assert prev[0] == pytest.approx(0.5)


def test_period_must_be_positive():
    with pytest.raises(ValueError, match="period_s"):
        limit_velocity_acceleration([1.0], [0.0], [0.0], 0.0, [1.0], [1.0])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), period_s=st.sampled_from([0.002, 0.01, 0.02, 0.05]),
       jumpy=st.booleans())
def test_filter_keeps_velocity_and_acceleration_bounds_over_long_random_sequences(seed, period_s, jumpy):
    rng = np.random.default_rng(seed)
    vel, acc = rng.uniform(0.2, 3.0, 3), rng.uniform(1.0, 30.0, 3)
    lim = SafetyLimits("joint_position", NAMES, [-1.0] * 3, [1.0] * 3, vel * period_s * rng.uniform(0.3, 1.5, 3),
                       vel, acc)
    f = SafetyFilter(lim, period_s, ramp_s=float(rng.uniform(0, 0.5)))
    prev = rng.uniform(-0.9, 0.9, 3)
    f.start(prev)
    v_prev = np.zeros(3)
    target = rng.uniform(-1.5, 1.5, 3)
    for k in range(1, 401):
        if jumpy or rng.random() < 0.05:
            target = rng.uniform(-1.5, 1.5, 3)  # beyond the limits too
        else:
            target = target + rng.normal(0, 0.02, 3)
        cmd = f.filter(target, prev).command
        v = (cmd - prev) / period_s
        step_cap = lim.max_step * (min(1.0, k * period_s / f.ramp_s) if f.ramp_s else 1.0)  # the ramp-in
        assert np.all(np.abs(v) <= np.minimum(vel, lim.max_step / period_s) * (1 + 1e-9) + EPS)
        assert np.all(np.abs(v - v_prev) <= acc * period_s * (1 + 1e-9) + EPS)
        assert np.all(np.abs(cmd - prev) <= step_cap + EPS)
        assert np.all(cmd >= -1.0) and np.all(cmd <= 1.0)
        prev, v_prev = cmd, v


# --- limits from a bundle and an arm -------------------------------------------------------------------------

def test_position_limits_intersect_bundle_and_controller():
    m = manifest(low=[-3.5, -2.0, -3.0, 0.01], high=[2.5, 3.5, 3.0, 0.2])
    lim = SafetyLimits.from_bundle_and_arm(m, ARM, DT)
    assert lim.mode is ActionMode.JOINT_POSITION and lim.names == m.action.names
    np.testing.assert_allclose(lim.low, [-3.0, -2.0, -3.0, 0.01])  # the arm's joints are ±3 rad, gripper 0..0.08
    np.testing.assert_allclose(lim.high, [2.5, 3.0, 3.0, 0.08])
    np.testing.assert_allclose(lim.max_step, [2.0 * DT] * 3 + [0.2 * DT])  # vel_max·period
    np.testing.assert_allclose(lim.acc_max, [20.0] * 3 + [4.0])  # 2 x acc_max: a bound, not a second profile
    exact = SafetyLimits.from_bundle_and_arm(m, ARM, DT, acc_margin=1.0)
    np.testing.assert_allclose(exact.acc_max, [10.0] * 3 + [2.0])
    with pytest.raises(ValueError, match="acc_margin"):
        SafetyLimits.from_bundle_and_arm(m, ARM, DT, acc_margin=0.5)
    tight = SafetyLimits.from_bundle_and_arm(m, ARM, DT, max_step=0.01, speed_scale=0.5)
    np.testing.assert_allclose(tight.max_step, [0.01] * 3 + [0.1 * DT])
    np.testing.assert_allclose(tight.vel_max, [1.0] * 3 + [0.1])


def test_velocity_and_ee_delta_limits():
    lim = SafetyLimits.from_bundle_and_arm(manifest("joint_velocity"), ARM, DT)
    np.testing.assert_allclose(lim.low, [-2.0, -1.0, -2.0, -0.2])  # ±vel_max ∩ bundle
    np.testing.assert_allclose(lim.high, [2.0, 1.5, 2.0, 0.2])
    np.testing.assert_allclose(lim.max_step, [10.0 * DT] * 3 + [2.0 * DT])  # acc_max·period
    np.testing.assert_allclose(lim.pos_high, [3.0, 3.0, 3.0, 0.08])
    ee = SafetyLimits.from_bundle_and_arm(manifest("ee_delta"), ARM, DT)
    np.testing.assert_allclose(ee.low, [-0.01, -0.01, -0.02, -1.0])  # gripper within [-1, 1]
    np.testing.assert_allclose(ee.high, [0.01, 0.01, 0.02, 0.5])
    assert ee.gripper == 3 and np.isinf(ee.max_step).all()


def test_limits_refuse_bad_combinations_naming_the_value():
    with pytest.raises(ValueError, match="'elbow'.*do not overlap"):
        SafetyLimits.from_bundle_and_arm(manifest(low=[-3, -3, 3.1, 0.0], high=[3, 3, 3.5, 0.08]), ARM, DT)
    other = ArmConfig("other", ARM.joints[:3] + (JointInfo("claw", Unit.M, 0, 0.1, 1, 1, 1),))
    with pytest.raises(ValueError, match=r"\['gripper'\] are not joints"):
        SafetyLimits.from_bundle_and_arm(manifest(), other, DT)
    broken = ArmConfig("broken", ARM.joints[:3] + (JointInfo("gripper", Unit.M, 0, 0.08, float("nan"), 2, 40),))
    with pytest.raises(ValueError, match="'gripper' has unusable limits"):
        SafetyLimits.from_bundle_and_arm(manifest(), broken, DT)
    with pytest.raises(ValueError, match="period_s"):
        SafetyLimits.from_bundle_and_arm(manifest(), ARM, -0.02)
    with pytest.raises(ValueError, match="speed_scale"):
        SafetyLimits.from_bundle_and_arm(manifest(), ARM, DT, speed_scale=1.5)
    with pytest.raises(ValueError, match="max_step must hold 4"):
        SafetyLimits.from_bundle_and_arm(manifest(), ARM, DT, max_step=[0.1, 0.1])


@pytest.mark.parametrize("change, message", [
    ({"low": [0.0, float("nan"), 0.0]}, "low is NaN for \\['b'\\]"),
    ({"high": [1.0, np.inf, 1.0]}, "high must be finite"),
    ({"low": [0.0, 2.0, 0.0]}, "'b': low 2 > high 1, an empty range"),
    ({"acc_max": [1.0, 0.0, 1.0]}, "acc_max must be > 0"),
    ({"vel_max": [1.0, np.inf, 1.0]}, "vel_max must be finite"),
    ({"names": ()}, "at least one action dimension"),
    ({"max_step": [0.1, 0.1]}, "max_step must hold 3"),
    ({"mode": "cartesian"}, "mode is 'cartesian'"),
])
def test_safety_limits_validate(change, message):
    base = dict(mode="joint_position", names=NAMES, low=[0.0] * 3, high=[1.0] * 3, max_step=[0.1] * 3,
                vel_max=[1.0] * 3, acc_max=[1.0] * 3)
    with pytest.raises(ValueError, match=message):
        SafetyLimits(**{**base, **change})


# --- the filter ----------------------------------------------------------------------------------------------

def test_ramp_in_from_a_far_measured_position_never_exceeds_the_growing_step_limit():
    lim, ramp_s = position_limits(max_step=0.04), 0.5
    f = SafetyFilter(lim, DT, ramp_s=ramp_s)
    measured = np.array([-0.9, 0.9, 0.0])
    f.start(measured)
    prev, saw_ramp = measured, False
    for k in range(1, 100):
        r = f.filter(np.array([0.9, -0.9, 0.5]), prev)
        allowed = 0.04 * min(1.0, k * DT / ramp_s)
        assert np.all(np.abs(r.command - prev) <= allowed + EPS), k
        saw_ramp |= "ramp" in r.clamped
        prev = r.command
    assert saw_ramp
    np.testing.assert_allclose(prev, [0.9, -0.9, 0.5])  # it gets there


def test_start_outside_the_bundle_range_moves_inward_without_a_jump():
    f = SafetyFilter(position_limits(low=-0.5, high=0.5), DT, ramp_s=0.0)
    f.start([0.9, -0.9, 0.0])
    first = f.filter(np.zeros(3), np.zeros(3)).command
    assert np.all(np.abs(first - [0.9, -0.9, 0.0]) <= 10.0 * DT * DT + EPS)  # one tick at acc_max from rest


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_target_or_measured_holds_and_resumes_within_limits(bad):
    lim = position_limits()
    f = SafetyFilter(lim, DT, ramp_s=0.0)
    f.start(np.zeros(3))
    for _ in range(15):  # still moving at speed when the bad value comes
        last = f.filter(np.array([0.8, 0.8, 0.8]), np.zeros(3)).command
    r = f.filter(np.array([0.8, bad, 0.8]), np.zeros(3))
    assert r.held and r.fault and "'b'" in r.fault and np.array_equal(r.command, last)
    r = f.filter(np.array([0.8, 0.8, 0.8]), np.array([0.0, bad, 0.0]))
    assert r.held and "measured" in r.fault and np.array_equal(r.command, last)
    assert np.isfinite(r.command).all()
    resumed = f.filter(np.array([0.8, 0.8, 0.8]), np.zeros(3))
    assert not resumed.held and resumed.fault is None
    # after a hold the command stands still: the next one starts from rest, within acc_max·period per tick
    assert np.all(np.abs(resumed.command - last) <= 10.0 * DT * DT + EPS)


def test_hold_semantics_joint_position():
    f = SafetyFilter(position_limits(), DT)
    assert f.hold("no state").command is None  # before start, nothing measured: nothing to send
    assert f.hold("no state", measured=[0.1, 0.2, 0.3]).command.tolist() == [0.1, 0.2, 0.3]
    f.start([0.3, 0.2, 0.1])
    r = f.hold("stale camera")
    assert r.held and r.reason == "stale camera" and r.fault is None and r.command.tolist() == [0.3, 0.2, 0.1]
    sent = f.filter(np.array([1.0, 1.0, 1.0]), np.zeros(3)).command
    np.testing.assert_array_equal(f.hold("no action queued").command, sent)
    f.forget()  # the arm was moved (new episode): the old command is no hold, nothing is until a new start()
    assert f.hold("no state").command is None
    assert f.hold("no state", measured=[0.5, 0.5, 0.5]).command.tolist() == [0.5, 0.5, 0.5]


def test_hold_semantics_joint_velocity_decelerates_to_zero():
    lim = SafetyLimits.from_bundle_and_arm(manifest("joint_velocity"), ARM, DT)
    f = SafetyFilter(lim, DT, ramp_s=0.0)
    q = np.zeros(4)
    np.testing.assert_array_equal(f.hold("before start").command, np.zeros(4))  # zero velocity is always safe
    f.start(q)
    for _ in range(40):
        v = f.filter(np.array([1.5, -1.0, 2.0, 0.1]), q).command
    np.testing.assert_allclose(v, [1.5, -1.0, 2.0, 0.1])
    prev = v
    for _ in range(40):
        held = f.hold("no action queued").command
        assert np.all(np.abs(held - prev) <= lim.max_step + EPS)
        prev = held
    np.testing.assert_array_equal(prev, np.zeros(4))


def test_joint_velocity_brakes_before_the_position_limits():
    lim = SafetyLimits.from_bundle_and_arm(manifest("joint_velocity"), ARM, DT)
    f = SafetyFilter(lim, DT, ramp_s=0.0)
    q = np.array([2.0, 0.0, -2.0, 0.04])
    f.start(q)
    braked = False
    for _ in range(300):  # the policy keeps pushing into the limits; the arm tracks the command exactly
        r = f.filter(np.array([2.0, 0.0, -2.0, 0.2]), q)
        braked |= "braking" in r.clamped
        q = q + r.command * DT
        assert np.all(q <= lim.pos_high + 1e-9) and np.all(q >= lim.pos_low - 1e-9)
    assert braked
    np.testing.assert_allclose(q[[0, 2, 3]], [3.0, -3.0, 0.08], atol=1e-6)  # it still gets to the limit


def test_ee_delta_bounds_ramp_and_hold():
    lim = SafetyLimits.from_bundle_and_arm(manifest("ee_delta"), ARM, DT)
    f = SafetyFilter(lim, DT, ramp_s=10 * DT)
    f.start(None)
    assert f.hold("nothing sent yet").command is None  # gripper unknown: nothing safe to send
    r = f.filter(np.array([0.05, -0.005, 0.0, -3.0]), None)
    np.testing.assert_allclose(r.command, [0.001, -0.001, 0.0, -1.0])  # motion at 1/10 of the bounds, gripper not
    assert r.clamped == {"range": ("grip",), "ramp": ("dx", "dy")}
    for _ in range(12):
        r = f.filter(np.array([0.05, -0.005, 0.0, 0.3]), None)
    np.testing.assert_allclose(r.command, [0.01, -0.005, 0.0, 0.3])
    np.testing.assert_array_equal(f.hold("stale camera").command, [0.0, 0.0, 0.0, 0.3])  # stop, gripper unchanged



def test_ee_delta_command_never_rounds_past_its_bound():
    """prev + (target - prev) is not target in floating point: -0.00997 then 0.01 gave 0.010000000000000002,
    which the Meta-World controller refuses as out of range."""
    lim = SafetyLimits(ActionMode.EE_DELTA, ("dx", "dy", "dz", "grip"), [-0.01] * 3 + [-1.0], [0.01] * 3 + [1.0],
                       np.inf, np.inf, np.inf, gripper=3)
    f = SafetyFilter(lim, DT, ramp_s=0.0)
    f.start(None)
    f.filter(np.array([-0.00997, 0.0, 0.0, 0.0]), None)
    r = f.filter(np.array([0.01, 0.0, 0.0, 0.0]), None)
    assert r.command[0] == 0.01 and not r.held

def test_filter_reports_clamps_by_kind_and_dimension():
    f = SafetyFilter(position_limits(max_step=0.01), DT, ramp_s=0.0)
    f.start(np.zeros(3))
    for _ in range(20):
        r = f.filter(np.array([2.0, 0.0, 0.001]), np.zeros(3))
    assert r.clamped == {"range": ("a",), "step": ("a",)}
    assert f.clamp_counts["range a"] == 20 and f.clamp_counts["step a"] > 10 and f.clamp_counts["range c"] == 0


def test_filter_refuses_misuse():
    f = SafetyFilter(position_limits(), DT)
    with pytest.raises(RuntimeError, match="before start"):
        f.filter(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="measured position is not finite"):
        f.start([0.0, np.nan, 0.0])
    f.start(np.zeros(3))
    with pytest.raises(ValueError, match=r"target must have shape \(3,\)"):
        f.filter(np.zeros(4), np.zeros(3))
    for bad in [0.0, float("nan")]:
        with pytest.raises(ValueError, match="period_s"):
            SafetyFilter(position_limits(), bad)
    with pytest.raises(ValueError, match="ramp_s"):
        SafetyFilter(position_limits(), DT, ramp_s=-1.0)


def test_limits_are_read_only():
    lim = position_limits()
    with pytest.raises(ValueError):
        lim.low[0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        lim.mode = ActionMode.EE_DELTA
    assert Mode.JOINT_POSITION.name.lower() == lim.mode.value  # the loop maps manifest modes onto protocol modes
