"""Optional real-time settings for the control process: SCHED_FIFO priority, CPU affinity, a frozen GC.

Each is asked for explicitly and each refusal by the OS becomes a note the run prints, never an exception: a loop
without real-time priority still runs, just with more jitter (shared/NOTES.md: p99 ~3-5 ms vs ~0.05 ms).
"""

from __future__ import annotations

import gc
import os


def apply_realtime(priority: int | None = None, cpus: list[int] | None = None, freeze_gc: bool = True) -> list[str]:
    """Apply what was asked; returns human-readable notes of what took effect and what the OS refused."""
    notes = []
    if cpus:
        try:
            os.sched_setaffinity(0, set(cpus))
            notes.append(f"CPU affinity: {sorted(os.sched_getaffinity(0))}")
        except (OSError, ValueError, AttributeError) as exc:
            notes.append(f"CPU affinity {cpus} refused by the OS ({exc}); running on "
                         f"{sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else 'all CPUs'}")
    if priority is not None:
        if not 1 <= priority <= 99:
            raise ValueError(f"real-time priority must be 1..99, got {priority}")
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
            notes.append(f"SCHED_FIFO priority {priority}")
        except (PermissionError, OSError, AttributeError) as exc:
            notes.append(f"SCHED_FIFO priority {priority} refused by the OS ({exc}); needs root or CAP_SYS_NICE "
                         "(e.g. `sudo setcap cap_sys_nice+ep $(readlink -f $(which python3))`, or an rtprio limit "
                         "in /etc/security/limits.conf); running with the default scheduler")
    if freeze_gc:
        gc.collect()
        gc.freeze()  # start-up objects leave the collector: a full collection no longer pauses the loop ~100 ms
        notes.append(f"gc frozen ({gc.get_freeze_count()} objects)")
    return notes


def restore_scheduler() -> None:
    """Back to SCHED_OTHER (e.g. before joining helper threads at exit). Never raises."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        pass
