"""Servo-bus errors, one small tree by phase, inside the bridge's own tree (a caller catching LinkError or
BridgeTimeout for the vla-lite controller catches the same phase on a servo bus)."""

from ..errors import BridgeError, BridgeTimeout, LinkError, ProtocolError


class ServoBusError(BridgeError):
    """Anything that went wrong on a Feetech or Dynamixel servo bus."""


class ServoConfigError(ServoBusError, ValueError):
    """A profile, control table, register name or value that cannot be used (found before any byte is sent)."""


class ServoLinkError(ServoBusError, LinkError):
    """The port cannot be opened, read or written (absent, busy, cable pulled)."""


class ServoProtocolError(ServoBusError, ProtocolError):
    """A servo answered, but not as the protocol says (wrong length, error status, refused write)."""


class ServoTimeout(ServoBusError, BridgeTimeout):
    """No valid reply within the call's budget, retries included."""
