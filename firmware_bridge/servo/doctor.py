"""The servo-bus doctor: scan a bus against an arm profile and report what was found, as one dict.

`check(url, arm)` pings every expected ID (and, with scan_all, every other ID), reads each servo's model, firmware,
voltage, temperature, present position (raw counts; in joint units too when `to_joint` is given), torque state and
error bits, then times `cycles` sync read + sync write cycles (each goal is the position just read, so a servo
holds still; a stale position is never written back). ok is False on any missing servo, a wrong model, a servo
whose replies only come corrupt (a duplicate ID or noise), or any latched health condition.
"""

from __future__ import annotations

import time

from .arms import ArmProfile, load_arm
from .bus import BusConfig, ServoBus
from .errors import ServoTimeout
from .tables import MODELS_BY_NUMBER


def check(url: str, arm: str | ArmProfile, *, cycles: int = 200, scan_all: bool = False,
          config: BusConfig = BusConfig(), to_joint=None) -> dict:
    """The report (see module doc). to_joint(name, counts) -> float adds joint-unit positions. Raises
    ServoLinkError when the port cannot be opened."""
    if cycles < 1:
        raise ValueError(f"cycles must be >= 1, got {cycles}")
    profile = arm if isinstance(arm, ArmProfile) else load_arm(arm)
    with ServoBus.open(url, profile, config) as bus:
        servos, missing, wrong, suspect = [], [], [], []
        for spec in profile.servos:
            entry = _servo(bus, spec, to_joint)
            servos.append(entry)
            if not entry["found"]:
                (suspect if entry["corrupt_replies"] else missing).append(spec.name)
            elif entry["model_number"] != spec.model.number:
                wrong.append(f"{spec.name}: expected {spec.model.name} ({spec.model.number}), "
                             f"found {entry['model']} ({entry['model_number']})")
        unexpected = _scan(bus, profile) if scan_all else []
        timing = _timing(bus, profile, cycles)
        faults = [f.reason for f in bus.health.faults()]
    ok = not (missing or wrong or suspect or faults)
    return {"ok": ok, "verdict": _verdict(ok, profile, servos, missing, wrong, suspect, faults, timing),
            "port": url, "arm": profile.name, "family": profile.family.value, "baudrate": profile.baudrate,
            "servos": servos, "missing": missing, "wrong_model": wrong, "corrupt_only": suspect,
            "unexpected": unexpected, "faults": faults, "timing": timing}


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
        telemetry = bus.poll_health(spec.id)
    except ServoTimeout:
        entry["corrupt_replies"] = bus.servo_stats(spec.id).bad_checksums - checksum_before
        return entry
    model = MODELS_BY_NUMBER.get((bus.dynamixel, number))
    entry.update(found=True, model=model.name if model else "unknown", model_number=number, firmware=firmware,
                 position_counts=position, torque=torque, corrupt_replies=0)
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
