"""The guided joint calibration end to end on a virtual SO-101 served on a real pty: `vla-lite calibrate --port`
runs in its own process while a scripted person (this test, through the virtual servos' hand API) holds the middle
pose, sweeps every joint and answers the prompts. Checked on the servos and in the written file: the offsets make
the middle read 2047, the ranges are what was swept, the file round-trips through LeRobot's format, the ranges
reach the servos' EEPROM limits only when asked, a verify run reports 0 drift (and a drifted joint by name), and
an offset that would overflow is refused without writing anything. The library steps are driven directly on a
virtual Koch (Dynamixel sign convention)."""

import json
import queue
import subprocess
import sys
import threading
import time

import pytest
from servo_fixtures import quick_thread_switches  # noqa: F401 (fixture)

from vla_lite.calib import guided
from vla_lite.calib.arm_calibration import load_arm_calibration
from vla_lite.calib.arm_profiles import arm_profile
from vla_lite.calib.calibration_compare import calibration_fingerprint
from vla_lite.calib.lerobot_calibration import from_lerobot, read_lerobot_calibration
from vla_lite.firmware_bridge.servo import load_arm
from vla_lite.firmware_bridge.servo.serve import PtyServer
from vla_lite.firmware_bridge.servo.virtual_bus import VirtualBus
from vla_lite.firmware_bridge.servo.virtual_hand import VirtualHand

pytestmark = pytest.mark.usefixtures("quick_thread_switches")

LIVENESS_S = 60.0
MIDDLE = {1: 3000, 2: 1000, 3: 2600, 4: 500, 5: 1800, 6: 3500}  # encoder counts of the arm's middle pose
HALF = {1: 1000, 2: 900, 3: 1100, 4: 800, 5: 2500, 6: 600}  # how far the person moves each joint either way
FULL_TURN = 5  # wrist_roll: 2500 counts either way crosses the encoder's wrap, as a roll joint may


def expected_ranges(half=HALF):
    return [(0, 4095) if i == FULL_TURN else (2047 - h, 2047 + h) for i, h in half.items()]


class Person:
    def __init__(self, server):
        self.hand = VirtualHand(server.bus, server.lock)

    def hold_middle(self, middle=MIDDLE):
        self.hand.move(middle, 0.2)

    def sweep(self, middle=MIDDLE, half=HALF, dwell_s=0.5):
        """Every joint to one end, the other end, and back, dwelling at each end."""
        self.hand.move({i: m - half[i] for i, m in middle.items()}, 0.4)
        self.hand.hold(dwell_s)
        self.hand.move({i: m + half[i] for i, m in middle.items()}, 0.8)
        self.hand.hold(dwell_s)
        self.hand.move(middle, 0.4)


class Cli:
    """`python -m vla_lite calibrate ...` with its conversation on pipes."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "vla_lite", "calibrate", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stderr if "--json" in self.proc.args else self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + LIVENESS_S
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                raise AssertionError(f"no {text!r} from the CLI; it said: {self.seen[-10:]}; "
                                     f"stderr {self.proc.stderr.read() if '--json' not in self.proc.args else ''}")
            self.seen.append(line)
            if text in line:
                return line

    def answer(self, text: str = ""):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str]:
        """Exit code and what it said (with --json: stdout alone, the JSON object)."""
        code = self.proc.wait(timeout=LIVENESS_S)
        while (line := self.lines.get(timeout=LIVENESS_S)) is not None:
            self.seen.append(line)
        json_mode = "--json" in self.proc.args
        other = (self.proc.stdout if json_mode else self.proc.stderr).read()
        return code, other if json_mode else "\n".join(self.seen) + "\n" + other


def serve(arm="so101", middle=MIDDLE):
    server = PtyServer(VirtualBus(load_arm(arm), now_s=time.monotonic())).start()
    Person(server).hand.place(middle)
    return server


def calibrate_on_arm(server, out, *extra, middle=MIDDLE, arm="so101"):
    person, cli = Person(server), Cli("--port", server.port, "--arm", arm, "--out", str(out), *extra)
    cli.wait_for("Move the arm to the middle of its range")
    person.hold_middle(middle)
    cli.answer()
    cli.wait_for("Move every joint through its whole range")
    person.sweep(middle)
    cli.answer()
    cli.wait_for("Save it to")
    cli.answer("y")
    return cli.finish()


def test_guided_calibration_end_to_end_then_verify(tmp_path):
    out, lerobot = tmp_path / "cal.json", tmp_path / "my_arm.json"
    with serve() as server:
        code, text = calibrate_on_arm(server, out, "--write-limits", "--to-lerobot", str(lerobot))
        assert code == 0, text
        servos = {s.id: s for s in server.bus.servos}
        with server.lock:  # the hand is back at the middle pose: every joint reads mid-range
            now = time.monotonic()
            for s in servos.values():
                s.advance(now)
            assert [s.get("Present_Position") for s in servos.values()] == [2047] * 6
            assert [s.get("Homing_Offset") for s in servos.values()] == [m - 2047 for m in MIDDLE.values()]
            assert [(s.get("Min_Position_Limit"), s.get("Max_Position_Limit")) for s in servos.values()] == \
                expected_ranges()  # --write-limits
            assert all(s.get("Lock") == 1 and s.eeprom_refused == 0 and s.get("Torque_Enable") == 0
                       for s in servos.values())

        cal = load_arm_calibration(out)
        assert cal.source == "guided" and cal.arm == "so101"
        assert [j.homing_offset for j in cal.joints] == [m - 2047 for m in MIDDLE.values()]
        assert [(j.range_min, j.range_max) for j in cal.joints] == expected_ranges()
        assert {j.firmware for j in cal.joints} == {"3.10"} and cal.joint("wrist_roll").full_turn
        back = from_lerobot(read_lerobot_calibration(lerobot), "so101")
        assert calibration_fingerprint(back) == calibration_fingerprint(cal)

        # Re-running on the calibrated arm offers to verify; the same sweep drifts by 0 counts.
        cli = Cli("--port", server.port, "--arm", "so101", "--out", str(out), "--json")
        cli.wait_for("[v]erify it or [r]ecalibrate")
        cli.answer("v")
        cli.wait_for("Move every joint to both ends")
        Person(server).sweep()
        cli.answer()
        code, stdout = cli.finish()
        report = json.loads(stdout)
        assert code == 0 and report["verified"]
        assert [(d["at_min"], d["at_max"]) for d in report["joints"]] == [(0, 0)] * 4 + [(None, None), (0, 0)]

        # --verify after the elbow's end stops moved 30 counts: named, exit 1.
        cli = Cli("--port", server.port, "--arm", "so101", "--out", str(out), "--verify", "--tolerance", "10")
        cli.wait_for("Move every joint to both ends")
        Person(server).sweep(half={**HALF, 3: HALF[3] + 30})
        cli.answer()
        code, text = cli.finish()
        assert code == 1 and "elbow_flex: min -30, max +30 counts (DRIFTED)" in text
        assert "DRIFT: elbow_flex is 30 counts off (> 10)" in text


def test_calibrate_takes_an_arm_profile_file_as_run_and_doctor_do(tmp_path):
    from vla_lite.firmware_bridge.servo.arms import ARMS_DIR

    profile_file = tmp_path / "my_arm.json"
    profile_file.write_text((ARMS_DIR / "so101.json").read_text().replace('"name": "so101"', '"name": "my_arm"'))
    out = tmp_path / "cal.json"
    with serve(str(profile_file)) as server:
        code, text = calibrate_on_arm(server, out, arm=str(profile_file))
    assert code == 0, text
    cal_text = out.read_text()  # read as text: this process does not know the profile "my_arm"
    saved = json.loads(cal_text)
    assert saved["arm"] == "my_arm" and [j["name"] for j in saved["joints"]][-1] == "gripper"
    assert [j["homing_offset"] for j in saved["joints"]] == [m - 2047 for m in MIDDLE.values()]
    shown = subprocess.run([sys.executable, "-m", "vla_lite", "calibrate", "--arm", str(profile_file),
                            "--calibration", str(out), "--json"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and json.loads(shown.stdout)["arm"] == "my_arm", shown.stderr

    # A bad profile file: calibrate says what run and doctor say (the one loader's message).
    bad = tmp_path / "bad_arm.json"
    bad.write_text(profile_file.read_text().replace('"family"', '"famly"'))
    said = {}
    for command in (["calibrate", "--port", "/dev/ttyUSB9"], ["doctor", "--port", "/dev/ttyUSB9"],
                    ["run", "--port", "/dev/ttyUSB9", "--camera", "0"]):
        out_ = subprocess.run([sys.executable, "-m", "vla_lite", *command, "--arm", str(bad)], capture_output=True,
                              text=True, timeout=60)
        assert out_.returncode in (1, 2) and out_.stderr.count("\n") == 1, out_.stderr
        said[command[0]] = out_.stderr.split(": ", 1)[1]
    assert "unknown keys ['famly'], missing keys ['family']" in said["calibrate"], said
    assert said["calibrate"] == said["doctor"] == said["run"], said
    assert not (tmp_path / "nowhere.json").exists()
    missing = subprocess.run([sys.executable, "-m", "vla_lite", "calibrate", "--port", "/dev/ttyUSB9", "--arm",
                              str(tmp_path / "nowhere.json")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "cannot read arm profile" in missing.stderr and "nowhere.json" in \
        missing.stderr, missing.stderr


def test_an_overflowing_offset_is_refused_and_nothing_is_written(tmp_path):
    middle = {**MIDDLE, 6: 4095}  # the gripper's middle pose at the encoder's last count: offset 2048
    with serve(middle=middle) as server:
        cli = Cli("--port", server.port, "--arm", "so101", "--out", str(tmp_path / "cal.json"))
        cli.wait_for("Move the arm to the middle of its range")
        Person(server).hold_middle(middle)
        cli.answer()
        code, text = cli.finish()
        assert code == 1
        assert "'gripper' read 4095 counts (needs offset 2048" in text and "+-2047" in text
        assert "re-seat the horn" in text and "shoulder_pan" not in text
        assert all(s.get("Homing_Offset") == 0 and s.eeprom_writes == 0 for s in server.bus.servos)
    assert not (tmp_path / "cal.json").exists()


def test_library_steps_on_a_virtual_koch():
    """The steps a vendor UI calls, on Dynamixel servos (Present = Actual + Homing_Offset, offset 2047 - present)."""
    profile = arm_profile("koch")
    middle = {1: 5000, 2: 1500, 3: 2600, 4: 3100, 5: -700, 6: 2200}  # multi-turn encoder counts
    half = {1: 1000, 2: 700, 3: 800, 4: 900, 5: 1200, 6: 500}
    with serve("koch", middle) as server, guided.open_arm(server.port, profile) as bus:
        person = Person(server)
        with server.lock:  # a factory-fresh servo answers 500 µs late; the koch profile expects 0
            slow = server.bus.servo(2)
            slow.write(slow.table["Return_Delay_Time"].address, bytes((250,)), time.monotonic())
        guided.release(bus, profile)
        assert server.bus.servo(2).get("Return_Delay_Time") == 0
        person.hold_middle(middle)
        offsets = guided.home(bus, profile)
        assert list(offsets) == [2047 - m for m in middle.values()]
        assert guided.read_positions(bus).tolist() == [2047] * 6
        recorder = guided.start_recording(bus, profile)
        sweeper = threading.Thread(target=person.sweep, args=(middle, half))
        sweeper.start()
        while sweeper.is_alive():
            guided.sample(bus, recorder)
        cal = guided.finish(bus, profile, offsets, recorder)
        full = {j.servo_id for j in profile.joints if j.full_turn}
        assert [(j.range_min, j.range_max) for j in cal.joints] == [
            (0, 4095) if i in full else (2047 - h, 2047 + h) for i, h in half.items()]
        assert guided.offset_mismatches(bus, cal) == {}
        assert cal.joint("gripper").firmware == "48"
