"""The servo-bus doctor: scan a bus against an arm profile and report what was found, as one dict.

`check(url, arm)` pings every expected ID, reads each servo's model, firmware, voltage, temperature, present
position (raw counts; in joint units too when `to_joint` is given), torque state and error bits, with generous
reply windows (`identify_config`: an adapter with a slow latency timer shows as slow timing, not as missing
servos); then, with the control loop's `config`, pings every other ID (scan_all) and times `cycles` sync read +
sync write cycles (each goal is the position just read, so a servo holds still; a stale position is never written
back). ok is False on any missing servo, a wrong model, a servo whose replies only come corrupt (a duplicate ID or
noise), or any latched health condition; a servo whose Return_Delay_Time is not the profile's is a warning.
"""

from __future__ import annotations

import time

from .arms import ArmProfile, load_arm
from .bus import BusConfig, ServoBus
from .errors import ServoTimeout
from .tables import MODELS_BY_NUMBER


IDENTIFY = BusConfig(latency_s=0.02, budget_s=0.2)


def check(url: str, arm: str | ArmProfile, *, cycles: int = 200, scan_all: bool = False,
          config: BusConfig = BusConfig(), identify_config: BusConfig = IDENTIFY, to_joint=None,
          baudrate: int | None = None) -> dict:
    """The report (see module doc). to_joint(name, counts) -> float adds joint-unit positions; baudrate overrides
    the profile's. Raises ServoLinkError when the port cannot be opened."""
    if cycles < 1:
        raise ValueError(f"cycles must be >= 1, got {cycles}")
    profile = arm if isinstance(arm, ArmProfile) else load_arm(arm)
    with ServoBus.open(url, profile, identify_config, baudrate) as bus:
        servos, missing, wrong, suspect = [], [], [], []
        for spec in profile.servos:
            entry = _servo(bus, spec, to_joint)
            servos.append(entry)
            if not entry["found"]:
                (suspect if entry["corrupt_replies"] else missing).append(spec.name)
            elif entry["model_number"] != spec.model.number:
                wrong.append(f"{spec.name}: expected {spec.model.name} ({spec.model.number}), "
                             f"found {entry['model']} ({entry['model_number']})")
        faults = [f.reason for f in bus.health.faults()]
    warnings = [f"{s['name']}: Return_Delay_Time {s['return_delay_us']} µs, the profile expects "
                f"{profile.return_delay_us} µs (replies come late; `vla-lite calibrate` sets it)"
                for s in servos if s["found"] and s["return_delay_us"] != profile.return_delay_us]
    with ServoBus.open(url, profile, config, baudrate) as bus:
        unexpected = _scan(bus, profile) if scan_all else []
        timing = _timing(bus, profile, cycles)
        faults += [f.reason for f in bus.health.faults() if f.reason not in faults]
    ok = not (missing or wrong or suspect or faults)
    verdict = _verdict(ok, profile, servos, missing, wrong, suspect, faults, timing)
    return {"ok": ok, "verdict": verdict + "".join(f"; warning: {w}" for w in warnings),
            "port": url, "arm": profile.name, "family": profile.family.value, "baudrate": profile.baudrate,
            "servos": servos, "missing": missing, "wrong_model": wrong, "corrupt_only": suspect,
            "unexpected": unexpected, "faults": faults, "warnings": warnings, "timing": timing}


def _servo(bus: ServoBus, spec, to_joint) -> dict:
    entry = {"id": spec.id, "name": spec.name, "expected_model": spec.model.name, "found": False,
             "model": None, "model_number": None, "position_counts": None}
    checksum_before = bus.servo_stats(spec.id).bad_checksums
    number = bus.ping(spec.id)
    try:
        if number is None:
            bus.read(spec.id, "Present_Position")  # a twin's colliding ping can pass; its reads cannot
            number = bus.read(spec.id, "Model_Number")
        firmware = bus.firmware(spec.id)
        position = bus.read(spec.id, "Present_Position")
        torque = bool(bus.read(spec.id, "Torque_Enable"))
        delay_us = 2 * bus.read(spec.id, "Return_Delay_Time")  # 2 µs units on both families
        telemetry = bus.poll_health(spec.id)
    except ServoTimeout:
        entry["corrupt_replies"] = bus.servo_stats(spec.id).bad_checksums - checksum_before
        return entry
    model = MODELS_BY_NUMBER.get((bus.dynamixel, number))
    entry.update(found=True, model=model.name if model else "unknown", model_number=number, firmware=firmware,
                 position_counts=position, torque=torque, return_delay_us=delay_us, corrupt_replies=0)
    if telemetry is not None:
        entry.update(voltage_v=telemetry.voltage_v, temperature_c=telemetry.temperature_c, load=telemetry.load,
                     error_bits=telemetry.error_bits)
    if to_joint is not None:
        entry["position"] = float(to_joint(spec.name, position))
    entry["conditions"] = sorted(c.value for c in bus.health.conditions(spec.id))
    return entry


def _scan(bus: ServoBus, profile: ArmProfile) -> list[dict]:
    found = []
    for servo_id in range(253):
        if servo_id not in profile.ids:
            number = bus.ping(servo_id, budget_s=bus.config.latency_s * 2)
            if number is not None:
                found.append({"id": servo_id, "model_number": number})
    return found


def _timing(bus: ServoBus, profile: ArmProfile, cycles: int) -> dict:
    before = {k: sum(s[k] for s in bus.stats()["servos"].values()) for k in ("retries", "bad_checksums",
                                                                            "timeouts", "stale_readings")}
    times = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        reading = bus.read_positions()
        fresh_ids = [i for i, ok in zip(reading.ids, reading.fresh) if ok]
        if fresh_ids:
            bus.write_goals([v for v, ok in zip(reading.values, reading.fresh) if ok], fresh_ids)
        times.append(time.perf_counter() - t0)
    times.sort()
    after = {k: sum(s[k] for s in bus.stats()["servos"].values()) for k in before}
    codec, n = bus.codec, len(profile.ids)
    size = profile.table["Present_Position"].size
    wire_bytes = (len(codec.sync_read(0, size, profile.ids)) + n * codec.status_size(size)
                  + len(codec.sync_write(0, size, [(i, bytes(size)) for i in profile.ids])))
    q = lambda p: round(1e3 * times[min(len(times) - 1, int(p / 100 * len(times)))], 3)  # noqa: E731
    return {"cycles": cycles, "cycle_ms": {"p50": q(50), "p99": q(99), "max": q(100)},
            "wire_ms": round(1e3 * wire_bytes * 10 / profile.baudrate + n * profile.return_delay_us / 1e3, 3),
            **{k: after[k] - before[k] for k in before}}


def _verdict(ok, profile, servos, missing, wrong, suspect, faults, timing) -> str:
    found = sum(s["found"] for s in servos)
    cycle = timing["cycle_ms"]
    if ok:
        return (f"OK: {found}/{len(servos)} servos of {profile.name}; sync read+write p50 {cycle['p50']} ms, "
                f"p99 {cycle['p99']} ms; {timing['retries']} retries, {timing['bad_checksums']} checksum failures")
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + wrong + (
        [f"only corrupt replies from {', '.join(suspect)} (duplicate ID or noise?)"] if suspect else []) + faults
    return f"FAIL: {found}/{len(servos)} servos of {profile.name}; " + "; ".join(problems)


def format_report(r: dict, units: dict[str, str] | None = None) -> str:
    """The report as a table, one servo a line, then timing and the verdict. units: {joint: unit} for the
    `position` column (given when positions were converted)."""
    lines = [f"port {r['port']}  arm {r['arm']} ({r['family']}, {r['baudrate']} baud)",
             f"{'id':>3} {'joint':<14} {'model':<11} {'fw':<5} {'counts':>6} {'position':>16} {'torque':<6} "
             f"{'volts':>5} {'temp':>4}  conditions"]
    for s in r["servos"]:
        if not s["found"]:
            why = "only corrupt replies" if s.get("corrupt_replies") else "no answer"
            lines.append(f"{s['id']:>3} {s['name']:<14} MISSING ({why}; expected {s['expected_model']})")
            continue
        pos = f"{s['position']:+.4f} {(units or {}).get(s['name'], '')}" if "position" in s else "-"
        volts = f"{s['voltage_v']:.1f}" if "voltage_v" in s else "-"
        temp = f"{s['temperature_c']}" if "temperature_c" in s else "-"
        lines.append(f"{s['id']:>3} {s['name']:<14} {s['model']:<11} {s['firmware']:<5} {s['position_counts']:>6} "
                     f"{pos:>16} {'on' if s['torque'] else 'off':<6} {volts:>5} {temp:>4}  "
                     f"{', '.join(s['conditions']) or '-'}")
    for u in r["unexpected"]:
        lines.append(f"{u['id']:>3} {'(unexpected)':<14} model number {u['model_number']}")
    t = r["timing"]
    lines.append(f"timing: {t['cycles']} sync read + sync write cycles, p50 {t['cycle_ms']['p50']} ms, p99 "
                 f"{t['cycle_ms']['p99']} ms (wire {t['wire_ms']} ms); {t['retries']} retries, {t['timeouts']} "
                 f"timeouts, {t['bad_checksums']} checksum failures")
    lines.append(r["verdict"])
    return "\n".join(lines)
