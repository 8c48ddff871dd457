"""The control loop: observe -> infer -> act (safety) -> send, one tick at a time.

`ControlLoop.step()` runs one tick and is what a vendor calls when their own program owns the timing;
`ControlLoop.run()` paces `step()` against absolute monotonic deadlines (vla_lite.pacing.Pacer). Whoever drives
the loop (vla_lite.session for `vla-lite run`, vla_lite.evaluate, a vendor's program) uses only its public
operations: `set_instruction`, `new_episode` / `end_episode`, `settle`, `restart`, `hold`, `step`, `run`,
`report`, and reads `instruction`, `step_index`, `episode_steps`, `config`.

On any doubt the arm holds: a stale camera frame, a missing or old controller state, a link fault, a controller
fault, a non-finite action or an empty action queue each send the last safe command (or a HEARTBEAT when there is
none yet or the controller has a fault latched, or nothing when the link is down). Holds and faults go to a `HoldLedger` (vla_lite.holds): counted by
reason, said when a `say` is given (`loop.ledger.say`), summed up as the run's exit status.

Between ticks, `run()` listens for the controller's reply (ArmLink.wait_reply up to the next deadline), so the
link's reply latency is measured from send to receipt; a program calling `step()` on its own timing reads replies
at its next tick, and the latency it sees is rounded up to its tick.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .cameras.base import Camera
from .firmware_bridge import protocol as p
from .firmware_bridge.link import ArmLink
from .holds import LATCHED, Hold, HoldLedger, HoldReason
from .observation import Observation, Observer
from .pacing import CycleStats, Pacer, percentiles_ms
from .text.normalize import normalize_instruction
from .tick import LoopConfig, LoopCounters, TickResult

MODES = {"joint_position": p.Mode.JOINT_POSITION, "joint_velocity": p.Mode.JOINT_VELOCITY,
         "ee_delta": p.Mode.EE_DELTA}


class ControlLoop:
    """Wires a policy, an arm link, cameras, an executor and the safety filter. Used from one thread.

    bundle: vla_lite.bundle.Bundle; policy: a backend (`infer(images, state, instruction)`); cameras: name ->
    Camera; preprocessors: name -> fn(uint8 frame) -> (1, H, W, 3) float32; executor: vla_lite.execution
    Executor; safety: vla_lite.safety.SafetyFilter; worker: optional InferenceWorker (async inference);
    recorder: optional vla_lite.recording.EpisodeRecorder; encoder: optional fn(text) -> (E,) embedding.
    """

    def __init__(self, *, bundle, policy, link: ArmLink, cameras: dict[str, Camera], preprocessors: dict,
                 executor, safety, config: LoopConfig, encoder=None, recorder=None, worker=None,
                 clock: Callable[[], float] = time.monotonic):
        m = bundle.manifest
        missing = [c.name for c in m.cameras if c.name not in cameras or c.name not in preprocessors]
        if missing:
            raise ValueError(f"no camera/preprocessor for the bundle's camera(s) {missing}; "
                             f"cameras given: {sorted(cameras)}")
        self.bundle, self.policy, self.link, self.cameras = bundle, policy, link, cameras
        self.preprocessors, self.executor, self.safety = preprocessors, executor, safety
        self.config, self.encoder, self.recorder, self.worker, self.clock = config, encoder, recorder, worker, clock
        self.mode = MODES[m.action.mode]
        self.action_dim = m.action.dim
        self.valid_ms = max(1, min(0xFFFF, int(1000 * config.command_valid_periods * config.period_s)))
        self.stats = CycleStats()
        self.counters = LoopCounters()
        self.ledger = HoldLedger()  # silent until a driver gives it a `say` (vla-lite run: stderr)
        self.observer = Observer(bundle, link, cameras, preprocessors, config, self.ledger)
        self.step_index = 0
        self._episode_start_step = 0
        self._instruction: str | None = None
        self._embedding: np.ndarray | None = None
        self._started = False
        self._pending_capture_s: float | None = None  # capture time behind the newest chunk, until it is sent

    # --- instruction and episodes: what the program driving the loop calls ----------------------------------

    @property
    def instruction(self) -> str | None:
        """The instruction in force (normalised), None before the first."""
        return self._instruction

    @property
    def episode_steps(self) -> int:
        """Ticks since the current episode started (new_episode), or since the loop was made."""
        return self.step_index - self._episode_start_step

    def set_instruction(self, text: str, embedding: np.ndarray | None = None) -> bool:
        """Switch task (embedding computed by `encoder` when not given). A change drops queued actions and any
        inference in flight. Returns False when the text is unchanged."""
        text = normalize_instruction(text)
        if text == self._instruction:
            return False
        self._use_instruction(text, self._embed(text, embedding))
        return True

    def new_episode(self, text: str, embedding: np.ndarray | None = None, *, arm_moved: bool = True) -> None:
        """Start an episode told `text`: a fresh plan even when the text is the one in force, a new episode in the
        recorder (when recording). arm_moved: the arm was put somewhere else under the loop (a world's reset, a
        hand guide), so the loop starts over from a newer measured position (restart()). Raises (ValueError,
        text.UnknownInstruction from a grounding encoder) before anything changes when the text is refused."""
        text = normalize_instruction(text)
        embedding = self._embed(text, embedding)
        if self.recorder is not None:
            self.recorder.start_episode(text)
        self._use_instruction(text, embedding)
        if arm_moved:
            self.restart()
        self._episode_start_step = self.step_index

    def end_episode(self, success: bool | None, outcome: str) -> None:
        """The episode ended (success None: unknown); the recorder closes it."""
        if self.recorder is not None:
            self.recorder.end_episode(success, str(outcome))

    def settle(self, timeout_s: float = 0.5) -> bool:
        """Let the controller answer every command sent so far (call it before a world resets the arm, so no
        reply describing the old pose is still on its way). False on timeout or a link fault."""
        return self.link.settle(timeout_s)

    def restart(self) -> None:
        """Start over from the measured position (new episode, or after the arm was moved by hand). States taken
        before the restart describe the arm as it was, even one arriving after it: the next observation waits for
        a state the controller took after now."""
        self._flush()
        self._started = False
        self.safety.forget()  # the last command was for the arm as it was; holding it would drag the arm back
        self.observer.restart(self.clock())

    def hold(self, reason: str = "stopping", wait_s: float = 0.05) -> np.ndarray | None:
        """Send the arm one hold (the safety filter's last safe command) and wait up to wait_s (real time) for
        the controller's answer, so it arrives before the port closes. Returns what was sent (None: nothing
        known to hold, or the link is down)."""
        if not self.link.connected:
            return None
        held = self.safety.hold(reason)
        if held.command is None:
            return None
        before = self.link.stats.states_received
        if self.link.send_command(self.mode, held.command, self.valid_ms) is None:
            return None
        self.link.wait_reply(before, wait_s)
        return np.asarray(held.command, np.float64)

    def _embed(self, text: str, embedding: np.ndarray | None) -> np.ndarray:
        if embedding is None:
            if self.encoder is None:
                raise ValueError("this loop has no text encoder; pass the instruction embedding")
            embedding = self.encoder(text)
        embedding = np.asarray(embedding, np.float32).reshape(1, -1)
        dim = self.bundle.manifest.instruction.embedding_dim
        if embedding.shape[1] != dim or not np.all(np.isfinite(embedding)):
            raise ValueError(f"instruction embedding has shape {embedding.shape} (finite: "
                             f"{bool(np.all(np.isfinite(embedding)))}); expected finite (1, {dim})")
        return embedding

    def _use_instruction(self, text: str, embedding: np.ndarray) -> None:
        self._instruction, self._embedding = text, embedding
        self._flush()
        if self.recorder is not None:
            self.recorder.set_instruction(text)

    def _flush(self) -> None:
        self.executor.clear(self.step_index)
        if self.worker is not None:
            self.worker.discard()
        self._pending_capture_s = None

    # --- one tick ------------------------------------------------------------------------------------------

    def step(self) -> TickResult:
        if self._embedding is None:
            raise RuntimeError("set_instruction() before step()")
        step, now = self.step_index, self.clock()
        self.step_index += 1
        stats = self.stats
        with stats.section("observe"):
            measured, obs, frames, why = self.observer.observe(step, now, self._embedding)  # why: a Hold or None
        inferred = False
        with stats.section("infer"):
            if self.worker is not None:
                self._collect()
            if obs is not None and self.executor.needs_inference(step):
                inferred = self._infer(obs)
        with stats.section("act"):
            predicted, result = None, None
            if why is None:
                if not self._started:
                    self.safety.start(measured)
                    self._started = True
                predicted = self.executor.next_action(step)
                if predicted is None:
                    why = Hold(HoldReason.NO_ACTION)
                else:
                    result = self.safety.filter(predicted, measured)
            if result is None:
                result = self.safety.hold(why.key, measured)
            if result.fault:
                why = Hold(HoldReason.UNSAFE_TARGET, detail=result.fault)
                self.ledger.fault(why.key, result.fault, now_s=now)
            elif result.held and why is None:
                why = Hold(HoldReason.UNSAFE_TARGET, detail=str(result.reason))
            self.ledger.tick(now, step, why if result.held else None)
        with stats.section("send"):
            command = self._send(result, predicted, why)
        timing = stats.end_cycle()
        reason, detail = (None, "") if why is None else (why.key, why.detail)
        tick = TickResult(step, command, predicted, result.held, reason, inferred, timing, detail, measured, now)
        if self.recorder is not None:
            self.recorder.record_tick(
                step=step, t_s=now, frames=frames, state=None if obs is None else self.observer.last_state,
                measured=measured, predicted=predicted, commanded=command, held=result.held,
                reason=reason if not detail else f"{reason}: {detail}", inferred=inferred, timing_ms=timing,
                faults=[result.fault] if result.fault else [])
        return tick

    def _send(self, result, predicted, why: Hold | None) -> np.ndarray | None:
        link = self.link
        if not link.connected:
            return None
        if result.command is None or (why is not None and why.reason in LATCHED):
            # Nothing safe to command yet, or a controller with a fault latched (it refuses commands and holds by
            # itself): keep its watchdog fed and ask for a state, which says when the fault is cleared.
            link.heartbeat()
            return None
        command = np.asarray(result.command, np.float64)
        if link.send_command(self.mode, command, self.valid_ms) is None:
            return None
        if self._pending_capture_s is not None and predicted is not None and not result.held:
            self.counters.camera_to_command_ms.append(1e3 * (self.clock() - self._pending_capture_s))
            self._pending_capture_s = None
        return command

    def _infer(self, obs: Observation) -> bool:
        self.executor.on_request(obs.step)
        if self.worker is not None:
            self.worker.request(obs, obs.step)
            return True
        t0 = time.perf_counter()
        chunk = self.policy.infer(obs.images, obs.state, obs.instruction)
        self.counters.inference_ms.append(1e3 * (time.perf_counter() - t0))
        self._submit(chunk, obs.step, obs.t_capture_s)
        return True

    def _collect(self) -> None:
        done = self.worker.poll()
        if done is None:
            return
        self.counters.inference_ms.append(1e3 * done.latency_s)
        if done.error is not None:
            # Nothing is queued; the request in flight expires after a chunk's worth of steps, then it retries.
            self.ledger.fault("inference error", f"{type(done.error).__name__}: {done.error}", now_s=self.clock())
            return
        self._submit(done.chunk, done.obs_step, done.observation.t_capture_s)

    def _submit(self, chunk: np.ndarray, obs_step: int, t_capture_s: float) -> None:
        chunk = np.asarray(chunk, np.float32).reshape(-1, self.action_dim)
        if not np.all(np.isfinite(chunk)):
            # Never queue NaN/Inf: the queue drains, the arm holds, and the request in flight expires after a
            # chunk's worth of steps before the policy is asked again.
            self.ledger.fault("non-finite policy output", now_s=self.clock())
            return
        self.counters.inferences += 1
        self._pending_capture_s = t_capture_s
        self.executor.submit(self.bundle.denormalize_actions(chunk), obs_step)

    # --- paced run -----------------------------------------------------------------------------------------

    def run(self, duration_s: float | None = None, max_ticks: int | None = None,
            should_stop: Callable[[], bool] = lambda: False,
            on_tick: Callable[[TickResult], None] | None = None, pacer: Pacer | None = None) -> Pacer:
        """Pace step() at the configured rate until the duration or tick count runs out or should_stop()."""
        pacer = pacer or Pacer(self.config.rate_hz)
        end = None if duration_s is None else self.clock() + duration_s
        ticks = 0
        try:
            while not should_stop() and (max_ticks is None or ticks < max_ticks) and \
                    (end is None or self.clock() < end):
                pacer.wait()
                result = self.step()
                if on_tick is not None:
                    on_tick(result)
                ticks += 1
                self._listen(pacer)
        finally:
            self.ledger.finish(self.clock())
        return pacer

    def _listen(self, pacer: Pacer) -> None:
        """Until shortly before the next deadline, read the controller's reply as it arrives, so its latency is
        measured from send to receipt (a reply read at the next tick would count the idle time too)."""
        idle_s = pacer.until_next_s()
        if idle_s > 0 and self.link.connected:
            self.link.wait_reply(None, idle_s)

    def report(self) -> dict:
        """Loop-side figures for the run report (the pacer adds rate, jitter and overruns)."""
        c = self.counters
        return {
            "inference_ms": percentiles_ms(np.asarray(c.inference_ms) / 1e3),
            "camera_to_command_ms": percentiles_ms(np.asarray(c.camera_to_command_ms) / 1e3),
            "loop_ms": self.stats.report(),
            "inferences": c.inferences,
            **self.ledger.report(), "clamped": dict(self.safety.clamp_counts),
            "executor": vars(self.executor.counters) if hasattr(self.executor, "counters") else {},
            "link": self.link.stats.as_dict(),
        }
