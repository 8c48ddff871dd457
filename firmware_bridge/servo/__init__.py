"""Servo buses people own: Feetech STS/SMS/SCS (SO-100/SO-101) and Dynamixel Protocol 2.0 (Koch), in raw counts.

`feetech` and `dynamixel` are pure codecs (bytes only, fuzzed, checked against the vendors' SDKs), `tables` the
control tables and models as data, `arms` the arm profiles (built-in JSON in arms/ or a user's file), `bus` the
driver (`ServoBus`), `virtual_bus` + `serve` virtual servos on a pty that users run too (`plant`: the hook that lets a
simulation move their shafts), `doctor` the bus check.
Nothing here imports the rest of vla-lite; joint units and calibration belong to the runtime adapter.
"""

from .arms import ArmProfile, JointUnit, ServoSpec, builtin_arms, load_arm
from .bus import BusConfig, ServoBus
from .errors import ServoBusError, ServoConfigError, ServoLinkError, ServoProtocolError, ServoTimeout
from .health import Condition, Fault, Telemetry
from .plant import Plant, ShaftState
from .readings import ServoStats, SyncReading
from .tables import Family, OperatingMode

__all__ = ["ArmProfile", "JointUnit", "ServoSpec", "builtin_arms", "load_arm", "BusConfig", "ServoBus", "ServoBusError",
           "ServoConfigError", "ServoLinkError", "ServoProtocolError", "ServoTimeout", "Condition", "Fault",
           "Telemetry", "Plant", "ShaftState", "ServoStats", "SyncReading", "Family", "OperatingMode"]
