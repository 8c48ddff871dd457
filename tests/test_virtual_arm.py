"""The virtual arm controller as pure logic with fake time: PROTOCOL.md §3 behaviour, joint dynamics, refusals,
watchdog, latching, ESTOP, handshake refusal."""

import dataclasses
import math

import numpy as np
import pytest

from vla_lite.firmware_bridge import protocol as p
from vla_lite.firmware_bridge.arm_config import ArmConfig, default_arm
from vla_lite.firmware_bridge.virtual_arm import CartesianKinematics, VirtualArm

CFG = default_arm()  # 6 revolute joints (±3 rad, 2 rad/s, 10 rad/s²) + gripper (0..0.08 m, 0.2 m/s, 2 m/s²)
N = len(CFG.joints)
VEL_MAX = np.array([j.vel_max for j in CFG.joints])
ACC_MAX = np.array([j.acc_max for j in CFG.joints])
EFFORT_MAX = np.array([j.effort_max for j in CFG.joints])
S, F, LC = p.Status, p.Fault, p.LogCode
QUIET = dataclasses.replace(CFG, watchdog_ms=60_000, torque_off_ms=0)  # dynamics tests: no watchdog in the way


def linked(config=CFG, t=0.0, **kwargs) -> VirtualArm:
    arm = VirtualArm(config, now_s=t, **kwargs)
    replies = arm.handle(p.Packet(1, p.Hello()), t)
    assert [type(m) for m in replies] == [p.HelloAck, p.State]
    return arm


def command(arm, seq, target, t, mode=p.Mode.JOINT_POSITION, valid_ms=0):
    return arm.handle(p.Packet(seq, p.Command(mode, tuple(float(x) for x in target), valid_ms)), t)


def trace(arm, t0, t1, dt=1e-3):
    """Step from t0 to t1 in dt increments; returns times, positions (T, N), velocities, efforts, messages."""
    ts = t0 + dt * np.arange(1, int(round((t1 - t0) / dt)) + 1)
    pos, vel, eff, msgs = [], [], [], []
    for t in ts:
        msgs += arm.step(float(t))
        st = arm.state()
        pos.append(st.position), vel.append(st.velocity), eff.append(st.effort)
    return ts, np.array(pos), np.array(vel), np.array(eff), msgs


def refused_with(replies, code):
    assert [type(m) for m in replies] == [p.Log, p.State], replies
    log, st = replies
    assert log.code == code, log
    assert st.status & S.REJECTED
    return log, st


# --- handshake --------------------------------------------------------------------------------------------

def test_hello_is_answered_with_hello_ack_then_state():
    arm = VirtualArm(CFG)
    assert not arm.state().status & S.LINKED
    ack, st = arm.handle(p.Packet(1, p.Hello(p.SCHEMA_HASH, "test")), 0.0)
    assert ack == CFG.hello_ack()  # default arm: JOINT_POSITION and JOINT_VELOCITY, no EE_DELTA
    assert p.Mode.EE_DELTA not in ack.modes
    assert st.status == S.ENABLED | S.HOLDING | S.LINKED and st.faults == 0 and st.ack_seq == 0
    assert st.position == (0.0,) * N


def test_foreign_major_hello_gets_our_ack_and_a_log_and_commands_are_refused():
    # The real bytes of a protocol-2 HELLO, through the real decoder.
    (pkt,) = p.Decoder().feed(p.encode(p.Hello(), 1, major=2, minor=3))
    assert isinstance(pkt.msg, p.ForeignVersion)
    arm = VirtualArm(CFG)
    ack, log, st = arm.handle(pkt, 0.0)
    assert ack == CFG.hello_ack() and ack.schema_hash == p.SCHEMA_HASH
    assert log.code == LC.VERSION_MISMATCH and "2.3" in log.text and "1.0" in log.text
    assert st.faults & F.VERSION and not st.status & S.LINKED
    refused_with(command(arm, 2, np.zeros(N), 0.01), LC.VERSION_MISMATCH)


def test_schema_mismatch_refuses_the_host_until_a_good_hello_and_clear_fault():
    arm = VirtualArm(CFG)
    ack, log, st = arm.handle(p.Packet(1, p.Hello(0x12345678, "old host")), 0.0)
    assert ack.schema_hash == p.SCHEMA_HASH
    assert log.code == LC.SCHEMA_MISMATCH and "0x12345678" in log.text
    assert st.faults & F.VERSION and not st.status & S.LINKED
    refused_with(command(arm, 2, np.zeros(N), 0.01), LC.VERSION_MISMATCH)
    log, st = arm.handle(p.Packet(3, p.ClearFault()), 0.02)
    assert log.code == LC.VERSION_MISMATCH and st.faults & F.VERSION  # the refused host cannot clear it
    # A host of this schema links, but the VERSION fault stays latched until it clears it.
    _, st = arm.handle(p.Packet(4, p.Hello()), 0.03)
    assert st.status & S.LINKED and st.faults & F.VERSION
    refused_with(command(arm, 5, np.zeros(N), 0.04), LC.REFUSED_WHILE_FAULTED)
    (st,) = arm.handle(p.Packet(6, p.ClearFault()), 0.05)
    assert st.faults == 0
    (st,) = command(arm, 7, np.zeros(N), 0.06)
    assert not st.status & S.REJECTED and st.ack_seq == 7


def test_commands_before_any_hello_are_refused():
    arm = VirtualArm(CFG)
    log, st = refused_with(command(arm, 5, np.zeros(N), 0.0), LC.VERSION_MISMATCH)
    assert "HELLO" in log.text and st.ack_seq == 5
    assert arm.commands_received == 1 and arm.commands_rejected == 1
    arm.handle(p.Packet(6, p.Heartbeat()), 0.01)
    assert arm.step(10.0) == [] and arm.state().faults == 0  # traffic from no linked host arms no watchdog


# --- tracking ---------------------------------------------------------------------------------------------

def _trapezoid_time(dist, v, a):
    return dist / v + v / a if dist >= v * v / a else 2 * math.sqrt(dist / a)


def test_position_targets_are_tracked_within_velocity_and_acceleration_limits():
    arm = linked(QUIET)
    target = np.array([1.5, -2.0, 0.3, 0.0, -0.05, 2.9, 0.07])
    (st,) = command(arm, 2, target, 0.0)
    assert st.ack_seq == 2 and not st.status & S.REJECTED
    ts, pos, vel, eff, msgs = trace(arm, 0.0, 2.5)
    assert msgs == []
    assert np.all(np.abs(vel) <= VEL_MAX + 1e-9)
    acc = np.diff(np.vstack([np.zeros(N), vel]), axis=0) / 1e-3
    assert np.all(np.abs(acc) <= ACC_MAX * (1 + 1e-6))
    assert np.all(np.abs(eff) <= EFFORT_MAX + 1e-9)
    # No overshoot: each joint approaches its target monotonically from the start side.
    for j in range(N):
        assert np.all(np.sign(target[j]) * (pos[:, j] - target[j]) <= 1e-9), j
    # Time-optimal within 5 ms of the trapezoid, then exactly on target and still.
    for j in range(N):
        t_min = _trapezoid_time(abs(target[j]), VEL_MAX[j], ACC_MAX[j])
        arrived = ts[np.argmax(np.abs(pos[:, j] - target[j]) < 1e-9)]
        assert abs(arrived - t_min) <= 5e-3, (j, arrived, t_min)
    assert np.array_equal(pos[-1], target) and not vel[-1].any()
    st = arm.state()
    assert not st.status & S.MOVING and not st.status & S.HOLDING  # a valid_ms=0 target is still in force


def test_effort_follows_acceleration_and_vanishes_at_rest():
    arm = linked(QUIET)
    command(arm, 2, [1.0] + [0.0] * (N - 1), 0.0)
    _, _, vel, eff, _ = trace(arm, 0.0, 0.02)
    assert eff[0, 0] == pytest.approx(0.5 * EFFORT_MAX[0])  # full acceleration: half the effort limit
    assert np.all(eff[:, 1:] == 0.0)
    trace(arm, 0.02, 2.0)
    assert arm.state().effort == (0.0,) * N


def test_one_long_step_integrates_the_same_as_many_short_ones():
    a, b = linked(QUIET), linked(QUIET)
    target = [2.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.04]
    command(a, 2, target, 0.0), command(b, 2, target, 0.0)
    trace(a, 0.0, 0.6)
    b.step(0.6)
    np.testing.assert_allclose(a.positions(), b.positions(), atol=1e-9)
    assert 0.3 < b.positions()[0] < 2.0  # mid-motion: the one call did integrate


def test_velocity_command_expiry_decelerates_to_zero_and_holds():
    arm = linked(QUIET)
    (st,) = command(arm, 2, [1.0, -0.5] + [0.0] * (N - 2), 0.0, mode=p.Mode.JOINT_VELOCITY, valid_ms=300)
    assert not st.status & S.REJECTED
    ts, pos, vel, _, _ = trace(arm, 0.0, 0.6)
    i_exp = int(np.searchsorted(ts, 0.3))
    assert vel[i_exp - 1, 0] == pytest.approx(1.0) and vel[i_exp - 1, 1] == pytest.approx(-0.5)
    assert arm.state().status & S.HOLDING
    # Deceleration at acc_max after the expiry: 1.0 rad/s stops in 0.1 s, then nothing moves.
    i_stop = int(np.argmax((ts > 0.3) & (vel[:, 0] == 0.0)))
    assert 0.399 <= ts[i_stop] <= 0.402
    assert np.all(np.abs(np.diff(vel[:, 0])) <= ACC_MAX[0] * 1e-3 * (1 + 1e-6))
    assert np.all(pos[i_stop:] == pos[i_stop])


def test_position_command_expiry_holds_short_of_the_target():
    arm = linked(QUIET)
    command(arm, 2, [3.0] + [0.0] * (N - 1), 0.0, valid_ms=200)
    _, pos, _, _, _ = trace(arm, 0.0, 1.0)
    assert arm.state().status & S.HOLDING
    assert 0.1 < pos[-1, 0] < 0.5  # stopped where the expiry found it (plus braking), far from 3.0
    assert pos[-1, 0] == pos[-300, 0]


def test_velocity_mode_stops_at_the_joint_limit():
    arm = VirtualArm(QUIET, initial_position=np.array([2.9] + [0.0] * (N - 1)))
    arm.handle(p.Packet(1, p.Hello()), 0.0)
    for k in range(10):  # keep commanding full speed toward the limit
        command(arm, 2 + k, [2.0] + [0.0] * (N - 1), 0.1 * k, mode=p.Mode.JOINT_VELOCITY, valid_ms=200)
        _, pos, vel, _, _ = trace(arm, 0.1 * k, 0.1 * (k + 1))
        assert np.all(pos[:, 0] <= 3.0)
        assert np.all(np.abs(np.diff(vel[:, 0])) <= ACC_MAX[0] * 1e-3 * (1 + 1e-6))
    assert arm.positions()[0] == pytest.approx(3.0, abs=1e-6)


# --- refusals ---------------------------------------------------------------------------------------------

GOOD = np.array([0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.02])


@pytest.mark.parametrize("case", [
    dict(target=[0.0, 0.0, 3.5, 0.0, 0.0, 0.0, 0.0], code=LC.TARGET_OUT_OF_LIMITS, words=["elbow", "3.5"]),
    dict(target=[0.0] * 6 + [-0.01], code=LC.TARGET_OUT_OF_LIMITS, words=["gripper", "-0.01"]),
    dict(target=[0.0, float("nan")] + [0.0] * 5, code=LC.TARGET_OUT_OF_LIMITS, words=["shoulder_lift", "nan"]),
    dict(target=[float("inf")] + [0.0] * 6, code=LC.TARGET_OUT_OF_LIMITS, words=["shoulder_pan", "inf"]),
    dict(target=[0.0] * 6, code=LC.BAD_LENGTH, words=["7", "6"]),
    dict(target=[0.0] * 8, code=LC.BAD_LENGTH, words=["7", "8"]),
    dict(target=[0.0, 0.0, 0.0, 1.0], mode=p.Mode.EE_DELTA, valid_ms=100, code=LC.BAD_MODE, words=["mode 3"]),
    dict(target=[0.0] * 7, mode=9, valid_ms=100, code=LC.BAD_MODE, words=["mode 9"]),
    dict(target=[0.0, 0.0, 0.0, 2.5, 0.0, 0.0, 0.0], mode=p.Mode.JOINT_VELOCITY, valid_ms=100,
         code=LC.TARGET_OUT_OF_LIMITS, words=["wrist_1", "2.5"]),
    dict(target=[0.0] * 6 + [-0.3], mode=p.Mode.JOINT_VELOCITY, valid_ms=100, code=LC.TARGET_OUT_OF_LIMITS,
         words=["gripper", "-0.3"]),
    dict(target=[0.1] + [0.0] * 6, mode=p.Mode.JOINT_VELOCITY, valid_ms=0, code=LC.BAD_MODE, words=["valid_ms"]),
], ids=["pos-limit", "gripper-limit", "nan", "inf", "short", "long", "ee-not-offered", "unknown-mode",
        "vel-limit", "gripper-vel", "valid0-velocity"])
def test_refused_commands_leave_the_target_unchanged(case):
    arm = linked(QUIET)
    (st,) = command(arm, 2, GOOD, 0.0)  # a target in force before the bad command
    assert not st.status & S.REJECTED
    replies = command(arm, 3, case["target"], 0.1, mode=case.get("mode", p.Mode.JOINT_POSITION),
                      valid_ms=case.get("valid_ms", 0))
    log, st = refused_with(replies, case["code"])
    for word in case["words"]:
        assert word in log.text, (word, log.text)
    assert log.level == 2 and st.ack_seq == 3
    assert arm.commands_received == 2 and arm.commands_rejected == 1
    trace(arm, 0.1, 1.0)
    np.testing.assert_array_equal(arm.positions(), GOOD)  # still tracking the earlier target
    (st,) = command(arm, 4, np.zeros(N), 1.0)
    assert not st.status & S.REJECTED  # the next good command clears REJECTED
    assert [r.accepted for r in arm.command_log] == [True, False, True]


def test_a_target_exactly_on_the_announced_f32_limit_is_accepted():
    arm = linked()
    lim = [float(np.float32(j.pos_max)) for j in CFG.joints]  # what a host reads from HELLO_ACK
    assert lim[-1] != 0.08  # the gripper limit is not exact in f32
    (st,) = command(arm, 2, lim, 0.0)
    assert not st.status & S.REJECTED


def test_command_log_is_bounded():
    arm = linked(command_log_len=5)
    for k in range(12):
        command(arm, 2 + k, np.zeros(N), 0.001 * k)
    assert len(arm.command_log) == 5 and [r.seq for r in arm.command_log] == list(range(9, 14))
    assert arm.commands_received == 12


# --- watchdog, latching, ESTOP, TORQUE --------------------------------------------------------------------

def test_watchdog_is_armed_only_by_a_command_or_heartbeat_after_hello():
    arm = linked()
    assert arm.step(10.0) == [] and arm.state().faults == 0


def test_watchdog_trips_at_watchdog_ms_not_before_and_torque_goes_off_at_torque_off_ms():
    arm = linked()
    wd_s, off_s = CFG.watchdog_ms / 1000, CFG.torque_off_ms / 1000
    arm.handle(p.Packet(2, p.Heartbeat()), 1.0)
    command(arm, 3, GOOD, 1.05)  # a command restarts the silence window
    assert arm.step(1.05 + wd_s - 1e-3) == [] and arm.state().faults == 0
    log, st = arm.step(1.05 + wd_s)
    assert log.code == LC.WATCHDOG_TRIPPED and log.level == 3 and "100 ms" in log.text
    assert st.faults == F.WATCHDOG and st.status & S.HOLDING and st.status & S.ENABLED and st.ack_seq == 3
    assert arm.step(1.05 + wd_s + 0.5) == []  # latched: reported once
    assert arm.step(1.05 + off_s - 1e-3) == []
    log, st = arm.step(1.05 + off_s)
    assert log.code == LC.TORQUE_OFF
    assert st.faults == F.WATCHDOG | F.TORQUE_OFF and not st.status & S.ENABLED
    assert st.velocity == (0.0,) * N and st.effort == (0.0,) * N


def test_watchdog_trip_decelerates_a_moving_arm_and_holds():
    arm = linked()
    command(arm, 2, [3.0] + [0.0] * (N - 1), 0.0)  # valid_ms 0: only the watchdog stops it
    ts, pos, vel, _, msgs = trace(arm, 0.0, 0.6)
    assert [type(m) for m in msgs] == [p.Log, p.State]
    assert vel[:, 0].max() == pytest.approx(1.0)  # accelerating at 10 rad/s² when the watchdog trips at 0.1 s
    stop = int(np.argmax(vel[:, 0] == 0.0))
    assert 0.199 <= ts[stop] <= 0.202  # braked at acc_max
    assert np.all(np.abs(np.diff(vel[:, 0])) <= ACC_MAX[0] * 1e-3 * (1 + 1e-6))
    assert np.all(pos[stop:, 0] == pos[stop, 0])


def test_an_unprompted_fault_state_comes_before_the_reply_to_the_late_packet():
    arm = linked()
    arm.handle(p.Packet(2, p.Heartbeat()), 0.0)
    out = arm.handle(p.Packet(3, p.Heartbeat()), 0.5)  # the watchdog tripped at 0.1 s on the way
    assert [type(m) for m in out] == [p.Log, p.State, p.State]
    assert out[0].code == LC.WATCHDOG_TRIPPED and out[1].time_us == 100_000 and out[2].time_us == 500_000


def test_latched_faults_survive_commands_and_a_new_hello_until_clear_fault():
    arm = linked()
    arm.handle(p.Packet(2, p.Heartbeat()), 0.0)
    arm.step(2.5)  # watchdog and torque off
    assert arm.state().faults == F.WATCHDOG | F.TORQUE_OFF
    log, _ = refused_with(command(arm, 3, GOOD, 2.6), LC.REFUSED_WHILE_FAULTED)
    assert "WATCHDOG" in log.text and "TORQUE_OFF" in log.text
    _, st = arm.handle(p.Packet(4, p.Hello()), 2.7)
    assert st.faults == F.WATCHDOG | F.TORQUE_OFF and st.status & S.FAULTED
    log, st = arm.handle(p.Packet(5, p.Torque(True)), 2.75)  # torque cannot come back while TORQUE_OFF is latched
    assert log.code == LC.REFUSED_WHILE_FAULTED and not st.status & S.ENABLED
    (st,) = arm.handle(p.Packet(6, p.ClearFault(int(F.WATCHDOG))), 2.8)  # a partial clear
    assert st.faults == F.TORQUE_OFF and not st.status & S.ENABLED
    (st,) = arm.handle(p.Packet(7, p.ClearFault()), 2.9)
    assert st.faults == 0 and st.status & S.ENABLED and st.status & S.HOLDING and not st.status & S.FAULTED
    assert arm.step(2.9 + 0.09) == []  # CLEAR_FAULT restarted the silence window
    (st,) = command(arm, 8, GOOD, 2.95)
    assert not st.status & S.REJECTED


def test_estop_decelerates_at_acc_max_latches_and_refuses_until_cleared():
    arm = linked(QUIET)
    command(arm, 2, [3.0] + [0.0] * (N - 1), 0.0)
    trace(arm, 0.0, 0.25)
    assert arm.state().velocity[0] == pytest.approx(2.0)  # cruising at vel_max
    log, st = arm.handle(p.Packet(10, p.Estop()), 0.25)
    assert log.code == LC.ESTOP
    assert st.status & S.ESTOP and st.faults & F.ESTOP and st.status & S.FAULTED
    ts, pos, vel, _, _ = trace(arm, 0.25, 0.6)
    assert vel[0, 0] == pytest.approx(2.0 - 10.0 * 1e-3)
    stop = int(np.argmax(vel[:, 0] == 0.0))
    assert 0.449 <= ts[stop] <= 0.452  # 2 rad/s at 10 rad/s² stops in 0.2 s
    refused_with(command(arm, 11, GOOD, 0.6), LC.REFUSED_WHILE_FAULTED)
    arm.handle(p.Packet(12, p.Hello()), 0.61)
    assert arm.state().faults & F.ESTOP
    (st,) = arm.handle(p.Packet(13, p.ClearFault()), 0.62)
    assert st.faults == 0 and not st.status & S.ESTOP
    (st,) = command(arm, 14, GOOD, 0.63)
    assert not st.status & S.REJECTED


def test_estop_acts_even_from_a_host_that_never_said_hello():
    arm = VirtualArm(CFG)
    log, st = arm.handle(p.Packet(1, p.Estop()), 0.0)
    assert st.faults == F.ESTOP and log.code == LC.ESTOP


def test_torque_off_makes_the_arm_limp_and_torque_on_holds_the_measured_position():
    arm = linked(QUIET)
    command(arm, 2, [1.0] + [0.0] * (N - 1), 0.0)
    trace(arm, 0.0, 0.2)
    (st,) = arm.handle(p.Packet(3, p.Torque(False)), 0.2)
    assert not st.status & S.ENABLED and st.velocity == (0.0,) * N and st.faults == 0
    here = arm.positions()
    assert 0.0 < here[0] < 1.0
    log, _ = refused_with(command(arm, 4, GOOD, 0.21), LC.REFUSED_WHILE_FAULTED)
    assert "torque" in log.text
    trace(arm, 0.21, 0.4)
    np.testing.assert_array_equal(arm.positions(), here)
    (st,) = arm.handle(p.Packet(5, p.Torque(True)), 0.4)
    assert st.status & S.ENABLED and st.status & S.HOLDING
    (st,) = command(arm, 6, GOOD, 0.41)
    assert not st.status & S.REJECTED


def test_heartbeat_and_other_messages_echo_the_last_command_seq():
    arm = linked()
    command(arm, 41, GOOD, 0.0)
    (st,) = arm.handle(p.Packet(42, p.Heartbeat()), 0.01)
    assert st.ack_seq == 41 and st.time_us == 10_000
    assert arm.handle(p.Packet(43, p.Log(1, 0, "host note")), 0.02) == []  # a LOG from the host needs no reply


# --- reset, positions, kinematics ---------------------------------------------------------------------------

def test_reset_teleports_stops_motion_and_keeps_faults():
    arm = linked(QUIET)
    command(arm, 2, [2.0] + [0.0] * (N - 1), 0.0)
    trace(arm, 0.0, 0.3)
    arm.handle(p.Packet(3, p.Estop()), 0.3)
    start = np.array([-1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.04])
    arm.reset(start)
    st = arm.state()
    assert st.position == tuple(start) and st.velocity == (0.0,) * N and st.faults == F.ESTOP
    arm.step(1.0)
    np.testing.assert_array_equal(arm.positions(), start)
    with pytest.raises(ValueError, match="elbow.*outside"):
        arm.reset([0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        arm.reset(np.zeros(6))


def test_positions_is_a_copy():
    arm = linked()
    p0 = arm.positions()
    p0[:] = 1.0
    assert not arm.positions().any()


def test_bad_configuration_is_refused_by_name():
    bad = dataclasses.replace(CFG, joints=CFG.joints[:1] + (p.JointInfo("x", p.Unit.RAD, 1.0, -1.0, 1, 1, 1),))
    with pytest.raises(ValueError, match="'x'"):
        VirtualArm(bad)
    with pytest.raises(ValueError, match="EE_DELTA"):
        VirtualArm(dataclasses.replace(CFG, modes=CFG.modes + (p.Mode.EE_DELTA,)))
    with pytest.raises(ValueError, match="gripper"):
        VirtualArm(CFG, initial_position=[0.0] * 6 + [0.5])
    with pytest.raises(ValueError, match="watchdog_ms"):
        VirtualArm(dataclasses.replace(CFG, watchdog_ms=0))


GANTRY = ArmConfig("gantry", tuple(p.JointInfo(n, p.Unit.M, lo, hi, 0.5, 5.0, 50.0) for n, lo, hi in (
    ("x", 0.0, 0.6), ("y", -0.3, 0.3), ("z", 0.0, 0.4), ("gripper", 0.0, 0.08))), watchdog_ms=60_000)


def test_ee_delta_is_offered_with_kinematics_and_tracked_as_joint_targets():
    start = np.array([0.3, 0.0, 0.2, 0.08])
    arm = VirtualArm(GANTRY, initial_position=start, kinematics=CartesianKinematics(GANTRY))
    ack, _ = arm.handle(p.Packet(1, p.Hello()), 0.0)
    assert p.Mode.EE_DELTA in ack.modes
    (st,) = command(arm, 2, [0.05, -0.02, -0.1, 1.0], 0.0, mode=p.Mode.EE_DELTA, valid_ms=500)
    assert not st.status & S.REJECTED
    trace(arm, 0.0, 0.45)
    np.testing.assert_allclose(arm.positions(), [0.35, -0.02, 0.1, 0.0], atol=1e-7)  # +1: gripper closed
    log, _ = refused_with(command(arm, 3, [0.0] * 6 + [1.0], 0.5, mode=p.Mode.EE_DELTA, valid_ms=100),
                          LC.TARGET_OUT_OF_LIMITS)
    assert "4 values" in log.text
    log, _ = refused_with(command(arm, 4, [0.0, 0.0, -0.2, 0.0], 0.5, mode=p.Mode.EE_DELTA, valid_ms=100),
                          LC.TARGET_OUT_OF_LIMITS)
    assert "z target" in log.text  # 0.1 - 0.2 m is below the z limit
    refused_with(command(arm, 5, [0.0, 0.0, 0.0], 0.5, mode=p.Mode.EE_DELTA, valid_ms=100), LC.BAD_LENGTH)
    refused_with(command(arm, 6, [0.0, 0.0, 0.0, 0.0], 0.5, mode=p.Mode.EE_DELTA, valid_ms=0), LC.BAD_MODE)


def test_log_texts_fit_the_protocol_even_with_long_joint_names():
    long_name = "a_rather_long_joint_name_from_a_vendor_urdf_" + "x" * 20  # 64 bytes
    cfg = ArmConfig("long", (p.JointInfo(long_name, p.Unit.RAD, -1.0, 1.0, 1.0, 1.0, 1.0),))
    arm = linked(cfg)
    log, _ = refused_with(command(arm, 2, [2.0], 0.0), LC.TARGET_OUT_OF_LIMITS)
    p.encode(log, 1)  # would raise if the text were over 64 bytes
    assert long_name[:30] in log.text
