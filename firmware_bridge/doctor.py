"""`vla-lite doctor --port URL`: open the port, handshake, run a burst of round trips, report what was found, and
leave the controller as it was found.

By default the round trips are HEARTBEATs, which never move the arm; `--commands` sends JOINT_POSITION commands
that hold the measured position, which also checks that every command sequence number is echoed. While a reply is
awaited a HEARTBEAT goes out every quarter of the controller's watchdog, so a lost reply never lets it trip; the
session ends with a HELLO, which disarms the watchdog (PROTOCOL.md §3), so disconnecting latches nothing.
A latched fault is reported with how to clear it; `--clear-faults` clears it first. The last text line is the
verdict: PASS, or FAIL with the reason.
"""

from __future__ import annotations

import json
import sys
import time

from . import protocol as p
from .errors import BridgeError, BridgeTimeout, LinkError
from .link import ArmLink

UNIT_NAMES = {p.Unit.RAD: "rad", p.Unit.M: "m", p.Unit.FRACTION: "1"}
CLEAR_HINT = "clear with `vla-lite doctor --port {port} --clear-faults` (or `vla-lite run ... --clear-faults`)"


def add_arguments(parser) -> None:
    parser.add_argument("--port", required=True, help="pyserial URL: /dev/ttyUSB0, a pty path, socket://127.0.0.1:PORT")
    parser.add_argument("--baud", type=int, default=None, help="default 1000000 (with --arm: the arm profile's)")
    parser.add_argument("--count", type=int, default=200, help="round trips in the burst (default 200)")
    parser.add_argument("--timeout", type=float, default=1.0, help="handshake and per-reply timeout, s (the "
                        "controller's watchdog is fed every quarter watchdog while a reply is awaited)")
    parser.add_argument("--commands", action="store_true",
                        help="round-trip hold-position COMMANDs instead of HEARTBEATs (checks seq echo)")
    parser.add_argument("--clear-faults", action="store_true",
                        help="send CLEAR_FAULT first when the controller has a latched fault (WATCHDOG, ESTOP, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def fault_names(mask: int) -> list[str]:
    return [f.name for f in p.Fault if mask & f]


def check(url: str, count: int = 200, timeout_s: float = 1.0, commands: bool = False,
          baudrate: int = 1_000_000, clear_faults: bool = False) -> dict:
    """Run the checks; returns the report. Raises a BridgeError subclass when the port is unusable."""
    if count < 1:
        raise ValueError(f"--count must be >= 1, got {count}")
    with ArmLink.open(url, timeout_s=timeout_s, baudrate=baudrate, client="vla-lite doctor") as link:
        try:
            report = _examine(link, url, count, timeout_s, commands, clear_faults)
        finally:
            released = link.sign_off(timeout_s)  # HELLO last: the watchdog disarmed, closing latches nothing
        report["released"] = released
        report["ok"], report["verdict"] = verdict(report)
        return report


def _examine(link: ArmLink, url: str, count: int, timeout_s: float, commands: bool, clear_faults: bool) -> dict:
    info = link.info
    feed_s = info.watchdog_ms / 4000
    first = _first_state(link, timeout_s, feed_s)
    found, cleared = first.faults, []
    if clear_faults and found:
        st = _round_trip(link, p.ClearFault(), None, timeout_s, feed_s)[0]
        if st is None:
            raise BridgeTimeout(f"no STATE from {url} after CLEAR_FAULT within {timeout_s:g} s")
        cleared = fault_names(found & ~st.faults)
    use_commands = commands and p.Mode.JOINT_POSITION in info.modes
    burst = _burst(link, count, timeout_s, feed_s, use_commands)
    last = link.latest_state
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
        "faults_found": fault_names(found), "faults_cleared": cleared, "faults": fault_names(last.faults),
        "round_trips": burst | {"commands_lost": link.stats.commands_lost},
        "frames": link.decoder.stats.as_dict(),
        "logs": [{"level": m.level, "code": m.code, "text": m.text} for m in link.logs],
    }


def _first_state(link: ArmLink, timeout_s: float, feed_s: float, tries: int = 3) -> p.State:
    """The controller's STATE now (a HEARTBEAT's answer), asking again when a reply is lost."""
    for _ in range(tries):
        st = _round_trip(link, p.Heartbeat(), None, timeout_s, feed_s)[0]
        if st is not None:
            return st
    raise BridgeTimeout(f"no STATE from {link.url} in answer to {tries} HEARTBEATs ({timeout_s:g} s each)")


def _round_trip(link: ArmLink, msg, hold, timeout_s: float, feed_s: float) -> tuple[p.State | None, float, int]:
    """Send msg (with `hold`: a hold-position COMMAND) and wait for its answer: the STATE echoing the command's
    seq, or the first STATE after sending. A HEARTBEAT goes out every feed_s while waiting, so the controller's
    watchdog never sees silence. Returns (STATE or None after timeout_s, seconds to it, keepalives sent)."""
    before = link.stats.states_received
    sent = time.monotonic()
    seq = link.send(p.Command(p.Mode.JOINT_POSITION, hold, 200) if hold is not None else msg)
    if seq is None:
        raise LinkError(link.fault or f"{link.url} is not connected")
    keepalives = 0
    while True:
        left = sent + timeout_s - time.monotonic()
        try:
            st = link.wait_state(ack_seq=seq if hold is not None else None, after_count=before,
                                 timeout_s=max(0.0, min(feed_s, left)))
            return st, link.latest_state_s - sent, keepalives
        except BridgeTimeout:
            if left <= feed_s:
                return None, 0.0, keepalives
        if link.heartbeat() is None:
            raise LinkError(link.fault or f"{link.url} is not connected")
        keepalives += 1


def _burst(link: ArmLink, count: int, timeout_s: float, feed_s: float, use_commands: bool) -> dict:
    """`count` round trips: answered in time (before a keepalive was needed), late, lost. Commands stop at the
    first refusal, with the controller's reason: the rest would be refused the same way."""
    answered = late = refused = keepalives = 0
    rtts, stopped = [], None
    t0 = time.perf_counter()
    sent = 0
    for sent in range(1, count + 1):
        hold = link.latest_state.position if use_commands else None
        st, rtt_s, feeds = _round_trip(link, p.Heartbeat(), hold, timeout_s, feed_s)
        keepalives += feeds
        if st is None:
            continue
        if feeds:
            late += 1
        else:
            answered += 1
            rtts.append(rtt_s)
        if use_commands and st.status & p.Status.REJECTED:
            refused = 1
            why = link.logs[-1].text if link.logs else "no LOG received"
            stopped = f"command {sent} refused by the controller ({why}); the rest were not sent"
            break
    elapsed = time.perf_counter() - t0
    rtts.sort()

    def q(x):
        return round(1e3 * rtts[min(len(rtts) - 1, int(x / 100 * len(rtts)))], 4) if rtts else None

    return {"kind": "command" if use_commands else "heartbeat", "asked": count, "sent": sent,
            "answered": answered, "late": late, "lost": sent - answered - late, "refused": refused,
            "stopped": stopped, "keepalives": keepalives, "late_after_ms": round(1e3 * feed_s, 3),
            "rtt_ms": {"p50": q(50), "p99": q(99), "max": q(100)}, "rate_hz": round(sent / elapsed, 1)}


def verdict(r: dict) -> tuple[bool, str]:
    """(healthy, one line): PASS, or FAIL with every reason."""
    rt, f, problems = r["round_trips"], r["frames"], []
    if r["faults"]:
        problems.append(f"controller faulted ({', '.join(r['faults'])} latched: the arm holds and commands are "
                        f"refused); {CLEAR_HINT.format(port=r['port'])}")
    if rt["stopped"]:
        problems.append(rt["stopped"])
    if rt["lost"] or rt["late"]:
        parts = [f"{rt['lost']} lost"] * bool(rt["lost"]) + [f"{rt['late']} later than {rt['late_after_ms']:g} ms "
                                                             "(a quarter of the watchdog)"] * bool(rt["late"])
        problems.append(f"of {rt['sent']} replies {' and '.join(parts)}")
    bad = f["crc_failures"] + f["cobs_errors"]
    if bad:
        problems.append(f"{f['crc_failures']} CRC failures and {f['cobs_errors']} COBS errors on the line")
    if not r.get("released", True):
        problems.append("the closing HELLO was not answered: the watchdog may trip after disconnecting")
    if problems:
        return False, "FAIL: " + "; ".join(problems)
    cleared = f"; cleared {', '.join(r['faults_cleared'])}" if r["faults_cleared"] else ""
    return True, (f"PASS: {r['controller']['name']}, {len(r['joints'])} joints, {rt['answered']}/{rt['sent']} "
                  f"{rt['kind']}s answered, RTT p50 {rt['rtt_ms']['p50']} ms{cleared}")


def format_report(r: dict) -> str:
    c, rt = r["controller"], r["round_trips"]
    found = f"; found {', '.join(r['faults_found'])}" if r["faults_found"] else ""
    cleared = f", cleared {', '.join(r['faults_cleared'])} (--clear-faults)" if r["faults_cleared"] else ""
    lines = [f"port        {r['port']}",
             f"controller  {c['name']}  firmware {c['firmware']}  protocol {r['protocol']['controller']} "
             f"(host {r['protocol']['host']}, schema {r['protocol']['schema_hash']})",
             f"modes       {', '.join(c['modes'])}; max rate {c['max_rate_hz']:g} Hz; watchdog {c['watchdog_ms']} ms; "
             f"torque off {c['torque_off_ms']} ms",
             f"status      {', '.join(r['status']) or '-'}; faults {', '.join(r['faults']) or 'none'}{found}{cleared}",
             "joints      name              unit        min        max    vel_max    acc_max   position"]
    for j in r["joints"]:
        lines.append(f"            {j['name']:<17} {j['unit']:<4} {j['pos_min']:>10.4g} {j['pos_max']:>10.4g} "
                     f"{j['vel_max']:>10.4g} {j['acc_max']:>10.4g} {j['position']:>10.4g}")
    f = r["frames"]
    lines += [f"round trips {rt['answered']}/{rt['sent']} {rt['kind']}s answered, {rt['late']} late (> "
              f"{rt['late_after_ms']:g} ms), {rt['lost']} lost, {rt['refused']} refused; RTT p50 "
              f"{rt['rtt_ms']['p50']} ms, p99 {rt['rtt_ms']['p99']} ms, max {rt['rtt_ms']['max']} ms "
              f"({rt['rate_hz']:g} round trips/s; {rt['keepalives']} keepalive HEARTBEATs)",
              f"frames      {f['frames']} good, {f['crc_failures']} CRC failures, {f['cobs_errors']} COBS errors, "
              f"{f['dropped']} dropped (resyncs), {f['unknown_type']} unknown type"]
    if rt["stopped"]:
        lines.append(f"stopped     {rt['stopped']}")
    for log in r["logs"]:
        lines.append(f"log         level {log['level']} code {log['code']}: {log['text']}")
    lines.append(r["verdict"])
    return "\n".join(lines)


def run(args) -> int:
    try:
        report = check(args.port, args.count, args.timeout, args.commands, args.baud or 1_000_000,
                       clear_faults=args.clear_faults)
    except (BridgeError, ValueError) as exc:
        if args.json:
            print(json.dumps({"port": args.port, "ok": False, "error": str(exc), "kind": type(exc).__name__}))
        print(f"vla-lite doctor: FAIL: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0 if report["ok"] else 1
