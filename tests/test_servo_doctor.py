"""The bus doctor over a real pty: a healthy virtual SO-101 and Koch pass; a missing servo, a duplicate ID and an
overloaded servo each fail it, by name, and the JSON-ready report has the fields the issue lists."""

import json
import time

import pytest
from servo_fixtures import quick_thread_switches  # noqa: F401 (fixture)

from vla_lite.firmware_bridge.servo import BusConfig, load_arm
from vla_lite.firmware_bridge.servo.doctor import check
from vla_lite.firmware_bridge.servo.serve import PtyServer
from vla_lite.firmware_bridge.servo.virtual_bus import VirtualBus

CONFIG = BusConfig(latency_s=0.02, budget_s=0.2)


pytestmark = pytest.mark.usefixtures("quick_thread_switches")


@pytest.mark.parametrize("arm", ["so101", "koch"])
def test_healthy_bus_passes(arm):
    with PtyServer(VirtualBus(load_arm(arm), now_s=time.monotonic())).start() as server:
        report = check(server.port, arm, cycles=30, config=CONFIG, to_joint=lambda name, counts: counts / 4096)
    json.dumps(report)  # JSON-ready
    assert report["ok"] and report["verdict"].startswith("OK: 6/6 servos") and report["missing"] == []
    first = report["servos"][0]
    assert {"id", "name", "model", "position_counts", "position"} <= set(first)
    assert first["position_counts"] == 2048 and first["position"] == 0.5 and first["model"] == load_arm(arm).servos[0].model.name
    assert report["timing"]["cycles"] == 30 and report["timing"]["cycle_ms"]["p99"] > 0
    assert report["timing"]["wire_ms"] > 0


def test_missing_duplicate_and_overload_fail_by_name():
    bus = VirtualBus(load_arm("so101"), now_s=time.monotonic())
    bus.vanish(5)
    bus.add_duplicate(3, time.monotonic())
    bus.set_overload(6)
    with PtyServer(bus).start() as server:
        report = check(server.port, "so101", cycles=10, config=CONFIG, scan_all=False)
    assert not report["ok"] and report["verdict"].startswith("FAIL: 4/6 servos")
    assert report["missing"] == ["wrist_roll"] and report["corrupt_only"] == ["elbow_flex"]
    assert any("gripper (ID 6)" in f and "overload" in f for f in report["faults"])


def test_scan_finds_an_unexpected_id():
    profile = load_arm("so101")
    bus = VirtualBus(profile, now_s=time.monotonic())
    bus.servos[5]._put("ID", 9)  # the gripper answers to ID 9 instead of 6
    with PtyServer(bus).start() as server:
        report = check(server.port, profile, cycles=5, config=BusConfig(latency_s=0.005, budget_s=0.05),
                       scan_all=True)
    assert report["missing"] == ["gripper"] and report["unexpected"] == [{"id": 9, "model_number": 777}]
