"""One observation in the shape the policy graph expects (docs/BUNDLE.md): images, normalised state, instruction,
and the `Observer` that takes it each tick from the link and the cameras, or says why the arm must hold instead.

The Observer trusts a controller state only when it is fresh and taken after the loop's last restart, both judged
by when the controller took it (the link's `latest_state_taken_s`: a reply that sat in a buffer, or was on its
way while the world was reset, arrives looking new), fresh meaning taken less than max_state_age_s (or two
periods) ago; and only when finite and free of controller faults; and camera frames only when younger than
max_frame_age_s. Each newly latched controller fault, a lost link and a camera whose capture stopped are counted
once in the ledger (vla_lite.holds) with their detail. A link that can say more than the protocol's fault flags
(`NamesFaults`: a servo arm names the servo and the condition) has its faults held and counted by those names.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from .cameras.base import CameraStopped, StaleFrame
from .firmware_bridge import protocol as p
from .holds import Hold, HoldReason

CLEAR_HINT = "latched: the arm holds until it is cleared (vla-lite run --clear-faults clears it at start)"


@runtime_checkable
class NamesFaults(Protocol):
    def named_faults(self) -> list[tuple[str, str]]:
        """(subject, detail) of each fault latched now: the subject names where and what with no value in it
        ("elbow_flex (ID 3) over-temperature": it keys counts), the detail the values."""


class Observation(NamedTuple):
    images: dict[str, np.ndarray]  # camera name -> (1, H, W, 3) float32, preprocessed per the manifest
    state: np.ndarray  # (1, S) float32, normalised
    instruction: np.ndarray  # (1, E) float32 embedding
    step: int  # control step at which it was taken (inference delay is counted from here)
    t_capture_s: float  # oldest camera capture time in it, monotonic s (camera-to-command latency starts here)


def state_vector(position, names_in_manifest, names_on_arm) -> np.ndarray:
    """Reorder the controller's joint positions into the manifest's state order (refuses unknown names)."""
    index = {n: i for i, n in enumerate(names_on_arm)}
    missing = [n for n in names_in_manifest if n not in index]
    if missing:
        raise ValueError(f"the bundle's state needs joints {missing} that the controller does not report "
                         f"(controller joints: {list(names_on_arm)})")
    return np.asarray([position[index[n]] for n in names_in_manifest], dtype=np.float32)


class Observer:
    """Takes the loop's observation each tick. bundle: vla_lite.bundle.Bundle; link: ArmLink; cameras: name ->
    Camera; preprocessors: name -> fn(uint8 frame) -> (1, H, W, 3) float32; config: LoopConfig; ledger:
    HoldLedger."""

    def __init__(self, bundle, link, cameras: dict, preprocessors: dict, config, ledger):
        self.bundle, self.link, self.cameras, self.preprocessors = bundle, link, cameras, preprocessors
        self.config, self.ledger = config, ledger
        self.state_names = tuple(bundle.manifest.state.names)
        self.last_state: np.ndarray | None = None  # (S,) robot units of the newest observation
        self._restart_s: float | None = None  # clock() of the last restart(): only states taken after it count
        self._link_up = True  # for saying when the link goes down and comes back
        self._latched: set[str] = set()  # fault keys latched in the last fresh state, for counting each latch once

    def restart(self, now_s: float) -> None:
        """The arm was moved under the loop at or before now_s (clock()): states taken until then describe it as
        it was, wherever they are on their way; wait for one taken after."""
        self._restart_s = now_s

    def observe(self, step: int, now: float, embedding: np.ndarray):
        """(measured positions or None, Observation or None, raw frames or None, Hold or None): what one tick acts
        on, or why it must hold."""
        link = self.link
        link.poll()
        if not self._link_up_now(now):
            return None, None, None, Hold(HoldReason.LINK_DOWN, detail=str(link.fault))
        st, taken_s = link.latest_state, link.latest_state_taken_s
        if st is not None and self._restart_s is not None and taken_s <= self._restart_s:
            return None, None, None, Hold(HoldReason.RESTARTING)
        if st is None or now - taken_s > max(self.config.max_state_age_s, 2 * self.config.period_s):
            age = "none yet" if st is None else "newest of unknown age" if taken_s == -math.inf else \
                f"newest taken {1e3 * (now - taken_s):.0f} ms ago"
            return None, None, None, Hold(HoldReason.NO_STATE, detail=age)
        measured = np.asarray(st.position, dtype=np.float64)
        if not np.all(np.isfinite(measured)):
            return None, None, None, Hold(HoldReason.BAD_STATE)
        fault = self._fault_hold(st.faults, now)
        if fault is not None:
            return measured, None, None, fault
        images, frames, oldest = {}, {}, now
        for name, cam in self.cameras.items():
            try:
                frame = cam.read(self.config.max_frame_age_s)
            except CameraStopped as exc:
                hold = Hold(HoldReason.CAMERA_STOPPED, name, str(exc))
                if hold.key not in self.ledger.faults:  # a stopped capture does not restart: one fault
                    self.ledger.fault(hold.key, str(exc), now_s=now)
                return measured, None, None, hold
            except StaleFrame as exc:
                return measured, None, None, Hold(HoldReason.STALE_CAMERA, name, str(exc))
            frames[name] = frame
            images[f"image_{name}"] = self.preprocessors[name](frame.image)
            oldest = min(oldest, frame.t_capture_s)
        state = state_vector(st.position, self.state_names, link.info.joint_names)
        self.last_state = state
        state_z = self.bundle.normalize_state(state).reshape(1, -1)
        return measured, Observation(images, state_z, embedding, step, oldest), frames, None

    def _link_up_now(self, now: float) -> bool:
        """Whether the link is up now; a loss and a return are each said once (the loss counted as a fault)."""
        up = self.link.connected
        if up != self._link_up:
            if up:
                self.ledger.note(f"link regained ({self.link.stats.reconnects} reconnects so far)")
            else:
                self.ledger.fault("link lost", str(self.link.fault), now_s=now)
            self._link_up = up
        return up

    def _fault_hold(self, flags: int, now: float) -> Hold | None:
        """The hold the controller's latched faults call for (None: none). Named by the link when it can (each
        servo and condition), else by the protocol's flags; each newly latched one is counted once, a clear said."""
        named = dict(self.link.named_faults()) if flags and isinstance(self.link, NamesFaults) else {}
        if named:
            latched = {f"{HoldReason.SERVO_FAULT.value} {subject}": f"{detail}; {CLEAR_HINT}"
                       for subject, detail in named.items()}
        else:
            latched = {f"controller {f.name}": f"{CLEAR_HINT} on the controller" for f in p.Fault if flags & f}
        for key, detail in latched.items():
            if key not in self._latched:
                self.ledger.fault(key, detail, now_s=now)
        if self._latched and not latched:
            self.ledger.note("controller faults cleared")
        self._latched = set(latched)
        if named:
            return Hold(HoldReason.SERVO_FAULT, ", ".join(named), "; ".join(named.values()) + "; latched")
        if flags:
            return Hold(HoldReason.CONTROLLER_FAULT, "|".join(f.name for f in p.Fault if flags & f))
        return None
