"""Regenerate firmware_bridge/golden_vectors.json from the Python codec (run after a deliberate protocol change).

Every float is exactly representable in f32, so the JSON numbers round-trip bit for bit in Python and C.
"""

import json
import pathlib
import struct

from vla_lite.firmware_bridge import protocol as p

OUT = pathlib.Path(__file__).resolve().parents[1] / "firmware_bridge" / "golden_vectors.json"

F32S = tuple(struct.unpack("<32f", struct.pack("<32f", *(1.2345 + 0.0123 * i for i in range(32)))))
JOINTS = (p.JointInfo("shoulder_pan", p.Unit.RAD, -3.0, 3.0, 2.0, 8.0, 12.5),
          p.JointInfo("gripper", p.Unit.M, 0.0, 0.0625, 0.25, 1.0, 40.0))
VALID = [
    ("hello", 1, p.Hello(p.SCHEMA_HASH, "vla-lite")),
    ("hello_ack", 1, p.HelloAck(p.SCHEMA_HASH, (1, 2, 3), (p.Mode.JOINT_POSITION, p.Mode.JOINT_VELOCITY), 100.0,
                                100, 1000, "virtual-arm", JOINTS)),
    ("command_position_7", 42, p.Command(p.Mode.JOINT_POSITION, (0.0, 0.5, -0.5, 1.25, -1.25, 2.0, 0.015625), 100)),
    ("command_velocity_2", 43, p.Command(p.Mode.JOINT_VELOCITY, (0.25, -0.75), 40)),
    ("command_ee_delta_4", 44, p.Command(p.Mode.EE_DELTA, (0.001953125, -0.00390625, 0.0, 1.0), 25)),
    ("state_2", 7, p.State(42, 123456789012, int(p.Status.ENABLED | p.Status.MOVING | p.Status.LINKED), 0,
                           (0.5, 0.03125), (-0.25, 0.0), (1.5, -2.0))),
    ("state_faulted", 8, p.State(42, 2 ** 40, int(p.Status.ENABLED | p.Status.HOLDING | p.Status.FAULTED),
                                 int(p.Fault.WATCHDOG), (0.0,), (0.0,), (0.0,))),
    ("heartbeat", 1, p.Heartbeat()),
    ("estop", 0xFFFFFFFF, p.Estop()),
    ("clear_fault", 9, p.ClearFault(0xFFFF)),
    ("torque_off", 10, p.Torque(False)),
    ("log", 11, p.Log(3, int(p.LogCode.TARGET_OUT_OF_LIMITS), "joint 1 target 4 rad outside [-3, 3]")),
    ("log_long", 12, p.Log(1, 0x0101, "x" * 64)),
    # 32 joints of floats without a zero byte: > 254 non-zero bytes in a row exercise COBS's 0xFF code.
    ("state_32_joints", 13, p.State(0x01010101, 0x0101010101010101, 0x0101, 0x0101, F32S, F32S, F32S)),
]


def fields(msg) -> dict:
    d = msg._asdict()
    for k, v in d.items():
        if k == "joints":
            d[k] = [dict(j._asdict(), unit=int(j.unit)) for j in v]
        elif k == "modes":
            d[k] = [int(m) for m in v]
        elif isinstance(v, tuple):
            d[k] = list(v)
        elif isinstance(v, bool):
            d[k] = int(v)
        elif isinstance(v, int):
            d[k] = int(v)
    return d


def main() -> None:
    valid = []
    for name, seq, msg in VALID:
        frame = p.encode(msg, seq)
        valid.append({"name": name, "type": type(msg).__name__, "type_id": int(p._ENCODERS[type(msg)][0]),
                      "seq": seq, "fields": fields(msg), "frame_hex": frame.hex()})
    cmd = p.encode(VALID[2][2], 42)
    body = p.cobs_decode(cmd[:-1])
    flipped = bytearray(body)
    flipped[10] ^= 0x04  # one bit in the payload: the CRC must catch it
    foreign = bytearray(body[:-4])
    foreign[0] = 2  # protocol major 2
    foreign += p._U32.pack(p.crc32c(bytes(foreign)))
    invalid = [
        {"name": "crc_bit_flip", "reason": "crc", "frame_hex": (p.cobs_encode(bytes(flipped)) + b"\0").hex()},
        {"name": "cobs_code_past_end", "reason": "cobs", "frame_hex": "0a01020300"},
        {"name": "short", "reason": "short", "frame_hex": (p.cobs_encode(body[:8]) + b"\0").hex()},
        {"name": "foreign_major", "reason": "foreign_version", "major": 2, "minor": 0,
         "frame_hex": (p.cobs_encode(bytes(foreign)) + b"\0").hex()},
    ]
    doc = {"protocol": f"{p.PROTOCOL_MAJOR}.{p.PROTOCOL_MINOR}", "schema_hash": p.SCHEMA_HASH,
           "crc32c_check": {"input_ascii": "123456789", "crc": 0xE3069283},
           "valid": valid, "invalid": invalid}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(valid)} valid and {len(invalid)} invalid vectors to {OUT}")


if __name__ == "__main__":
    main()
