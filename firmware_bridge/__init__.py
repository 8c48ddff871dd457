"""The serial link between the robot computer and the arm controller.

`protocol` is the pure codec, `link` the host side over any pyserial URL, `virtual_arm` the controller that ships
as product code, served by `arm_server` on a pty or TCP port (`transports`; `sim_arm` is the command), `doctor` the
port checker. PROTOCOL.md is the specification.
"""

from .errors import BridgeError, BridgeTimeout, HandshakeError, LinkError, ProtocolError
from .protocol import PROTOCOL_MAJOR, PROTOCOL_MINOR, SCHEMA_HASH, Mode

__all__ = ["BridgeError", "BridgeTimeout", "HandshakeError", "LinkError", "ProtocolError", "Mode",
           "PROTOCOL_MAJOR", "PROTOCOL_MINOR", "SCHEMA_HASH"]
