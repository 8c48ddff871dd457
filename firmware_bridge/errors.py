"""One small error tree, grouped by the phase a caller can handle."""


class BridgeError(Exception):
    """Anything that went wrong between host and arm controller."""


class LinkError(BridgeError):
    """The port cannot be opened, read or written (absent, busy, cable pulled)."""


class ProtocolError(BridgeError):
    """Bytes arrived that are not valid frames of this protocol (not a vla-lite controller?)."""


class HandshakeError(BridgeError):
    """The controller answered but disagrees: protocol version, schema, joints, units or modes."""


class BridgeTimeout(BridgeError):
    """No answer within the deadline."""
