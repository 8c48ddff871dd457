"""Changing the instruction while the loop runs: a line on stdin, a loopback TCP socket, or a FIFO.

Every source posts to one `InstructionInbox`, which checks and encodes the text in the *poster's* thread (the text
encoder caches per distinct instruction), so the control thread only swaps an array: no encoder run on the control
path. Sources start threads only when `start()` is called. The socket binds to 127.0.0.1 unless told otherwise.

    echo "touch the blue block" | nc 127.0.0.1 7011      # socket: one instruction per line, answered "ok ..."
    echo "touch the blue block" > /tmp/vla-instructions  # FIFO (refusals are logged on stderr)

No source can hurt the loop: lines are read in bounded pieces (a line longer than MAX_LINE bytes is refused as soon
as it passes the limit and the rest is skipped to the next newline, never buffered), the socket serves every client
from one thread through `selectors` with non-blocking sockets and a per-client idle timeout, and every line is
answered `ok <text>` or `refused: <reason>`.
"""

from .inbox import InstructionInbox
from .lines import TOO_LONG, LineSplitter
from .server import SocketSource
from .sources import MAX_LINE, FifoSource, StreamSource, check_fifo_path

__all__ = ["MAX_LINE", "TOO_LONG", "FifoSource", "InstructionInbox", "LineSplitter", "SocketSource", "StreamSource",
           "check_fifo_path"]
