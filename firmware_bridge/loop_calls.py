"""Functions run in one loop's thread, asked for from any thread (the arm server's fds belong to its loop).

The loop polls `wake_fd` and, when it is readable, calls `drain_wake()` then `run_pending()`. `call(fn)` from
another thread queues fn, wakes the loop through a pipe and waits for the result (or fn's exception); from the loop's
own thread, or while no loop runs, it calls fn at once.
"""

from __future__ import annotations

import os
import threading
from collections import deque

CALL_TIMEOUT_S = 5.0  # how long call() waits for the loop to run fn


class LoopCalls:
    def __init__(self):
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_w, False)
        self._queue: deque[list] = deque()  # [fn, done Event, result, exception] from other threads
        self.lock = threading.Lock()  # guards loop_thread and the choice between queueing and calling at once
        self.loop_thread: threading.Thread | None = None  # the thread running the loop, if any

    def call(self, fn, after_direct=None):
        """fn() in the loop's thread; its result, or its exception raised here. Called at once (then after_direct())
        when no loop runs or we are the loop. Raises TimeoutError if the loop does not run it within 5 s."""
        item = [fn, threading.Event(), None, None]
        with self.lock:
            loop = self.loop_thread
            direct = loop is None or loop is threading.current_thread()
            if not direct:
                self._queue.append(item)
        if direct:
            result = fn()
            if after_direct is not None:
                after_direct()
            return result
        self.wake()
        if not item[1].wait(CALL_TIMEOUT_S):
            raise TimeoutError(f"the arm server loop did not run the request within {CALL_TIMEOUT_S:g} s")
        if item[3] is not None:
            raise item[3]
        return item[2]

    def run_pending(self) -> None:
        """In the loop's thread: run what other threads asked for, and release their waits."""
        while self._queue:
            item = self._queue.popleft()
            try:
                item[2] = item[0]()
            except BaseException as exc:
                item[3] = exc
            item[1].set()

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"\x00")
        except (BlockingIOError, OSError):
            pass  # full (already awake) or closed

    def drain_wake(self) -> None:
        try:
            while os.read(self.wake_fd, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        os.close(self.wake_fd)
        os.close(self._wake_w)
