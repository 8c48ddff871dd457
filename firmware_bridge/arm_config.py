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


# The simulated tabletop's SCARA (vla_lite.worlds.tabletop, and so the demo bundle's joints): name, unit, pos_min,
# pos_max, vel_max, acc_max, effort_max. The world builds its controller from these figures (limits from its
# geometry); `vla-lite sim-arm --arm tabletop` serves them without the world, for `run --camera sim`.
TABLETOP_JOINTS = (("shoulder", Unit.RAD, -2.6, 2.6, 2.5, 8.0, 20.0),
                   ("elbow", Unit.RAD, -2.6, 2.6, 3.0, 10.0, 10.0),
                   ("lift", Unit.M, 0.0, 0.12, 0.15, 1.0, 40.0),
                   ("gripper", Unit.M, 0.0, 0.04, 0.05, 0.5, 20.0))
TABLETOP_HOME = (0.0, 2.5, 0.10, 0.04)  # folded, tool raised, gripper open: rad, rad, m, m
TABLETOP_NAME = "vla-lite sim SCARA"


def tabletop_arm() -> ArmConfig:
    """The tabletop SCARA's joint contract (joint positions and velocities; EE_DELTA needs the world's kinematics)."""
    return ArmConfig(TABLETOP_NAME, tuple(JointInfo(*j) for j in TABLETOP_JOINTS))


# `vla-lite sim-arm --arm NAME`: the arms served as a vla-lite protocol controller, with their start positions.
CONTROLLER_ARMS = {"generic": (default_arm, None), "tabletop": (tabletop_arm, TABLETOP_HOME)}
