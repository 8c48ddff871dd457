"""`vla-lite doctor --port URL`: open the port, handshake, run a burst of round trips, report what was found.

By default the round trips are HEARTBEATs, which never move the arm; `--commands` sends JOINT_POSITION commands
that hold the measured position, which also checks that every command sequence number is echoed.
"""

from __future__ import annotations

import json
import sys
import time

from . import protocol as p
from .errors import BridgeError
from .link import ArmLink

UNIT_NAMES = {p.Unit.RAD: "rad", p.Unit.M: "m", p.Unit.FRACTION: "1"}


def add_arguments(parser) -> None:
    parser.add_argument("--port", required=True, help="pyserial URL: /dev/ttyUSB0, a pty path, socket://127.0.0.1:PORT")
    parser.add_argument("--baud", type=int, default=None, help="default 1000000 (with --arm: the arm profile's)")
    parser.add_argument("--count", type=int, default=200, help="round trips in the burst (default 200)")
    parser.add_argument("--timeout", type=float, default=1.0, help="handshake and per-reply timeout, s")
    parser.add_argument("--commands", action="store_true",
                        help="round-trip hold-position COMMANDs instead of HEARTBEATs (checks seq echo)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def check(url: str, count: int = 200, timeout_s: float = 1.0, commands: bool = False,
          baudrate: int = 1_000_000) -> dict:
    """Run the checks; returns the report. Raises a BridgeError subclass when the port is unusable."""
    if count < 1:
        raise ValueError(f"--count must be >= 1, got {count}")
    with ArmLink.open(url, timeout_s=timeout_s, baudrate=baudrate, client="vla-lite doctor") as link:
        info = link.info
        first = link.request(p.Heartbeat(), timeout_s)
        use_commands = commands and p.Mode.JOINT_POSITION in info.modes
        answered = 0
        rtts = []
        t0 = time.perf_counter()
        for _ in range(count):
            sent = time.monotonic()
            try:
                if use_commands:
                    hold = link.latest_state.position
                    st = link.request(p.Command(p.Mode.JOINT_POSITION, hold, 200), timeout_s)
                else:
                    st = link.request(p.Heartbeat(), timeout_s)
            except BridgeError:
                if not link.connected:
                    raise
                continue
            rtts.append(link.latest_state_s - sent)
            answered += 1
        elapsed = time.perf_counter() - t0
        last = link.latest_state
        rtts.sort()

        def q(x):
            return round(1e3 * rtts[min(len(rtts) - 1, int(x / 100 * len(rtts)))], 4) if rtts else None

        return {
            "port": url,
            "protocol": {"host": f"{p.PROTOCOL_MAJOR}.{p.PROTOCOL_MINOR}",
                         "controller": "%d.%d" % link.peer_version, "schema_hash": f"0x{p.SCHEMA_HASH:08X}"},
            "controller": {"name": info.name, "firmware": ".".join(map(str, info.firmware)),
                           "modes": [m.name.lower() for m in info.modes], "max_rate_hz": info.max_rate_hz,
                           "watchdog_ms": info.watchdog_ms, "torque_off_ms": info.torque_off_ms},
            "joints": [{"name": j.name, "unit": UNIT_NAMES[j.unit], "pos_min": j.pos_min, "pos_max": j.pos_max,
                        "vel_max": j.vel_max, "acc_max": j.acc_max, "effort_max": j.effort_max,
                        "position": round(pos, 6)} for j, pos in zip(info.joints, last.position)],
            "status": [s.name for s in p.Status if last.status & s],
            "faults": [f.name for f in p.Fault if (first.faults | last.faults) & f],
            "round_trips": {"kind": "command" if use_commands else "heartbeat", "sent": count,
                            "answered": answered, "lost": count - answered,
                            "commands_lost": link.stats.commands_lost,
                            "rtt_ms": {"p50": q(50), "p99": q(99), "max": q(100)},
                            "rate_hz": round(count / elapsed, 1)},
            "frames": link.decoder.stats.as_dict(),
            "logs": [{"level": m.level, "code": m.code, "text": m.text} for m in link.logs],
        }


def format_report(r: dict) -> str:
    c, rt = r["controller"], r["round_trips"]
    lines = [f"port        {r['port']}",
             f"controller  {c['name']}  firmware {c['firmware']}  protocol {r['protocol']['controller']} "
             f"(host {r['protocol']['host']}, schema {r['protocol']['schema_hash']})",
             f"modes       {', '.join(c['modes'])}; max rate {c['max_rate_hz']:g} Hz; watchdog {c['watchdog_ms']} ms; "
             f"torque off {c['torque_off_ms']} ms",
             f"status      {', '.join(r['status']) or '-'}; faults {', '.join(r['faults']) or 'none'}",
             "joints      name              unit        min        max    vel_max    acc_max   position"]
    for j in r["joints"]:
        lines.append(f"            {j['name']:<17} {j['unit']:<4} {j['pos_min']:>10.4g} {j['pos_max']:>10.4g} "
                     f"{j['vel_max']:>10.4g} {j['acc_max']:>10.4g} {j['position']:>10.4g}")
    f = r["frames"]
    lines += [f"round trips {rt['answered']}/{rt['sent']} {rt['kind']}s answered, {rt['lost']} lost; "
              f"RTT p50 {rt['rtt_ms']['p50']} ms, p99 {rt['rtt_ms']['p99']} ms, max {rt['rtt_ms']['max']} ms "
              f"({rt['rate_hz']:g} round trips/s)",
              f"frames      {f['frames']} good, {f['crc_failures']} CRC failures, {f['dropped']} dropped "
              f"(resyncs), {f['unknown_type']} unknown type"]
    for log in r["logs"]:
        lines.append(f"log         level {log['level']} code {log['code']}: {log['text']}")
    return "\n".join(lines)


def run(args) -> int:
    try:
        report = check(args.port, args.count, args.timeout, args.commands, args.baud or 1_000_000)
    except (BridgeError, ValueError) as exc:
        if args.json:
            print(json.dumps({"port": args.port, "ok": False, "error": str(exc), "kind": type(exc).__name__}))
        print(f"vla-lite doctor: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    healthy = report["round_trips"]["lost"] == 0 and not report["faults"]
    report["ok"] = healthy
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0 if healthy else 1
