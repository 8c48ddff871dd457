"""vla-lite's servo-bus driver against the virtual servos over a real pty, under every fault kind: a missing or
corrupt reply leaves that servo stale and the others fresh, no exception escapes a sync read because of one bad
packet, and every loss is counted per servo (the totals equal what the virtual bus injected).

Timeouts here bound liveness only; nothing asserts a duration."""

import time

import numpy as np
import pytest
from servo_fixtures import quick_thread_switches  # noqa: F401 (fixture)

from vla_lite.firmware_bridge.servo import BusConfig, Condition, ServoBus, load_arm
from vla_lite.firmware_bridge.servo.arms import arm_from_dict
from vla_lite.firmware_bridge.servo.errors import ServoConfigError, ServoLinkError, ServoTimeout
from vla_lite.firmware_bridge.servo.serve import PtyServer
from vla_lite.firmware_bridge.servo.virtual_bus import Faults, VirtualBus

ARMS = ["so101", "koch"]


pytestmark = pytest.mark.usefixtures("quick_thread_switches")


def serve(arm, faults=None, profile=None):
    profile = profile or load_arm(arm)
    server = PtyServer(VirtualBus(profile, faults, now_s=time.monotonic())).start()
    # A generous latency allowance: this test host is shared; a late reply would only make a retry.
    bus = ServoBus.open(server.port, profile, BusConfig(latency_s=0.02, budget_s=0.2))
    return server, bus


def totals(bus, key):
    return sum(s[key] for s in bus.stats()["servos"].values())


@pytest.mark.parametrize("arm", ARMS)
def test_clean_bus_reads_fresh_and_writes_goals(arm):
    server, bus = serve(arm)
    with server, bus:
        reading = bus.read_positions()
        assert reading.all_fresh and reading.values.tolist() == [2048] * 6 and reading.ids == (1, 2, 3, 4, 5, 6)
        assert np.all(reading.stamps_s > time.monotonic() - 5) and reading.errors.tolist() == [0] * 6
        bus.torque(True)
        bus.write_goals([1000, 1100, 1200, 1300, 1400, 1500])
        deadline = time.monotonic() + 5
        while bus.read_positions().values.tolist() != [1000, 1100, 1200, 1300, 1400, 1500]:
            assert time.monotonic() < deadline, "servos did not reach their goals"
            time.sleep(0.02)
        assert totals(bus, "timeouts") == totals(bus, "bad_checksums") == totals(bus, "stale_readings") == 0


@pytest.mark.parametrize("arm", ARMS)
def test_vanished_servo_is_stale_others_fresh_then_back(arm):
    server, bus = serve(arm)
    with server, bus:
        first = bus.read_positions()
        with server.lock:
            server.bus.vanish(3)
        reading = bus.read_positions()  # no exception
        assert reading.fresh.tolist() == [True, True, False, True, True, True]
        assert reading.values[2] == 2048 and reading.stamps_s[2] == first.stamps_s[2]  # last known, old stamp
        assert reading.age_s(time.monotonic())[2] > reading.age_s(time.monotonic())[0]
        stats = bus.servo_stats(3)
        assert stats.timeouts >= 2 and stats.retries >= 1 and stats.stale_readings == 1
        assert bus.servo_stats(1).timeouts == 0
        with server.lock:
            server.bus.restore(3)
        assert bus.read_positions().all_fresh


@pytest.mark.parametrize("arm", ARMS)
def test_corrupt_replies_are_counted_as_checksum_failures_never_returned(arm):
    server, bus = serve(arm, Faults(corrupt_rate=1.0, ids=frozenset({4})))
    with server, bus:
        reading = bus.read_positions()
        assert reading.fresh.tolist() == [True, True, True, False, True, True]
        assert reading.values[3] == 0 and reading.stamps_s[3] == -np.inf  # never read: no made-up value
        assert bus.servo_stats(4).bad_checksums == server.bus.stats.corrupted >= 1
        assert bus.servo_stats(4).timeouts == 0


@pytest.mark.parametrize("arm", ARMS)
def test_stray_bytes_before_every_reply_are_skipped(arm):
    server, bus = serve(arm, Faults(stray_rate=1.0, seed=3))
    with server, bus:
        for _ in range(30):
            assert bus.read_positions().all_fresh
        assert bus.stats()["decoder"]["discarded_bytes"] > 0
        assert server.bus.stats.stray >= 30 * 6


@pytest.mark.parametrize("arm", ARMS)
def test_mixed_faults_never_raise_and_every_loss_is_counted(arm):
    server, bus = serve(arm, Faults(drop_rate=0.05, corrupt_rate=0.05, stray_rate=0.05, seed=11))
    with server, bus:
        stale = 0
        for _ in range(300):
            reading = bus.read_positions()
            stale += int((~reading.fresh).sum())
        injected = server.bus.stats
        assert injected.dropped > 0 and injected.corrupted > 0
        assert totals(bus, "timeouts") == injected.dropped
        assert totals(bus, "bad_checksums") == injected.corrupted
        assert totals(bus, "stale_readings") == stale
        assert totals(bus, "retries") >= stale


def test_duplicate_id_collides_and_is_stale():
    server, bus = serve("so101")
    with server, bus:
        with server.lock:
            server.bus.add_duplicate(3, time.monotonic())
        reading = bus.read_positions()
        assert reading.fresh.tolist() == [True, True, False, True, True, True]
        assert bus.servo_stats(3).bad_checksums >= 1 and server.bus.stats.collisions >= 1


@pytest.mark.parametrize("arm, condition", [("so101", Condition.OVERLOAD), ("koch", Condition.OVERLOAD)])
def test_overload_is_a_latched_named_condition(arm, condition):
    server, bus = serve(arm)
    with server, bus:
        with server.lock:
            server.bus.set_overload(6)
        bus.read_positions()
        bus.poll_health(6)
        faults = {f.condition: f for f in bus.health.faults() if f.servo_id == 6}
        assert condition in faults and faults[condition].reason.startswith("gripper (ID 6): ")
        with server.lock:
            server.bus.set_overload(6, False)
        bus.poll_health(6)
        assert condition in bus.health.conditions(6)  # latched until cleared
        bus.health.clear()
        assert bus.health.conditions(6) == frozenset()


@pytest.mark.parametrize("arm", ARMS)
def test_overheat_and_low_supply_name_values_and_limits(arm):
    server, bus = serve(arm)
    with server, bus:
        with server.lock:
            server.bus.set_temperature(2, 80)
            server.bus.set_voltage(5, 3.0)
        hot, low = bus.poll_health(2), bus.poll_health(5)
        assert hot.temperature_c == 80 and low.voltage_v == 3.0
        reasons = [f.reason for f in bus.health.faults()]
        assert any("shoulder_lift (ID 2): temperature 80 °C >= limit" in r for r in reasons)
        assert any("wrist_roll (ID 5): supply 3.0 V < minimum" in r for r in reasons)
        assert Condition.UNDER_VOLTAGE in bus.health.conditions(5)


def test_health_is_polled_a_servo_at_a_time_during_sync_reads():
    profile = load_arm("so101")
    server = PtyServer(VirtualBus(profile, now_s=time.monotonic())).start()
    bus = ServoBus.open(server.port, profile, BusConfig(latency_s=0.02, budget_s=0.2, health_period_s=0.06))
    with server, bus:
        with server.lock:
            server.bus.set_temperature(4, 90)
        deadline = time.monotonic() + 5
        while len(bus.health.telemetry) < 6:
            assert time.monotonic() < deadline, f"health reached only {sorted(bus.health.telemetry)}"
            bus.read_positions()
            time.sleep(0.005)
        assert Condition.OVER_TEMPERATURE in bus.health.conditions(4)


def test_eeprom_only_through_write_eeprom_and_lock_restored():
    server, bus = serve("so101")
    with server, bus:
        with pytest.raises(ServoConfigError, match="Homing_Offset is in EEPROM: use write_eeprom"):
            bus.write(3, "Homing_Offset", 10)
        with pytest.raises(ServoConfigError, match="Present_Position is read-only"):
            bus.write(3, "Present_Position", 10)
        bus.write_eeprom(3, "Homing_Offset", -100)
        servo = server.bus.servo(3)
        assert servo.get("Homing_Offset") == -100 and servo.get("Lock") == 1 and servo.eeprom_writes == 1
        assert bus.read(3, "Present_Position") == 2148  # present = shaft - offset
        with pytest.raises(ServoConfigError, match="magnitude 2114 exceeds 2047"):
            bus.write_eeprom(3, "Homing_Offset", 2114)


def test_dynamixel_eeprom_needs_torque_off():
    server, bus = serve("koch")
    with server, bus:
        bus.torque(True, ids=[2])
        with pytest.raises(ServoConfigError, match=r"shoulder_lift \(ID 2\): torque is on"):
            bus.write_eeprom(2, "Homing_Offset", 100)
        bus.torque(False, ids=[2])
        bus.write_eeprom(2, "Homing_Offset", 100)
        assert server.bus.servo(2).get("Homing_Offset") == 100 and bus.read(2, "Present_Position") == 2148


def test_torque_tries_every_servo_then_names_the_silent_one():
    server, bus = serve("so101")
    with server, bus:
        with server.lock:
            server.bus.vanish(5)
        with pytest.raises(ServoTimeout, match=r"torque on not confirmed: wrist_roll \(ID 5\): no valid reply"):
            bus.torque(True)
        assert [s.get("Torque_Enable") for s in server.bus.servos] == [1, 1, 1, 1, 0, 1]


def test_fast_sync_read_falls_back_to_plain_sync_read_for_the_rest():
    data = load_arm("koch")
    profile = arm_from_dict({"name": "koch-fast", "family": "dynamixel_x", "baudrate": 1_000_000,
                             "return_delay_us": 0, "fast_sync_read": True,
                             "servos": [{"name": s.name, "id": s.id, "model": s.model.name, "mode": s.mode.value}
                                        for s in data.servos]})
    server, bus = serve("koch", profile=profile)
    with server, bus:
        assert bus.read_positions().all_fresh and totals(bus, "retries") == 0
        with server.lock:
            server.bus.vanish(4)
        reading = bus.read_positions()
        assert reading.fresh.tolist() == [True, True, True, False, True, True]


def test_a_pulled_cable_is_a_link_error_not_a_stale_reading():
    server, bus = serve("so101")
    with bus:
        bus.read_positions()
        server.close()
        with pytest.raises(ServoLinkError):
            for _ in range(3):
                bus.read_positions()


def test_unknown_register_and_bad_values_name_them():
    server, bus = serve("so101")
    with server, bus:
        with pytest.raises(ServoConfigError, match="no register 'Goal_Pos'"):
            bus.read(1, "Goal_Pos")
        with pytest.raises(ServoConfigError, match="5 values for 6 servos"):
            bus.write_goals([1, 2, 3, 4, 5])
        with pytest.raises(ServoConfigError, match="Goal_Position = 40000: magnitude 40000 exceeds 32767"):
            bus.write_goals([40000, 0, 0, 0, 0, 0])
