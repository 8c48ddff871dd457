"""The C reference controller (firmware_bridge/c/), built with gcc under ASan/UBSan: golden vectors, a fuzz run,
the parser against protocol.Decoder and the state machine against virtual_arm.py on the same bytes, and the
Python host (ArmLink, `vla-lite doctor`) talking to the C controller over a real pty.

Fake time everywhere except the pty tests, whose timeouts bound liveness only; nothing asserts a duration.
"""

import dataclasses
import json
import math
import os
import pathlib
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from vla_lite.firmware_bridge import protocol as p
from vla_lite.firmware_bridge.arm_config import ArmConfig, default_arm
from vla_lite.firmware_bridge.link import ArmLink
from vla_lite.firmware_bridge.virtual_arm import CartesianKinematics, VirtualArm

C_DIR = pathlib.Path(__file__).resolve().parents[1] / "firmware_bridge" / "c"
VECTORS = json.loads((C_DIR.parent / "golden_vectors.json").read_text())
GCC = shutil.which("gcc")
pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed (CI installs it): the C reference "
                                                     "cannot be built")
FULL = os.environ.get("VLA_LITE_FULL") == "1"
LIB_SRC = sorted(C_DIR.glob("*.c"))
SIM_SRC = C_DIR / "examples" / "posix_controller" / "sim_joints.c"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
SAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
S, F, LC = p.Status, p.Fault, p.LogCode
LIVENESS_S = 5.0
C_NAME = "vla-lite C reference"


def _clean(stderr: str) -> None:
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr[-4000:]


def _run(exe, *args, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    r = subprocess.run([str(exe), *map(str, args)], input=stdin, capture_output=True, text=True, timeout=timeout,
                       env=SAN_ENV)
    _clean(r.stderr)
    return r


@pytest.fixture(scope="module")
def bins(tmp_path_factory) -> dict:
    """The library and the four programs, built once with sanitizers (objects compiled in one gcc call, the
    programs linked in parallel)."""
    out = tmp_path_factory.mktemp("c_reference")
    flags = ["-std=c99", "-O1", "-g", *SANITIZE, f"-I{C_DIR}"]
    r = subprocess.run([GCC, *flags, "-c", *map(str, LIB_SRC)], cwd=out, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    objs = [str(out / (s.stem + ".o")) for s in LIB_SRC]
    programs = {
        "golden_test": [C_DIR / "tests" / "golden_test.c"],
        "fuzz_test": [C_DIR / "tests" / "fuzz_test.c"],
        "harness": [C_DIR / "tests" / "harness.c", SIM_SRC],
        "posix_controller": [C_DIR / "examples" / "posix_controller" / "main.c", SIM_SRC],
    }
    procs = {name: subprocess.Popen([GCC, *flags, *map(str, srcs), *objs, "-o", str(out / name)],
                                    stderr=subprocess.PIPE, text=True) for name, srcs in programs.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}: {err}"
    return {name: out / name for name in programs}


# --- strict compile -------------------------------------------------------------------------------------------

STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-Wconversion", "-Wshadow", "-Wcast-align=strict",
          "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wundef", "-Wcast-qual", "-O2"]
LIBC_ALLOWED = {"memcpy", "memset", "memmove", "strlen"}  # the compiler may also emit these for struct copies


def test_library_compiles_warning_free_strict_c99_without_heap_or_stdio(tmp_path):
    r = subprocess.run([GCC, *STRICT, f"-I{C_DIR}", "-c", *map(str, LIB_SRC)], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # The symbols prove "no malloc, no printf" (nm is binutils', which gcc depends on).
    objs = [str(tmp_path / (s.stem + ".o")) for s in LIB_SRC]
    listing = subprocess.run(["nm", "-u", *objs], capture_output=True, text=True, check=True).stdout
    undefined = {line.split()[-1] for line in listing.splitlines() if line.strip().startswith("U ")}
    defined = subprocess.run(["nm", "--defined-only", *objs], capture_output=True, text=True, check=True).stdout
    ours = {line.split()[-1] for line in defined.splitlines() if len(line.split()) == 3}
    assert ours and undefined - ours <= LIBC_ALLOWED, sorted(undefined - ours)
    # The RAM-saving build option compiles too.
    r = subprocess.run([GCC, *STRICT, "-DVLA_MAX_JOINTS=8", f"-I{C_DIR}", "-fsyntax-only", *map(str, LIB_SRC)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([GCC, *STRICT, "-DVLA_MAX_JOINTS=4", f"-I{C_DIR}", "-fsyntax-only", str(LIB_SRC[0])],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "VLA_MAX_JOINTS must be 7..32" in r.stderr


def test_examples_and_drivers_compile_warning_free(tmp_path):
    flags = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-Wshadow", "-O2", f"-I{C_DIR}", "-fsyntax-only"]
    for src in [C_DIR / "examples" / "posix_controller" / "main.c", SIM_SRC, *sorted((C_DIR / "tests").glob("*.c"))]:
        r = subprocess.run([GCC, *flags, str(src)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", (src.name, r.stderr)


ARDUINO_STUB = """
#include <stddef.h>
#include <stdint.h>
#define HIGH 1
#define LOW 0
#define OUTPUT 1
#define LED_BUILTIN 13
unsigned long micros(void);
void pinMode(uint8_t, uint8_t);
void digitalWrite(uint8_t, uint8_t);
void delay(unsigned long);
class HardwareSerial {
  public:
    void begin(unsigned long);
    int available(void);
    int read(void);
    size_t write(const uint8_t *, size_t);
};
extern HardwareSerial Serial;
"""
SERVO_STUB = """
class Servo {
  public:
    uint8_t attach(int pin);
    void detach();
    void writeMicroseconds(int us);
    bool attached();
};
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed: the Arduino sketch check needs it")
def test_arduino_sketch_compiles_as_cpp_against_the_arduino_api(tmp_path):
    """Not built for a board here: checked as C++ against declarations of the Arduino calls it uses, which
    catches a sketch that drifts from the library's API or its extern "C" header."""
    (tmp_path / "Arduino.h").write_text(ARDUINO_STUB)
    (tmp_path / "Servo.h").write_text(SERVO_STUB)
    sketch = C_DIR / "examples" / "arduino" / "arduino.ino"
    r = subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c++",
                        "-include", "Arduino.h", f"-I{tmp_path}", f"-I{C_DIR}", str(sketch)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed: the Makefile check needs it")
def test_makefile_builds_library_and_controller(tmp_path):
    r = subprocess.run(["make", "-s", "-C", str(C_DIR), f"BUILD={tmp_path}", "CFLAGS=-O0", "all"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "libvla_lite.a").is_file() and os.access(tmp_path / "posix_controller", os.X_OK)


# --- golden vectors --------------------------------------------------------------------------------------------

def _f(x: float) -> str:
    return "f%08x" % struct.unpack("<I", struct.pack("<f", x))[0]


def _s(text: str) -> str:
    return "s" + text.encode().hex()


def _fields(kind: str, d: dict) -> list:
    """A vector's fields in wire order, in the driver's token format."""
    if kind == "Hello":
        return [d["schema_hash"], _s(d["client"])]
    if kind == "HelloAck":
        out = [d["schema_hash"], *d["firmware"], sum(1 << (m - 1) for m in d["modes"]), _f(d["max_rate_hz"]),
               d["watchdog_ms"], d["torque_off_ms"], len(d["joints"]), _s(d["name"])]
        for j in d["joints"]:
            out += [_s(j["name"]), j["unit"], *(_f(j[k]) for k in ("pos_min", "pos_max", "vel_max", "acc_max",
                                                                     "effort_max"))]
        return out
    if kind == "Command":
        return [d["mode"], len(d["target"]), d["valid_ms"], *map(_f, d["target"])]
    if kind == "State":
        return [d["ack_seq"], d["time_us"], d["status"], d["faults"], len(d["position"]),
                *map(_f, d["position"] + d["velocity"] + d["effort"])]
    return {"Heartbeat": [], "Estop": [], "ClearFault": [d.get("mask")], "Torque": [d.get("enable")],
            "Log": [d.get("level"), d.get("code"), _s(d.get("text", ""))]}[kind]


def _golden_lines(vectors: dict) -> list[str]:
    lines = [f"crc {vectors['crc32c_check']['input_ascii'].encode().hex()} {vectors['crc32c_check']['crc']}",
             f"schema {vectors['schema_hash']}"]
    for v in vectors["valid"]:
        lines.append(" ".join(map(str, ["valid", v["name"], v["seq"], v["frame_hex"], v["type_id"],
                                        *_fields(v["type"], v["fields"])])))
    for v in vectors["invalid"]:
        lines.append(" ".join(map(str, ["invalid", v["name"], v["reason"], v["frame_hex"], v.get("major", 0),
                                        v.get("minor", 0)])))
    return lines


def test_golden_vectors_decode_to_their_fields_and_encode_byte_exact_in_c(bins):
    r = _run(bins["golden_test"], stdin="\n".join(_golden_lines(VECTORS)) + "\n")
    names = ["crc32c", "schema_hash"] + [v["name"] for v in VECTORS["valid"] + VECTORS["invalid"]]
    assert r.stdout.splitlines() == [f"ok {n}" for n in names]
    assert r.returncode == 0


def test_golden_driver_fails_on_a_wrong_field_frame_or_reason(bins):
    bad = json.loads(json.dumps(VECTORS))
    by_name = {v["name"]: v for v in bad["valid"] + bad["invalid"]}
    by_name["command_position_7"]["fields"]["target"][3] = 1.5  # one float
    by_name["state_32_joints"]["fields"]["effort"][31] = 0.0  # the last value of the longest frame
    by_name["hello_ack"]["fields"]["joints"][1]["name"] = "gripper2"
    frame = bytearray.fromhex(by_name["log"]["frame_hex"])
    frame[-2] ^= 0x01  # the CRC's last byte
    by_name["log"]["frame_hex"] = frame.hex()
    by_name["crc_bit_flip"]["reason"] = "short"
    bad["crc32c_check"]["crc"] ^= 1
    r = _run(bins["golden_test"], stdin="\n".join(_golden_lines(bad)) + "\n")
    failed = sorted(line.split(":")[0].split()[1] for line in r.stdout.splitlines() if line.startswith("FAIL"))
    assert failed == sorted(["crc32c", "command_position_7", "state_32_joints", "hello_ack", "log", "crc_bit_flip"])
    assert r.returncode == 1


# --- fuzzing ---------------------------------------------------------------------------------------------------

def test_fuzz_never_delivers_a_message_that_was_not_sent(bins):
    cases = 400_000 if FULL else 20_000
    r = _run(bins["fuzz_test"], 2026, cases, timeout=600)
    words = r.stdout.split()
    got = {k: int(v) for k, v in zip(words[::2], words[1::2])}
    assert r.returncode == 0, r.stdout + r.stderr
    assert got["corrupted"] == 0 and got["foreign"] == 0 and got["clean_missed"] == 0, got
    assert got["clean_sent"] == cases // 4 and got["delivered"] >= got["clean_sent"]
    assert got["dropped"] > cases and got["bytes"] > 100 * cases  # garbage and damage really went through
    assert got["cobs_round_trip"] == 1 and got["bytes_counted"] == 1 and got["encode_failed"] == 0


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


TEXTS = ["", "vla-lite", "ü" * 32, "日本語のテキスト", "🤖 arm", "x" * 64]


def _random_message(rng: random.Random):
    def floats(n):
        return tuple(_f32(rng.choice([0.0, rng.uniform(-4, 4), rng.uniform(-1e30, 1e30), math.inf, -math.inf,
                                      math.nan, 1e-40])) for _ in range(n))
    kind = rng.randrange(9)
    if kind == 0:
        return p.Hello(rng.choice([p.SCHEMA_HASH, rng.getrandbits(32)]), rng.choice(TEXTS))
    if kind == 1:
        joints = tuple(p.JointInfo(rng.choice(TEXTS[:3]), p.Unit(rng.randrange(2)), *floats(5))
                       for _ in range(rng.randint(1, 4)))
        return p.HelloAck(rng.getrandbits(32), (1, 2, 3), (p.Mode.JOINT_POSITION,), floats(1)[0],
                          rng.getrandbits(16), rng.getrandbits(16), rng.choice(TEXTS), joints)
    if kind == 2:
        return p.Command(rng.randrange(256), floats(rng.randint(0, 32)), rng.getrandbits(16))
    if kind == 3:
        n = rng.randint(0, 32)
        return p.State(rng.getrandbits(32), rng.getrandbits(64), rng.getrandbits(16), rng.getrandbits(16),
                       floats(n), floats(n), floats(n))
    return [p.Heartbeat(), p.Estop(), p.ClearFault(rng.getrandbits(16)), p.Torque(bool(rng.randrange(2))),
            p.Log(rng.randrange(4), rng.getrandbits(16), rng.choice(TEXTS))][kind - 4]


def _crafted(rng: random.Random, major: int, mtype: int, payload: bytes) -> bytes:
    body = struct.pack("<BBBBI", major, rng.randrange(4), mtype, 0, rng.getrandbits(32)) + payload
    return p.cobs_encode(body + struct.pack("<I", p.crc32c(body))) + b"\x00"


BAD_UTF8 = [b"\xc0\x80", b"\xed\xa0\x80", b"\xf5\x80\x80\x80", b"\xe2\x82", b"\x80", b"\xf4\x90\x80\x80"]


def _random_segment(rng: random.Random) -> bytes:
    """One piece of a hostile stream: a frame clean or damaged, garbage, or a CRC-valid frame that must still be
    refused (foreign major, unknown type, payload of the wrong length or content)."""
    kind = rng.randrange(12)
    frame = p.encode(_random_message(rng), rng.getrandbits(32), minor=rng.randrange(3))
    if kind <= 3:
        return b"\x00" + frame
    if kind == 4:
        raw = bytearray(frame)
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return bytes(raw)
    if kind == 5:
        return frame[:rng.randrange(len(frame))]
    if kind == 6:
        return bytes(rng.choice([0, rng.randrange(256)]) if rng.random() < 0.05 else rng.randrange(1, 256)
                     for _ in range(rng.randint(0, 700)))
    if kind == 7:
        return bytes(rng.randrange(1, 256) for _ in range(rng.randint(519, 1100))) + b"\x00"  # overflow
    if kind == 8:
        return _crafted(rng, rng.randrange(2, 256), rng.randrange(1, 12), bytes(rng.randrange(40)))
    if kind == 9:
        return _crafted(rng, 1, rng.randrange(10, 256), bytes(rng.randrange(20)))
    if kind == 10:  # a string that is not UTF-8, in each message that carries one
        text = rng.choice(BAD_UTF8)
        return _crafted(rng, 1, rng.choice([1, 9]), (struct.pack("<I", 1) if rng.randrange(2) else b"\x01\x02\x00")
                        + bytes([len(text)]) + text)
    wrong = [(3, struct.pack("<BBH", 1, 3, 0) + bytes(8)), (4, bytes(18)), (5, b"\x00"), (7, b"\x01"),
             (8, b""), (2, struct.pack("<IBBBBfHHB", 1, 0, 0, 0, 1, 1.0, 1, 1, 0) + b"\x00"),
             (2, struct.pack("<IBBBBfHHB", 1, 0, 0, 0, 1, 1.0, 1, 1, 1) + b"\x00\x01a\x02" + bytes(20))]
    return _crafted(rng, 1, *rng.choice(wrong))


def test_c_parser_agrees_with_the_python_decoder_on_hostile_streams(bins):
    """Byte for byte the same frames delivered (compared re-encoded) and the same drop counters."""
    rng = random.Random(11)
    stream = b"".join(_random_segment(rng) for _ in range(20_000 if FULL else 2_500))
    lines, i = [], 0
    while i < len(stream):
        j = i + rng.randint(1, 1500)
        lines.append(f"P {stream[i:j].hex()}")
        i = j
    r = _run(bins["harness"], stdin="\n".join(lines + ["S"]) + "\n")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    c_frames = [line for line in out if line[:2] in ("m ", "f ")]
    stats_line = next(line for line in out if line.startswith("S "))
    dec = p.Decoder()
    expected = []
    for pkt in dec.feed(stream):
        if isinstance(pkt.msg, p.ForeignVersion):
            expected.append(f"f {pkt.seq} {pkt.msg.major} {pkt.msg.minor} {pkt.msg.type}")
        else:
            expected.append("m " + p.encode(pkt.msg, pkt.seq, minor=pkt.minor).hex())
    assert c_frames == expected
    st = dec.stats
    bare = [int(x) for x in stats_line.split("|")[1].split()]
    assert bare == [st.frames, st.bytes, st.overflow, st.cobs_errors, st.short, st.crc_failures, st.bad_payload,
                    st.unknown_type, st.foreign_version]
    # Every kind of drop and delivery really happened in this stream.
    assert min(bare) > 0, bare


# --- the state machine against virtual_arm.py ------------------------------------------------------------------

@dataclasses.dataclass
class Step:
    t_us: int
    frame: bytes | None = None  # None: a tick
    fault_bits: int = 0  # with no frame: the firmware latches these (C only)


@dataclasses.dataclass
class Reply:
    msgs: list  # decoded messages the C controller sent for one step
    hooks: list[str]  # hook calls, in order: "pos <bits...>", "vel ...", "hold", "torque 0|1"


def _run_c(exe, steps: list[Step], *args) -> tuple[list[Reply], Reply]:
    """Replay steps through the harness; returns one Reply per step and the one of init."""
    lines = []
    for s in steps:
        if s.frame is not None:
            lines.append(f"R {s.t_us} {s.frame.hex()}")
        elif s.fault_bits:
            lines.append(f"X {s.t_us} {s.fault_bits}")
        else:
            lines.append(f"T {s.t_us}")
    r = _run(exe, *args, stdin="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    dec, groups, cur = p.Decoder(), [], Reply([], [])
    for line in r.stdout.splitlines():
        if line == ".":
            groups.append(cur)
            cur = Reply([], [])
        elif line.startswith("o "):
            cur.msgs += [pkt.msg for pkt in dec.feed(bytes.fromhex(line[2:]))]
        elif line.startswith("h "):
            cur.hooks.append(line[2:])
    assert dec.stats.dropped == 0 and len(groups) == len(steps) + 1
    return groups[1:], groups[0]


def _wire(msg):
    """A message as the host would receive it: through encode and decode (f32 rounding)."""
    (pkt,) = p.Decoder().feed(p.encode(msg, 1))
    return pkt.msg


def _comparable(msg):
    """What must agree between the C controller and virtual_arm.py: everything but the joint dynamics (MOVING,
    positions) and the time stamp of an unprompted STATE (C: when sent; Python: when the fault was due)."""
    if isinstance(msg, p.State):
        return ("STATE", msg.ack_seq, msg.status & ~S.MOVING, msg.faults, len(msg.position))
    if isinstance(msg, p.HelloAck):
        return msg._replace(name="")
    return msg


def _run_python(arm: VirtualArm, steps: list[Step]) -> list[list]:
    dec, out = p.Decoder(), []
    for s in steps:
        msgs = []
        if s.frame is None:
            msgs = arm.step(s.t_us / 1e6)
        else:
            for pkt in dec.feed(s.frame):
                msgs += arm.handle(pkt, s.t_us / 1e6)
        out.append([_comparable(_wire(m)) for m in msgs])
    return out


class Host:
    """Builds frames as a host would, numbering them."""

    def __init__(self):
        self.seq = 0

    def frame(self, msg, major: int = 1) -> bytes:
        self.seq += 1
        return p.encode(msg, self.seq, major=major)


CFG = default_arm()  # 6 revolute joints (±3 rad, 2 rad/s) + gripper (0..0.08 m, 0.2 m/s), as the C harness
N = len(CFG.joints)
FAST = dataclasses.replace(CFG, watchdog_ms=50, torque_off_ms=300)  # faults trip often in random runs


def _random_steps(rng: random.Random, count: int) -> list[Step]:
    """A random session: every message kind, good and bad commands, silences that trip the watchdog and torque
    off. Step k's time is k µs past a whole millisecond, so no packet ever lands exactly on a deadline (which
    float and integer time would break differently)."""
    host, steps, ms = Host(), [], 0
    lims = [(j.pos_min, _f32(j.pos_max), _f32(j.vel_max)) for j in CFG.joints]

    def odd_value():
        mag = 10 ** rng.uniform(-8, 30)
        return _f32(rng.choice([mag, -mag, math.nan, math.inf, -math.inf, 3.0000002, -3.0000002]))

    for k in range(count):
        ms += rng.choice([0, 1, 2, 5, 10, 20, 30]) if rng.random() < 0.95 else rng.choice([60, 120, 400])
        t_us = 1000 * ms + k
        r = rng.random()
        if r < 0.08:
            msg = p.Hello(p.SCHEMA_HASH if rng.random() < 0.9 else rng.getrandbits(32), "random host")
            steps.append(Step(t_us, host.frame(msg)))
        elif r < 0.09:
            steps.append(Step(t_us, host.frame(rng.choice([p.Hello(), p.Heartbeat()]), major=rng.randrange(2, 5))))
        elif r < 0.40:  # a good position command, sometimes exactly on a limit
            target = [_f32(rng.uniform(lo, hi)) if rng.random() < 0.9 else rng.choice([lo, hi])
                      for lo, hi, _ in lims]
            steps.append(Step(t_us, host.frame(p.Command(p.Mode.JOINT_POSITION, tuple(target),
                                                         rng.choice([0, 20, 100, 500])))))
        elif r < 0.50:
            target = [_f32(rng.uniform(-v, v)) for _, _, v in lims]
            steps.append(Step(t_us, host.frame(p.Command(p.Mode.JOINT_VELOCITY, tuple(target),
                                                         rng.choice([5, 40, 300])))))
        elif r < 0.62:  # a bad command, one fault at a time
            mode = rng.choice([p.Mode.JOINT_POSITION, p.Mode.JOINT_VELOCITY])
            target = [0.0] * N
            valid_ms = 100
            how = rng.randrange(5)
            if how == 0:
                target[rng.randrange(N)] = odd_value()
            elif how == 1:
                target = [0.0] * rng.choice([0, N - 1, N + 1, 40])
            elif how == 2:
                mode = rng.choice([0, 3, 4, 255])
            elif how == 3:
                mode, valid_ms = p.Mode.JOINT_VELOCITY, 0
            else:
                target[rng.randrange(N)] = odd_value()
                valid_ms = 0
            steps.append(Step(t_us, host.frame(p.Command(mode, tuple(target), valid_ms))))
        elif r < 0.77:
            steps.append(Step(t_us, host.frame(p.Heartbeat())))
        elif r < 0.78:
            steps.append(Step(t_us, host.frame(p.Estop())))
        elif r < 0.88:  # recovery, as a host does after a fault
            mask = 0xFFFF if rng.random() < 0.8 else rng.choice([1, 2, 4, 16, 3])
            steps.append(Step(t_us, host.frame(p.ClearFault(mask))))
        elif r < 0.93:
            steps.append(Step(t_us, host.frame(p.Torque(rng.random() < 0.8))))
        elif r < 0.94:
            steps.append(Step(t_us, host.frame(p.Log(1, 0, "host note"))))
        else:
            steps.append(Step(t_us))
    return steps


@pytest.mark.parametrize("seed", range(12 if FULL else 3))
def test_c_controller_matches_virtual_arm_message_for_message(bins, seed):
    """Same packets, same times: the same replies in the same order (LOG level, code and text; STATE ack_seq,
    status, faults; HELLO_ACK), over random sessions that visit every rule of PROTOCOL.md §3."""
    steps = _random_steps(random.Random(seed), 900)
    c_replies, _ = _run_c(bins["harness"], steps, "--watchdog-ms", FAST.watchdog_ms, "--torque-off-ms",
                          FAST.torque_off_ms)
    py_replies = _run_python(VirtualArm(FAST, now_s=0.0), steps)
    for k, (c, py) in enumerate(zip(c_replies, py_replies)):
        assert [_comparable(m) for m in c.msgs] == py, (k, steps[k])
    # The sessions did visit the rules: refusals of every code, both faults tripping, ESTOP, version trouble.
    logs = {m.code for c in c_replies for m in c.msgs if isinstance(m, p.Log)}
    assert logs >= {LC.WATCHDOG_TRIPPED, LC.TORQUE_OFF, LC.TARGET_OUT_OF_LIMITS, LC.BAD_MODE, LC.BAD_LENGTH,
                    LC.VERSION_MISMATCH, LC.REFUSED_WHILE_FAULTED, LC.ESTOP, LC.SCHEMA_MISMATCH}, logs
    applied = [h for c in c_replies for h in c.hooks if h.startswith(("pos", "vel"))]
    assert len(applied) > 100  # commands accepted and passed to the joints


def _msgs_of(reply: Reply, kind):
    return [m for m in reply.msgs if isinstance(m, kind)]


def _bits(values) -> str:
    return " ".join("%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in values)


def test_watchdog_torque_off_latching_and_clear_with_fake_time(bins):
    host = Host()
    good = tuple(_f32(x) for x in (0.5, -0.25, 0.0, 1.0, 0.0, 0.0, 0.02))
    steps = [
        Step(0, host.frame(p.Hello())),
        Step(1_000, host.frame(p.Heartbeat())),
        Step(51_000, host.frame(p.Command(p.Mode.JOINT_POSITION, good, 0))),
        Step(151_000 - 1),  # 1 µs before the watchdog is due
        Step(151_000),
        Step(651_000),  # latched: reported once
        Step(2_051_000 - 1),
        Step(2_051_000),  # torque off
        Step(2_100_000, host.frame(p.Command(p.Mode.JOINT_POSITION, good, 100))),
        Step(2_110_000, host.frame(p.Torque(True))),
        Step(2_120_000, host.frame(p.ClearFault(int(F.WATCHDOG)))),
        Step(2_130_000, host.frame(p.ClearFault())),
        Step(2_219_000),  # CLEAR_FAULT restarted the silence window (else due at 2_200_000)
        Step(2_220_000, host.frame(p.Command(p.Mode.JOINT_POSITION, good, 100))),
        Step(2_320_000),  # valid_ms and the watchdog both due
    ]
    replies, init = _run_c(bins["harness"], steps)
    assert init.hooks == ["torque 1", "hold"] and init.msgs == []
    ack, st = replies[0].msgs
    assert isinstance(ack, p.HelloAck) and ack.name == C_NAME and st.status == S.ENABLED | S.HOLDING | S.LINKED
    assert ack._replace(name="") == _wire(CFG.hello_ack())._replace(name="")
    assert replies[1].msgs[0].time_us == 1_000  # a reply's time stamp is the packet's time
    (st,) = replies[2].msgs
    assert st.ack_seq == 3 and not st.status & (S.REJECTED | S.HOLDING)
    assert replies[2].hooks == [f"pos {_bits(good)}"]
    assert replies[3].msgs == [] and replies[3].hooks == []
    log, st = replies[4].msgs
    assert log.code == LC.WATCHDOG_TRIPPED and log.level == 3 and log.text == "no COMMAND/HEARTBEAT for 100 ms: holding"
    assert st.faults == F.WATCHDOG and st.status & S.HOLDING and st.status & S.ENABLED and st.ack_seq == 3
    assert replies[4].hooks == ["hold"]
    assert replies[5].msgs == [] and replies[6].msgs == []
    log, st = replies[7].msgs
    assert log.code == LC.TORQUE_OFF and "2000 ms" in log.text
    assert st.faults == F.WATCHDOG | F.TORQUE_OFF and not st.status & S.ENABLED
    assert replies[7].hooks == ["torque 0"]
    log, st = replies[8].msgs
    assert log.code == LC.REFUSED_WHILE_FAULTED and "WATCHDOG|TORQUE_OFF" in log.text and st.status & S.REJECTED
    assert replies[8].hooks == []  # a refused command never reaches the joints
    log, st = replies[9].msgs
    assert log.code == LC.REFUSED_WHILE_FAULTED and not st.status & S.ENABLED and replies[9].hooks == []
    (st,) = replies[10].msgs
    assert st.faults == F.TORQUE_OFF and not st.status & S.ENABLED
    (st,) = replies[11].msgs
    assert st.faults == 0 and st.status & S.ENABLED and st.status & S.HOLDING and replies[11].hooks == ["torque 1",
                                                                                                       "hold"]
    assert replies[12].msgs == []
    (st,) = replies[13].msgs
    assert not st.status & S.REJECTED and replies[13].hooks == [f"pos {_bits(good)}"]
    # 100 ms later both the command's valid_ms and the watchdog are due; expiry first, then the trip.
    log, st = replies[14].msgs
    assert log.code == LC.WATCHDOG_TRIPPED and replies[14].hooks == ["hold", "hold"]


def test_a_hello_disarms_the_watchdog_until_the_next_feed_in_c_as_in_python(bins):
    """How a host signs off (ArmLink.sign_off, at the end of doctor and of a clean run): after a HELLO the silence
    of a closed port trips nothing; the next HEARTBEAT arms the watchdog again. Both controllers, same bytes."""
    host = Host()
    good = tuple(_f32(x) for x in (0.5, -0.25, 0.0, 1.0, 0.0, 0.0, 0.02))
    steps = [
        Step(0, host.frame(p.Hello())),
        Step(1_000, host.frame(p.Command(p.Mode.JOINT_POSITION, good, 0))),  # armed: due at 101_000
        Step(50_000, host.frame(p.Hello(client="signing off"))),
        Step(5_000_000),  # far past the watchdog and torque-off deadlines: nothing trips
        Step(5_001_000, host.frame(p.Heartbeat())),  # armed again: due at 5_101_000
        Step(5_101_000),
    ]
    replies, _ = _run_c(bins["harness"], steps)
    py = _run_python(VirtualArm(CFG, now_s=0.0), steps)
    assert [[_comparable(m) for m in r.msgs] for r in replies] == py
    assert replies[3].msgs == [] and replies[3].hooks == []
    assert all(st.faults == 0 for r in replies[:5] for st in _msgs_of(r, p.State))
    log, st = replies[5].msgs
    assert log.code == LC.WATCHDOG_TRIPPED and st.faults == F.WATCHDOG


def test_velocity_expiry_estop_torque_and_a_firmware_fault(bins):
    host = Host()
    vel = tuple(_f32(x) for x in (1.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.1))
    steps = [
        Step(0, host.frame(p.Hello())),
        Step(1_000, host.frame(p.Command(p.Mode.JOINT_VELOCITY, vel, 40))),
        Step(41_000 - 1),
        Step(41_000),  # valid_ms over: decelerate and hold
        Step(50_000, host.frame(p.Estop())),
        Step(60_000, host.frame(p.Command(p.Mode.JOINT_POSITION, (0.0,) * N, 100))),
        Step(70_000, host.frame(p.ClearFault())),
        Step(80_000, host.frame(p.Torque(False))),
        Step(90_000, host.frame(p.Command(p.Mode.JOINT_POSITION, (0.0,) * N, 100))),
        Step(95_000, host.frame(p.Torque(True))),
        Step(99_000, fault_bits=int(F.HARDWARE)),
        Step(100_000, host.frame(p.Command(p.Mode.JOINT_POSITION, (0.0,) * N, 100))),
        Step(110_000, host.frame(p.ClearFault())),
    ]
    replies, _ = _run_c(bins["harness"], steps, "--watchdog-ms", 60_000)
    assert replies[1].hooks == [f"vel {_bits(vel)}"]
    assert replies[2].hooks == [] and replies[3].hooks == ["hold"] and replies[3].msgs == []  # expiry is no fault
    log, st = replies[4].msgs
    assert log.code == LC.ESTOP and st.status & S.ESTOP and st.faults == F.ESTOP and replies[4].hooks == ["hold"]
    log, _ = replies[5].msgs
    assert log.code == LC.REFUSED_WHILE_FAULTED and "ESTOP" in log.text
    (st,) = replies[6].msgs
    assert st.faults == 0 and not st.status & S.ESTOP
    (st,) = replies[7].msgs
    assert not st.status & S.ENABLED and replies[7].hooks == ["torque 0"]
    log, _ = replies[8].msgs
    assert log.code == LC.REFUSED_WHILE_FAULTED and "torque is off" in log.text
    assert replies[9].hooks == ["torque 1", "hold"]
    (st,) = replies[10].msgs  # unprompted: the firmware's own fault
    assert st.faults == F.HARDWARE and st.status & S.FAULTED and replies[10].hooks == ["hold"]
    log, _ = replies[11].msgs
    assert log.code == LC.REFUSED_WHILE_FAULTED and "HARDWARE" in log.text
    (st,) = replies[12].msgs
    assert st.faults == 0


GANTRY = ArmConfig("gantry", tuple(p.JointInfo(n, p.Unit.M, lo, hi, 0.5, 5.0, 50.0) for n, lo, hi in (
    ("x", 0.0, 0.6), ("y", -0.3, 0.3), ("z", 0.0, 0.4), ("gripper", 0.0, 0.08))),
    modes=(p.Mode.JOINT_POSITION, p.Mode.JOINT_VELOCITY), watchdog_ms=60_000)


def test_ee_delta_goes_through_the_kinematics_hook_and_the_limits(bins):
    host = Host()
    delta = (_f32(0.05), _f32(-0.02), _f32(-0.1), 1.0)
    cases = [p.Command(p.Mode.EE_DELTA, delta, 500),
             p.Command(p.Mode.EE_DELTA, (0.0,) * 6 + (1.0,), 100),  # a gantry cannot rotate
             p.Command(p.Mode.EE_DELTA, (0.0, 0.0, -0.3, 0.0), 100),  # below the z limit
             p.Command(p.Mode.EE_DELTA, (0.0, 0.0, 0.0), 100),
             p.Command(p.Mode.EE_DELTA, (0.0, 0.0, 0.0, 0.0), 0),
             p.Command(p.Mode.EE_DELTA, (0.0, math.nan, 0.0, 0.0), 100)]
    steps = [Step(0, host.frame(p.Hello()))] + [Step(k + 1, host.frame(c)) for k, c in enumerate(cases)]
    replies, _ = _run_c(bins["harness"], steps, "--gantry", "--watchdog-ms", 60_000)
    py = _run_python(VirtualArm(GANTRY, initial_position=[0.3, 0.0, 0.2, 0.08],
                                kinematics=CartesianKinematics(GANTRY)), steps)
    assert p.Mode.EE_DELTA in replies[0].msgs[0].modes
    for k in range(len(steps)):  # the arm stands still between these packets, so even EE outcomes must agree
        got = [_comparable(m) for m in replies[k].msgs]
        want = py[k]
        assert [(type(m), getattr(m, "code", None)) for m in got] == [(type(m), getattr(m, "code", None))
                                                                      for m in want], k
        assert [m for m in got if not isinstance(m, p.Log)] == [m for m in want if not isinstance(m, p.Log)], k
    start = [0.3, 0.0, 0.2]
    expect = [_f32(_f32(s) + d) for s, d in zip(start, delta[:3])] + [0.0]  # f32 sums; +1: gripper closed
    assert replies[1].hooks == [f"pos {_bits(expect)}"]
    assert all(r.hooks == [] for r in replies[2:])
    assert "4 values" in replies[2].msgs[0].text and "z target" in replies[3].msgs[0].text


@pytest.mark.parametrize("case, words", [
    ("limits", ["joint 2", "elbow", "pos 5..3"]), ("nan", ["joint 1", "vel_max nan"]),
    ("name", ["joint 0 name", "65 bytes"]), ("ee", ["EE_DELTA", "ee_delta hook"]),
    ("watchdog", ["watchdog_ms", "got 0"]), ("hooks", ["torque"])])
def test_bad_configuration_is_refused_naming_the_value(bins, case, words):
    r = _run(bins["harness"], "--bad", case)
    assert r.returncode == 3, r.stdout
    for word in words:
        assert word in r.stdout, (word, r.stdout)


# --- the Python host and the C controller over a real pty ------------------------------------------------------

class Controller:
    """posix_controller as a subprocess on a new pty."""

    def __init__(self, exe, *args):
        self.proc = subprocess.Popen([str(exe), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=SAN_ENV)
        if not select.select([self.proc.stdout], [], [], 30.0)[0]:
            self.proc.kill()
            pytest.fail("posix_controller printed no port in 30 s")
        self.port = self.proc.stdout.readline().strip()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.proc.returncode == 0, err
        _clean(err)
        return err


def _targets(k: int) -> tuple[float, ...]:
    return tuple(_f32(0.3 * math.sin(k / 40 + j)) for j in range(N - 1)) + (_f32(0.04),)


def test_arm_link_handshake_burst_and_watchdog_over_a_pty(bins):
    ctl = Controller(bins["posix_controller"], "--watchdog-ms", 500)  # a stalled test process must not trip it
    try:
        fd = os.open(ctl.port, os.O_RDWR | os.O_NOCTTY)  # raw before anything was written
        try:
            iflag, oflag, _, lflag, *_ = termios.tcgetattr(fd)
        finally:
            os.close(fd)
        assert not lflag & (termios.ECHO | termios.ICANON | termios.ISIG)
        assert not iflag & (termios.ICRNL | termios.IXON) and not oflag & termios.OPOST
        link = ArmLink.open(ctl.port, timeout_s=LIVENESS_S)
        try:
            info = link.info
            assert info.name == C_NAME and info.firmware == (0, 1, 0) and info.watchdog_ms == 500
            assert info.joints == _wire(CFG.hello_ack()).joints and info.modes == CFG.modes
            moving = 0
            for k in range(1000):
                st = link.request(p.Command(p.Mode.JOINT_POSITION, _targets(k), 200), timeout_s=LIVENESS_S)
                assert not st.status & S.REJECTED and st.faults == 0
                moving += bool(st.status & S.MOVING)
            last_seq = st.ack_seq
            assert link.stats.commands_sent == 1000 and link.stats.commands_acked == 1000
            assert link.stats.commands_lost == 0 and link.decoder.stats.dropped == 0
            assert moving > 500 and any(link.latest_state.position)  # the simulated joints follow the commands
            deadline = time.monotonic() + LIVENESS_S  # now silence: the watchdog must trip, seen over the wire
            while not (link.latest_state.faults & F.WATCHDOG):
                assert time.monotonic() < deadline, "no STATE with WATCHDOG over the pty"
                link.poll()
                time.sleep(0.005)
            assert link.latest_state.status & S.HOLDING and link.latest_state.ack_seq == last_seq
            assert any(m.code == LC.WATCHDOG_TRIPPED for m in link.logs)
            st = link.request(p.ClearFault(), timeout_s=LIVENESS_S)
            assert st.faults == 0
        finally:
            link.close(torque_off=True)
    finally:
        err = ctl.stop()
    assert "frames in" in err and ", 0 dropped" in err


def test_vla_lite_doctor_passes_against_the_c_controller(bins):
    ctl = Controller(bins["posix_controller"], "--joints", 4, "--watchdog-ms", 2000)
    try:
        r = subprocess.run([sys.executable, "-m", "vla_lite", "doctor", "--port", ctl.port, "--json", "--commands",
                            "--count", "200", "--timeout", str(LIVENESS_S)], capture_output=True, text=True,
                           timeout=60)
    finally:
        ctl.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["controller"]["name"] == C_NAME and len(report["joints"]) == 5
    rt = report["round_trips"]
    assert rt["answered"] == 200 and rt["lost"] == 0 and rt["commands_lost"] == 0 and rt["kind"] == "command"
    assert report["frames"]["dropped"] == 0 and report["faults"] == []


@pytest.mark.parametrize("args, word", [(["--joints", "0"], "--joints"), (["--watchdog-ms", "0"], "--watchdog-ms"),
                                        (["--torque-off-ms", "x"], "--torque-off-ms"), (["--bogus"], "--bogus"),
                                        (["--port", "/nonexistent/tty"], "/nonexistent/tty")])
def test_posix_controller_rejects_bad_arguments_by_name(bins, args, word):
    r = _run(bins["posix_controller"], *args, timeout=30)
    assert r.returncode == 2 and word in r.stderr and r.stdout == "", r.stderr
