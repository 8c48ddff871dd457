"""Firmware-bridge benchmark: codec throughput and command->state round trip over a real pty.

Each figure is measured next to a naive baseline in the same run:
- codec: the shipped codec (C-backed COBS + CRC-32C) vs the same codec on the pure-Python COBS/CRC;
- round trip: the link's select()-driven wait vs a host that polls the port every 1 ms (a common pattern).

    python benchmarks/bench_bridge.py [--frames 200000] [--round-trips 5000] [--out benchmarks/results/bridge.json]

The virtual controller runs in its own process (`vla-lite sim-arm --pty`), as a real controller would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

from vla_lite.firmware_bridge import framing, protocol as p
from vla_lite.firmware_bridge.link import ArmLink
from vla_lite.pacing import percentiles


@contextlib.contextmanager
def pure_python_framing():
    """Swap the codec's COBS/CRC for the pure-Python versions (the naive baseline)."""
    saved = p.cobs_encode, p.cobs_decode, p.crc32c
    p.cobs_encode, p.cobs_decode, p.crc32c = framing.cobs_encode_py, framing.cobs_decode_py, framing.crc32c_py
    try:
        yield
    finally:
        p.cobs_encode, p.cobs_decode, p.crc32c = saved


def codec_throughput(frames: int) -> float:
    """encode + decode of a 7-joint COMMAND, frames per second (one frame per feed, the worst case)."""
    cmd = p.Command(p.Mode.JOINT_POSITION, (0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.02), 100)
    dec = p.Decoder()
    encode, feed = p.encode, dec.feed
    t0 = time.perf_counter()
    for seq in range(frames):
        out = feed(encode(cmd, seq))
    dt = time.perf_counter() - t0
    if dec.stats.frames != frames or out[0].msg.mode != cmd.mode:
        raise RuntimeError(f"codec lost frames: {dec.stats.frames} of {frames}")
    return frames / dt


def start_controller() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite", "sim-arm", "--pty"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    port = proc.stdout.readline().strip()
    if not port:
        proc.kill()
        raise RuntimeError("vla-lite sim-arm did not print its port")
    return proc, port


def round_trips(port: str, n: int, naive: bool) -> dict:
    link = ArmLink.open(port, timeout_s=2.0)
    try:
        hold = link.request(p.Heartbeat()).position
        samples = []
        for _ in range(n):
            seq = link.send_command(p.Mode.JOINT_POSITION, hold, 200)
            t0 = time.perf_counter()
            while True:
                if naive:
                    time.sleep(0.001)  # the naive host: poll the port every millisecond
                else:
                    link.wait_reply(None, 0.05)  # select()-driven: back as soon as the reply is in
                link.poll()
                if link.latest_state is not None and link.latest_state.ack_seq == seq:
                    break
                if time.perf_counter() - t0 > 1.0:
                    raise RuntimeError(f"no reply to command {seq}")
            samples.append(time.perf_counter() - t0)
        out = percentiles(samples, stats=("max", "mean"), scale=1e3)
        out["lost"] = link.stats.commands_lost
        return out
    finally:
        link.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--round-trips", type=int, default=5000)
    ap.add_argument("--out", default="benchmarks/results/bridge.json")
    args = ap.parse_args()

    fast = codec_throughput(args.frames)
    with pure_python_framing():
        naive = codec_throughput(max(2000, args.frames // 20))
    print(f"codec encode+decode, 7-joint COMMAND: {fast:,.0f} frames/s "
          f"(pure-Python COBS/CRC: {naive:,.0f} frames/s; ratio {fast / naive:.1f}x; goal >= 200,000)")

    proc, port = start_controller()
    try:
        rt = round_trips(port, args.round_trips, naive=False)
        rt_naive = round_trips(port, max(200, args.round_trips // 5), naive=True)
    finally:
        proc.terminate()
        proc.wait(5)
    print(f"command->state round trip over a pty ({rt['n']}): p50 {rt['p50']} ms, p99 {rt['p99']} ms, "
          f"max {rt['max']} ms, lost {rt['lost']} (goal p50 <= 0.1, p99 <= 0.5)")
    print(f"  naive 1 ms polling host ({rt_naive['n']}): p50 {rt_naive['p50']} ms, p99 {rt_naive['p99']} ms; "
          f"p50 ratio {rt_naive['p50'] / rt['p50']:.1f}x")

    result = {"benchmark": "bridge", "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "codec": {"frames_per_s": round(fast), "naive_pure_python_frames_per_s": round(naive),
                        "ratio": round(fast / naive, 2), "accelerated": framing.ACCELERATED, "goal": 200_000},
              "round_trip_ms": rt, "round_trip_naive_polling_ms": rt_naive,
              "round_trip_goal_ms": {"p50": 0.1, "p99": 0.5}}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
