"""The servo arm adapter (vla_lite.servo_arm) against virtual servo buses on real ptys: what it announces, link
loss and recovery under each torque policy, goal writes withheld while a reply may be on the half-duplex line,
and `vla-lite sim-arm --arm koch` serving a Dynamixel bus."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from servo_fixtures import quick_thread_switches  # noqa: F401  (a fixture)
from servo_run_fixtures import virtual_calibration
from vla_lite.bundle.compat import check_compatible
from vla_lite.bundle.errors import BundleMismatch
from vla_lite.firmware_bridge import protocol as p
from vla_lite.firmware_bridge.servo import ServoBus, load_arm
from vla_lite.firmware_bridge.servo.serve import serve_pty
from vla_lite.firmware_bridge.servo.virtual_bus import Faults
from vla_lite.servo_arm import LINK_LOSS_READS, LINK_LOSS_S, ServoArm, TorquePolicy

TARGET = np.array([0.3, -0.2, 0.1, 0.0, 0.5, 0.9])


def registers(server, name):
    with server.lock:
        return [s.get(name) for s in server.bus.servos]


def eventually(server, name, expected, timeout_s=2.0):
    """The registers once the server has handled what was sent (a sync write gets no reply to wait for)."""
    deadline = time.monotonic() + timeout_s
    while registers(server, name) != expected and time.monotonic() < deadline:
        time.sleep(0.005)
    return registers(server, name)


def lose_link(arm, server):
    with server.lock:
        for servo_id in server.bus.profile.ids:
            server.bus.vanish(servo_id)
    start = time.monotonic()
    reads = 0
    before = arm.latest_state, arm.latest_state_taken_s
    while arm.connected:
        # never a state from a read that missed a servo: the last complete one stays, as old as it is
        assert arm.poll() is None and (arm.latest_state, arm.latest_state_taken_s) == before
        reads += 1
        assert time.monotonic() - start < 10
    assert reads >= LINK_LOSS_READS and time.monotonic() - start >= LINK_LOSS_S
    assert arm.stats.link_faults == 1 and "silent: shoulder_pan" in arm.fault


def next_state(arm, timeout_s=5.0):
    """The next complete reading (a single read may miss a reply on a busy machine: that is a hold, not a state)."""
    deadline = time.monotonic() + timeout_s
    while (st := arm.poll()) is None:
        assert time.monotonic() < deadline, arm.fault
    return st


def restore(server):
    with server.lock:
        for servo_id in server.bus.profile.ids:
            server.bus.restore(servo_id)


@pytest.mark.parametrize("arm_name", ["so101", "koch"])
def test_the_arm_appears_as_a_controller_in_calibrated_units(arm_name, quick_thread_switches):
    cal = virtual_calibration(arm_name)
    with serve_pty(arm_name) as server, ServoArm.open(server.port, arm_name, cal) as arm:
        units = [j.unit for j in arm.info.joints]
        assert arm.info.joint_names == cal.joint_names and units[-1] is p.Unit.FRACTION
        assert units[:-1] == [p.Unit.RAD] * 5 and arm.info.modes == (p.Mode.JOINT_POSITION,)
        ends = cal.to_units(np.array([[j.range_min for j in cal.joints], [j.range_max for j in cal.joints]]))
        np.testing.assert_allclose([(j.pos_min, j.pos_max) for j in arm.info.joints], np.sort(ends, 0).T)
        assert (arm.info.joints[-1].pos_min, arm.info.joints[-1].pos_max) == (0.0, 1.0)
        assert registers(server, "Torque_Enable") == [1] * 6  # on after open, the goals set to where the arm is
        np.testing.assert_allclose(arm.latest_state.position, cal.to_units(registers(server, "Present_Position")))
        assert arm.send_command(p.Mode.JOINT_POSITION, TARGET, 100) is not None
        goals = cal.to_counts(TARGET).tolist()
        assert eventually(server, "Goal_Position", goals) == goals
        with pytest.raises(ValueError, match="joint_position"):
            arm.send_command(p.Mode.JOINT_VELOCITY, TARGET, 100)


def test_a_bundle_in_metres_for_the_gripper_is_refused(tmp_path, quick_thread_switches):
    from servo_run_fixtures import servo_bundle
    from vla_lite.bundle import load_bundle

    with serve_pty("so101") as server, ServoArm.open(server.port, "so101", virtual_calibration()) as arm:
        manifest = load_bundle(servo_bundle(tmp_path / "b.vla")).manifest
        check_compatible(manifest, arm.info)  # the gripper as a 0..1 fraction ("1") fits
        d = manifest.to_dict()
        d["action"]["units"][-1] = "m"
        with pytest.raises(BundleMismatch, match="'gripper': bundle action unit is 'm'.*FRACTION"):
            check_compatible(type(manifest).from_dict(d), arm.info)


def test_hold_policy_rides_out_a_silent_bus_and_carries_on(quick_thread_switches):
    cal = virtual_calibration()
    with serve_pty("so101") as server, ServoArm.open(server.port, "so101", cal, on_exit="hold") as arm:
        arm.poll()
        arm.send_command(p.Mode.JOINT_POSITION, TARGET, 100)
        lose_link(arm, server)
        assert arm.send_command(p.Mode.JOINT_POSITION, -TARGET, 100) is None  # nothing goes out while down
        restore(server)
        time.sleep(0.3)  # the servos reach their goal meanwhile
        next_state(arm)
        assert arm.connected and arm.fault is None and arm.stats.reconnects == 1
        assert registers(server, "Goal_Position") == registers(server, "Present_Position")  # holds where it is
        assert registers(server, "Torque_Enable") == [1] * 6
    assert registers(server, "Torque_Enable") == [1] * 6  # closed with HOLD: torque stays on


def test_release_policy_turns_torque_off_once_the_servos_answer_and_stays_down(quick_thread_switches):
    with serve_pty("so101") as server, ServoArm.open(server.port, "so101", virtual_calibration(),
                                                     on_exit=TorquePolicy.RELEASE) as arm:
        lose_link(arm, server)
        assert registers(server, "Torque_Enable") == [1] * 6  # the silent servos could not be told
        restore(server)
        time.sleep(0.6)  # past the pause between two torque-off attempts
        deadline = time.monotonic() + 5
        while registers(server, "Torque_Enable") != [0] * 6:
            assert arm.poll() is None and not arm.connected
            assert time.monotonic() < deadline
        assert "torque released" in arm.fault and arm.poll() is None and not arm.connected


def test_goal_writes_wait_for_a_clean_line(quick_thread_switches):
    profile = load_arm("so101")
    with serve_pty("so101") as server, ServoBus.open(server.port, profile) as bus:
        before = registers(server, "Goal_Position")
        with server.lock:
            server.bus.faults = Faults(delay_rate=1.0, delay_s=0.08, ids=frozenset({6}))
        reading = bus.read_positions(budget_s=0.01)  # the answer leaves 80 ms late: still on its way
        with server.lock:
            server.bus.faults = Faults()
        assert not reading.all_fresh
        assert bus.write_goals([100] * 6, budget_s=0.002) is False  # would collide with the late replies
        assert bus.stats()["link"]["withheld_writes"] == 1
        time.sleep(0.2)
        assert registers(server, "Goal_Position") == before
        assert bus.write_goals([100] * 6, budget_s=0.3) is True  # late replies drained: the line is clean
        assert eventually(server, "Goal_Position", [100] * 6) == [100] * 6
        assert bus.stats()["link"]["late_replies"] >= 1


def test_sim_arm_serves_a_virtual_dynamixel_bus_for_koch():
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite", "sim-arm", "--arm", "koch"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        with ServoBus.open(port, load_arm("koch")) as bus:
            deadline = time.monotonic() + 20
            while bus.ping(1) is None:  # the server is up once it answers
                assert time.monotonic() < deadline
            assert [bus.ping(i) for i in (1, 3)] == [1060, 1200]  # XL430-W250, XL330-M288
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "virtual koch bus: dynamixel_x" in err and '"instructions": ' in err
    out = subprocess.run([sys.executable, "-m", "vla_lite", "sim-arm", "--arm", "koch", "--tcp", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--tcp" in out.stderr


def test_a_latched_servo_condition_is_a_named_fault_until_cleared(quick_thread_switches):
    with serve_pty("so101") as server, ServoArm.open(server.port, "so101", virtual_calibration()) as arm:
        with server.lock:
            server.bus.set_overload(3)
        deadline = time.monotonic() + 5
        while arm.poll() is None or not arm.latest_state.faults:
            assert time.monotonic() < deadline
        assert arm.latest_state.faults == p.Fault.HARDWARE  # the loop holds, by the names below
        assert any("elbow_flex (ID 3)" in r and "overload" in r for r in arm.health_faults())
        assert arm.named_faults() == [("elbow_flex (ID 3) overload", "status error bit overload (0x20)")]
        assert arm.stats.as_dict()["health_faults"] == arm.health_faults()
        with server.lock:
            server.bus.set_overload(3, False)
        arm.request(p.ClearFault())  # run --clear-faults
        assert next_state(arm).faults == 0 and arm.health_faults() == []


def test_a_fraction_joint_crosses_the_protocol(quick_thread_switches):
    """Unit.FRACTION (2) is on the wire too: a servo arm's announcement round-trips through the vla-lite codec."""
    with serve_pty("so101") as server, ServoArm.open(server.port, "so101", virtual_calibration()) as arm:
        ack = arm.info.hello_ack()
    (pkt,) = p.Decoder().feed(p.encode(ack, 1))
    assert pkt.msg.joints[-1].unit is p.Unit.FRACTION and pkt.msg.joints == tuple(
        p.JointInfo(j.name, j.unit, *(np.float32(x) for x in j[2:])) for j in ack.joints)
