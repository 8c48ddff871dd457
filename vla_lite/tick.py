"""What the control loop is configured with (`LoopConfig`), what one tick returns (`TickResult`) and what the loop
counts beside the hold ledger (`LoopCounters`). `vla_lite.loop` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .pacing import SampleRing


@dataclass(frozen=True)
class LoopConfig:
    rate_hz: float
    max_frame_age_s: float = 0.5  # older camera frames are stale (LeRobot's default)
    max_state_age_s: float = 0.25  # an arm state older than this (or 2 periods) means the link is not answering
    command_valid_periods: float = 3.0  # a COMMAND expires after this many periods: the controller then holds

    def __post_init__(self):
        if not 0 < self.rate_hz <= 1000:
            raise ValueError(f"rate must be in (0, 1000] Hz, got {self.rate_hz!r}")
        for name in ("max_frame_age_s", "max_state_age_s", "command_valid_periods"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz


@dataclass
class TickResult:
    step: int
    command: np.ndarray | None  # what was sent (robot units, action order); None when nothing could be sent
    predicted: np.ndarray | None  # the executor's action for this step before safety, robot units
    held: bool
    reason: str | None  # why it held (a HoldReason's key: "stale camera front", "controller fault WATCHDOG")
    inferred: bool  # an inference was run or requested on this tick's observation
    timing_ms: dict = field(default_factory=dict)
    detail: str = ""  # what the reason's key leaves out (a frame's age, the safety filter's fault)
    measured: np.ndarray | None = None  # (J,) the controller's positions this tick acted on, None when none fresh
    t_s: float | None = None  # when the tick started (the loop's clock): its observation was taken then


@dataclass
class LoopCounters:
    inferences: int = 0
    inference_ms: SampleRing = field(default_factory=SampleRing)
    camera_to_command_ms: SampleRing = field(default_factory=SampleRing)
