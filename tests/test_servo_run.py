"""`vla-lite run --arm` on a servo bus, end to end: a real pty served by the virtual servo bus (in this process, so
its registers can be read), `vla-lite run` as a subprocess with a small onnxruntime bundle whose contract is the
SO-101's six joints. What the servos were told (Goal_Position, Torque_Enable) is read back from the virtual
servos; the lost readings and holds from the run's JSON report."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from servo_fixtures import quick_thread_switches  # noqa: F401  (a fixture)
from servo_run_fixtures import camera_folder, servo_bundle, virtual_calibration, write_calibration
from vla_lite.calib.calibration_compare import calibration_fingerprint
from vla_lite.calibration_contract import PROVENANCE_KEY
from vla_lite.firmware_bridge.servo.serve import serve_pty
from vla_lite.firmware_bridge.servo.virtual_bus import Faults
from vla_lite.recording import list_episodes, read_episode

INSTRUCTION = "touch the red block"


def make_parts(root, arm="so101"):
    """(bundle, calibration file, camera folder, calibration) for `arm`."""
    cal = virtual_calibration(arm)
    return (servo_bundle(root / f"{arm}.vla", arm), write_calibration(root / f"{arm}_cal.json", cal),
            camera_folder(root / "frames"), cal)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return make_parts(tmp_path_factory.mktemp("servo_run"))


def run_args(port, parts, *extra, calibration=True):
    bundle, cal_file, frames, cal = parts
    args = [sys.executable, "-m", "vla_lite", "run", "--port", port, "--arm", cal.arm, "--model", str(bundle),
            "--camera", str(frames), "--instruction", INSTRUCTION, "--quiet", *extra]
    return args + (["--calibration", str(cal_file)] if calibration else [])


def env_with_config(tmp_path):
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}  # no user's default calibration leaks in


def registers(server, name):
    with server.lock:
        return np.array([s.get(name) for s in server.bus.servos])


@pytest.mark.parametrize("arm", ["so101", "koch"])
def test_run_commands_the_servos_through_the_calibration_and_holds_torque_on_exit(tmp_path, parts, arm,
                                                                                 quick_thread_switches):
    parts = parts if arm == "so101" else make_parts(tmp_path, arm)
    cal = parts[3]
    with serve_pty(arm) as server:
        start = registers(server, "Goal_Position")
        out = subprocess.run(run_args(server.port, parts, "--duration", "3", "--report", str(tmp_path / "r.json"),
                                      "--record", str(tmp_path / "rec")),
                             capture_output=True, text=True, timeout=120, env=env_with_config(tmp_path))
        assert out.returncode == 0, out.stderr
        goals, torque = registers(server, "Goal_Position"), registers(server, "Torque_Enable")
        eeprom = [s.eeprom_writes for s in server.bus.servos]
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["ticks"] >= 45 and r["inferences"] >= 10, r
    assert r["link"]["commands_sent"] >= 30 and r["link"]["states_received"] >= 30
    assert f"calibration {parts[1]}" in out.stderr  # which file was used
    ticks = read_episode(list_episodes(tmp_path / "rec", include_partial=True)[0]).ticks
    sent = ticks["commanded"][ticks["commanded_present"]]
    assert len(sent) >= 30
    # The servos hold the last command sent (the stop's hold repeats it), in counts through the calibration.
    np.testing.assert_array_equal(goals, cal.to_counts(sent[-1]))
    assert np.any(np.abs(goals - start) > 5), "the policy's commands never moved a goal register"
    assert torque.tolist() == [1] * 6  # --on-exit hold (the default): torque stays on
    assert eeprom == [0] * 6  # run never writes EEPROM


def test_sigterm_with_on_exit_release_turns_torque_off(tmp_path, parts, quick_thread_switches):
    with serve_pty("so101") as server:
        proc = subprocess.Popen(run_args(server.port, parts, "--on-exit", "release", "--report",
                                         str(tmp_path / "r.json")), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env_with_config(tmp_path))
        try:
            deadline = time.monotonic() + 60
            for line in proc.stderr:  # announced just before the loop starts
                if "gc frozen" in line or time.monotonic() > deadline:
                    break
            time.sleep(1.0)
            running = registers(server, "Torque_Enable").tolist()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        assert "ticks at 30 Hz" in out
        link = json.loads((tmp_path / "r.json").read_text())["link"]
        assert running == [1] * 6 and link["link_faults"] == 0, link  # on while running
        assert registers(server, "Torque_Enable").tolist() == [0] * 6


def test_lost_replies_never_abort_the_run_and_every_lost_reading_is_counted(tmp_path, parts, quick_thread_switches):
    faults = Faults(drop_rate=0.03, corrupt_rate=0.03, seed=3)
    with serve_pty("so101", faults) as server:
        out = subprocess.run(run_args(server.port, parts, "--duration", "3", "--report", str(tmp_path / "r.json")),
                             capture_output=True, text=True, timeout=120, env=env_with_config(tmp_path))
        injected = server.bus.stats.dropped + server.bus.stats.corrupted
    assert out.returncode == 0, out.stderr  # no abort
    r = json.loads((tmp_path / "r.json").read_text())
    link = r["link"]
    assert injected > 10 and r["ticks"] >= 45
    # Retries inside the tick's budget may make good every lost reply (a faster host path does): then no reading
    # is lost, but every lost reply is still counted per servo.
    assert link["readings_lost"] >= link["incomplete_reads"]
    # The bus counts stale readings of every sync read, the few at open included; the run counts its own.
    assert link["readings_lost"] <= sum(s["stale_readings"] for s in link["servos"].values())
    losses = sum(s["timeouts"] + s["bad_checksums"] for s in link["servos"].values())
    assert losses > 0 and losses >= link["readings_lost"]  # a lost reading is a lost reply no retry made good
    assert f"{link['readings_lost']} joint readings lost" in out.stdout  # the text report says it too
    # An incomplete read gives no state; the last complete one ages, and the arm holds only once it is older than
    # the state age limit (issue 17: "hold if a joint stays stale past its age limit"), so a hold needs a lost
    # reading behind it, and scattered single losses do not stop the arm.
    no_state = r["holds"].get("no fresh arm state", 0)
    assert no_state <= link["incomplete_reads"], (r["holds"], link)
    assert sum(r["holds"].values()) < 0.2 * r["ticks"], r["holds"]


def test_run_refuses_a_calibration_whose_range_excludes_the_actions(tmp_path, parts, quick_thread_switches):
    narrow = write_calibration(tmp_path / "narrow.json", virtual_calibration(half_range=300))  # +-0.46 rad
    with serve_pty("so101") as server:
        args = run_args(server.port, parts, "--duration", "1", calibration=False) + ["--calibration", str(narrow)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env_with_config(tmp_path))
        goal_writes = [s.goal_writes for s in server.bus.servos]
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "BundleMismatch" in lines[0] and "shoulder_pan: actions span" in lines[0], out.stderr
    assert "recalibrate" in lines[0]
    assert goal_writes == [0] * 6  # refused before the arm was touched


def test_run_warns_when_the_bundle_was_trained_with_another_calibration(tmp_path, parts, quick_thread_switches):
    trained = virtual_calibration(half_range=1100)  # ranges 100 counts narrower at each end
    bundle = servo_bundle(tmp_path / "fp.vla", provenance={PROVENANCE_KEY: calibration_fingerprint(trained)})
    same = servo_bundle(tmp_path / "same.vla", provenance={PROVENANCE_KEY: calibration_fingerprint(parts[3])})
    errs = {}
    with serve_pty("so101") as server:
        for name, model in (("other", bundle), ("same", same)):
            args = run_args(server.port, parts, "--duration", "0.5") + ["--model", str(model)]
            out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env_with_config(tmp_path))
            assert out.returncode == 0, out.stderr
            errs[name] = out.stderr
    assert "differs from the one bundle" in errs["other"] and "range min -100, max +100" in errs["other"]
    assert "differs from the one bundle" not in errs["same"]


def test_default_calibration_is_found_named_or_refused_with_the_fix(tmp_path, parts, quick_thread_switches):
    env = env_with_config(tmp_path)
    default = tmp_path / "config" / "vla-lite" / "calibration" / "so101.json"
    with serve_pty("so101") as server:
        out = subprocess.run(run_args(server.port, parts, "--duration", "0.5", calibration=False),
                             capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 2
        assert out.stderr.count("\n") == 1 and str(default) in out.stderr
        assert "vla-lite calibrate --port" in out.stderr and "--calibration FILE" in out.stderr
        write_calibration(default, parts[3])
        out = subprocess.run(run_args(server.port, parts, "--duration", "0.5", calibration=False),
                             capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert f"calibration {default} (the so101 default)" in out.stderr


def test_run_refuses_servos_that_do_not_hold_the_calibrations_offsets(tmp_path, parts, quick_thread_switches):
    cal = virtual_calibration()
    joints = list(cal.joints)
    joints[2] = dataclasses.replace(joints[2], homing_offset=40)
    other = write_calibration(tmp_path / "other.json", dataclasses.replace(cal, joints=tuple(joints)))
    with serve_pty("so101") as server:
        args = run_args(server.port, parts, "--duration", "1", calibration=False) + ["--calibration", str(other)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env_with_config(tmp_path))
        torque = registers(server, "Torque_Enable")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "elbow_flex servo 0 file 40" in out.stderr and "recalibrate" in out.stderr
    assert torque.tolist() == [0] * 6  # refused before torque on


def test_readme_walkthrough_calibrate_doctor_run_with_the_default_file(tmp_path, parts, monkeypatch,
                                                                     quick_thread_switches):
    """The README's SO-101 steps on a virtual arm moved by a scripted person: calibrate (no --out: the default
    file), doctor and run (no --calibration: they find it and say so)."""
    from test_guided_calibration import Cli, Person, serve

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the user's config directory, for the CLIs
    default = tmp_path / "config" / "vla-lite" / "calibration" / "so101.json"
    with serve() as server:
        person, cli = Person(server), Cli("--port", server.port, "--arm", "so101")
        cli.wait_for("Move the arm to the middle of its range")
        person.hold_middle()
        cli.answer()
        cli.wait_for("Move every joint through its whole range")
        person.sweep()
        cli.answer()
        cli.wait_for("Save it to")
        cli.answer("y")
        code, text = cli.finish()
        assert code == 0 and default.exists() and f"--out {default} (the so101 default)" in text, text
        doctor = subprocess.run([sys.executable, "-m", "vla_lite", "doctor", "--port", server.port, "--arm", "so101",
                                 "--json", "--count", "20"], capture_output=True, text=True, timeout=120)
        report = json.loads(doctor.stdout)
        assert doctor.returncode == 0 and report["ok"], doctor.stderr
        assert f"calibration {default} (the so101 default)" in doctor.stderr
        assert all(abs(s["position"]) < 0.01 for s in report["servos"][:5])  # the middle pose reads 0 rad
        start = registers(server, "Goal_Position")
        out = subprocess.run(run_args(server.port, parts, "--duration", "2", calibration=False),
                             capture_output=True, text=True, timeout=120)
        goals = registers(server, "Goal_Position")
    assert out.returncode == 0, out.stderr
    assert f"calibration {default} (the so101 default)" in out.stderr
    assert np.any(np.abs(goals - start) > 5)


def test_servo_flags_are_refused_without_an_arm_or_on_a_world(tmp_path):
    for args, word in ((["--port", "/dev/ttyUSB9", "--camera", "0", "--calibration", "c.json"], "add --arm"),
                       (["--port", "/dev/ttyUSB9", "--camera", "0", "--on-exit", "release"], "add --arm"),
                       (["--port", "sim", "--arm", "so101"], "is a simulated world"),
                       (["--port", "/dev/ttyUSB9", "--arm", "so102", "--camera", "0"], "no known arm profile")):
        out = subprocess.run([sys.executable, "-m", "vla_lite", "run", *args], capture_output=True, text=True,
                             timeout=60, env=env_with_config(tmp_path))
        assert out.returncode == 2 and word in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_an_arm_profile_file_of_ones_own_runs_like_a_built_in(tmp_path, parts, quick_thread_switches):
    from vla_lite.calib.arm_profiles import PROFILES, register_arm_profile
    from vla_lite.firmware_bridge.servo import load_arm
    from vla_lite.firmware_bridge.servo.arms import ARMS_DIR

    profile_file = tmp_path / "my_arm.json"
    profile_file.write_text((ARMS_DIR / "so101.json").read_text().replace('"name": "so101"', '"name": "my_arm"'))
    register_arm_profile(load_arm(profile_file))
    try:
        cal = write_calibration(tmp_path / "my_cal.json", virtual_calibration("my_arm"))
    finally:
        PROFILES.pop("my_arm")  # the subprocesses register it themselves, from --arm
    with serve_pty(str(profile_file)) as server:
        args = run_args(server.port, parts, "--duration", "1", calibration=False)
        args[args.index("so101")] = str(profile_file)
        out = subprocess.run(args + ["--calibration", str(cal)], capture_output=True, text=True, timeout=120,
                             env=env_with_config(tmp_path))
        assert out.returncode == 0, out.stderr
        assert registers(server, "Torque_Enable").tolist() == [1] * 6
        so101_cal = subprocess.run(args + ["--calibration", str(parts[1])], capture_output=True, text=True,
                                   timeout=120, env=env_with_config(tmp_path))
    assert so101_cal.returncode == 2 and "calibrates a 'so101' arm, but --arm is 'my_arm'" in so101_cal.stderr


def test_servo_faults_are_held_counted_and_exit_by_joint_and_condition(tmp_path, parts, quick_thread_switches):
    """A servo over its temperature limit from the start, then another overloaded mid-run: the hold line, the
    report's holds and faults and the exit status name each servo and condition, keyed without their values."""
    heat = "servo fault elbow_flex (ID 3) over-temperature"
    both = f"{heat}, wrist_roll (ID 5) overload"
    with serve_pty("so101") as server:
        with server.lock:
            server.bus.set_temperature(3, 71)  # limit 70 °C: its status replies carry the overheat bit
        proc = subprocess.Popen(run_args(server.port, parts, "--duration", "4", "--report", str(tmp_path / "r.json")),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_with_config(tmp_path))
        try:
            said = []
            for line in proc.stderr:
                said.append(line)
                if "holding at tick" in line:
                    break
            with server.lock:
                server.bus.set_overload(5)  # after torque on (which clears a Feetech servo's overload)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    said = "".join(said) + err
    assert proc.returncode == 3, said  # held by a fault at the end
    assert "servo faults elbow_flex (ID 3) over-temperature (" in said  # named at start
    assert f": {heat} (" in said and "latched" in said, said  # the hold line
    r = json.loads((tmp_path / "r.json").read_text())
    assert set(r["holds"]) <= {heat, both, "waiting for a state after restart", "no fresh arm state"}, r["holds"]
    assert r["holds"][heat] > 0 and r["holds"][both] > 0, r["holds"]
    assert r["faults"] == {heat: 1, "servo fault wrist_roll (ID 5) overload": 1}, r["faults"]
    assert "overheat" in r["fault_details"][heat]  # latched by the status bit, then read: the value is in the hold
    assert "temperature 71 °C >= limit 70 °C" in r["hold_details"][both] and "overload" in r["hold_details"][both]
    assert r["held_at_end"] == r["exit_reason"] == both and r["exit_status"] == 3
    assert f"outcome: held_by_fault (exit status 3: {both})" in out
