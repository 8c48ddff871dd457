"""What a controller announces at HELLO_ACK: its joints, limits, modes and timing, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import HelloAck, JointInfo, Mode, SCHEMA_HASH, Unit


@dataclass(frozen=True)
class ArmConfig:
    name: str
    joints: tuple[JointInfo, ...]
    modes: tuple[Mode, ...] = (Mode.JOINT_POSITION, Mode.JOINT_VELOCITY)
    max_rate_hz: float = 500.0
    watchdog_ms: int = 100  # hold + latch WATCHDOG after this silence
    torque_off_ms: int = 2000  # torque off after this silence (0: never)
    firmware: tuple[int, int, int] = (0, 1, 0)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def hello_ack(self) -> HelloAck:
        return HelloAck(SCHEMA_HASH, self.firmware, self.modes, self.max_rate_hz, self.watchdog_ms,
                        self.torque_off_ms, self.name, self.joints)

    @classmethod
    def from_hello_ack(cls, ack: HelloAck) -> "ArmConfig":
        return cls(ack.name, ack.joints, ack.modes, ack.max_rate_hz, ack.watchdog_ms, ack.torque_off_ms,
                   ack.firmware)


def default_arm(n_revolute: int = 6) -> ArmConfig:
    """A generic 6-DoF arm plus a parallel gripper (prismatic, m), the default of `vla-lite sim-arm`."""
    names = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"]
    if not 1 <= n_revolute <= 31:
        raise ValueError(f"n_revolute must be 1..31, got {n_revolute}")
    names = (names + [f"joint_{i}" for i in range(len(names), n_revolute)])[:n_revolute]
    joints = tuple(JointInfo(n, Unit.RAD, -3.0, 3.0, 2.0, 10.0, 20.0) for n in names)
    joints += (JointInfo("gripper", Unit.M, 0.0, 0.08, 0.2, 2.0, 40.0),)
    return ArmConfig("vla-lite virtual-arm", joints)
