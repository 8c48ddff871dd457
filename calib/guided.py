"""The guided joint calibration on a servo bus, as steps a CLI or a vendor UI calls between its own prompts
(nothing here prompts or prints):

    bus = open_arm(port, profile)               # a ServoBus on the arm, generous timeouts (calibration is not a loop)
    release(bus, profile)                       # torque off, Homing_Offset 0, limits the whole turn, reply delay
    # the person holds the arm in the middle pose
    offsets = home(bus, profile)                # HomingError (nothing written) when an offset would overflow
    rec = start_recording(bus, profile)         # then, while the person moves every joint through its range:
    positions = sample(bus, rec)                #   one read, one RangeRecorder update (None: a stale read, skipped)
    cal = finish(bus, profile, offsets, rec)    # the ArmCalibration (firmware read from the servos)
    write_limits(bus, cal)                      # only if asked: Min/Max_Position_Limit to EEPROM, Lock restored

Verifying an arm already calibrated with `cal`: offset_mismatches(bus, cal) == {} says its servos still hold the
file's offsets; then rec = start_recording(...), sample(...) while the person reaches every joint's ends, and
drift_check(cal, rec.observed()) gives the drift in counts.

Homing offsets go to EEPROM (they survive a power cycle), as LeRobot writes them (its Feetech disable_torque
clears Lock, so its Homing_Offset writes persist); the bus restores Lock after each write.
"""

from __future__ import annotations

import numpy as np

from ..firmware_bridge.servo import BusConfig, ServoBus
from .arm_calibration import ArmCalibration
from .arm_profiles import ArmProfile
from .errors import ArmReadError
from .homing import RangeRecorder, calibration_from_recording, homing_offsets
from .joints import servo_model

# Calibration is not a control loop: a slow USB adapter or a busy host may take its time.
CALIBRATION_BUS = BusConfig(latency_s=0.005, budget_s=0.05, max_retries=3, health_period_s=5.0)
READ_ATTEMPTS = 5  # sync reads tried before a servo that never answers is named


def open_arm(port: str, profile: ArmProfile, config: BusConfig = CALIBRATION_BUS,
             baudrate: int | None = None) -> ServoBus:
    """A ServoBus for the arm (any pyserial URL; default baud the profile's). ServoLinkError when the port cannot
    be opened."""
    return ServoBus.open(port, profile.bus, config, baudrate)


def read_positions(bus: ServoBus, attempts: int = READ_ATTEMPTS) -> np.ndarray:
    """(J,) Present_Position counts of every joint, all read fresh in one call; ArmReadError naming the servos
    that did not answer in `attempts` calls."""
    for _ in range(attempts):
        reading = bus.read_positions()
        if reading.all_fresh:
            return reading.values.copy()
    stale = [f"{s.name} (ID {s.id})" for s, ok in zip(bus.profile.servos, reading.fresh) if not ok]
    raise ArmReadError(f"no reading from {', '.join(stale)} in {attempts} tries: check its cable and power "
                       f"(`vla-lite doctor --port {bus.url} --arm {bus.profile.name}` lists what answers)")


def release(bus: ServoBus, profile: ArmProfile) -> None:
    """Torque off, then every Homing_Offset 0 and the position limits the whole turn (LeRobot's reset before
    homing), and Return_Delay_Time the profile's (2 µs units; LeRobot's configure_motors sets 0, the factory 500
    µs would make every reply late for the driver's windows). EEPROM is written only where a value differs."""
    bus.torque(False)
    delay = profile.bus.return_delay_us // 2
    for j in profile.joints:
        model = servo_model(j.servo_model)
        for register, value in (("Homing_Offset", 0), ("Min_Position_Limit", 0),
                                ("Max_Position_Limit", model.max_count), ("Return_Delay_Time", delay)):
            if bus.read(j.servo_id, register) != value:
                bus.write_eeprom(j.servo_id, register, value)


def home(bus: ServoBus, profile: ArmProfile) -> tuple[int, ...]:
    """Read the middle pose (after release) and write the homing offsets that make it read mid-range. Raises
    HomingError, before anything is written, when an offset would not fit its register."""
    offsets = homing_offsets(profile, read_positions(bus))
    for j, offset in zip(profile.joints, offsets):
        bus.write_eeprom(j.servo_id, "Homing_Offset", offset)
    return offsets


def start_recording(bus: ServoBus, profile: ArmProfile) -> RangeRecorder:
    return RangeRecorder(profile, read_positions(bus))


def sample(bus: ServoBus, recorder: RangeRecorder) -> np.ndarray | None:
    """One read while the person moves the joints: the positions, recorded; None when a servo's reply was lost
    (a stale value is never recorded as an end of the range). RangeRecordingError when a joint crossed the wrap."""
    reading = bus.read_positions()
    if not reading.all_fresh:
        return None
    recorder.update(reading.values)
    return reading.values.copy()


def firmware_versions(bus: ServoBus, profile: ArmProfile) -> dict[str, str]:
    return {j.name: bus.firmware(j.servo_id) for j in profile.joints}


def finish(bus: ServoBus, profile: ArmProfile, offsets, recorder: RangeRecorder) -> ArmCalibration:
    """The ArmCalibration of this run. RangeRecordingError naming the joints that did not move."""
    return calibration_from_recording(profile, offsets, recorder.ranges(), firmware_versions(bus, profile))


def write_limits(bus: ServoBus, cal: ArmCalibration) -> None:
    """Each joint's recorded range to its servo's Min/Max_Position_Limit (EEPROM; Lock restored, read back)."""
    for j in cal.joints:
        bus.write_eeprom(j.servo_id, "Min_Position_Limit", j.range_min)
        bus.write_eeprom(j.servo_id, "Max_Position_Limit", j.range_max)


def offset_mismatches(bus: ServoBus, cal: ArmCalibration, names=None,
                      budget_s: float | None = None) -> dict[str, tuple[int, int]]:
    """{joint: (servo's Homing_Offset, file's)} where they differ, over `names` (default every joint): empty when
    the arm still holds this calibration."""
    joints = [j for j in cal.joints if names is None or j.name in names]
    found = {j.name: (bus.read(j.servo_id, "Homing_Offset", budget_s), j.homing_offset) for j in joints}
    return {name: pair for name, pair in found.items() if pair[0] != pair[1]}
