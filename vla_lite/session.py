"""One `vla-lite run` session on an opened Runtime: instruction sources, simulated episodes, recording, a clean stop.

The loop itself knows nothing of worlds; this is the host program around it, using the loop's public operations
only (new_episode, set_instruction, settle, hold, ...). With a simulated world (`--port sim`, `metaworld:...`) an
episode ends when the world says so (the target touched, another block touched, the timeout); the next one starts
from a new layout with the arm back at its start. On a real arm the whole run is one episode. On stop, one hold
command is sent before the link closes, and a clean stop ends by signing off (ArmLink.sign_off: the controller's
watchdog disarmed, so closing the port latches nothing).
"""

from __future__ import annotations

import sys
import threading

from .instructions import FifoSource, InstructionInbox, SocketSource, StreamSource
from .pacing import NaivePacer, Pacer
from .realtime import apply_realtime


class Session:
    def __init__(self, rt, *, instruction: str | None = None, episodes: int | None = None, verbose: bool = True,
                 log=None):
        self.rt, self.loop = rt, rt.loop
        self.max_episodes = episodes
        self.fixed_instruction = instruction
        self.verbose = verbose
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.loop.ledger.say = self.log  # every hold and fault said as it happens (rate-limited)
        self.inbox = InstructionInbox(self.loop.encoder)
        self.sources: list = []
        self.results: list[dict] = []  # sim episodes
        self._stop_requested = False
        self._episode_seed = rt.config.seed

    # --- set-up --------------------------------------------------------------------------------------------

    def start_sources(self, stdin: bool = False, socket_port: int | None = None, fifo: str | None = None) -> None:
        if stdin:
            self.sources.append(StreamSource(self.inbox, sys.stdin, on_event=self.log).start())
        if socket_port is not None:
            src = SocketSource(self.inbox, port=socket_port, on_event=self.log).start()
            self.log(f"vla-lite run: instructions accepted on {src.address[0]}:{src.address[1]}")
            self.sources.append(src)
        if fifo:
            self.sources.append(FifoSource(self.inbox, fifo, on_event=self.log).start())

    def prepare(self, rt_priority: int | None = None, cpus=None, freeze_gc: bool = True) -> list[str]:
        """First instruction (and episode), then the real-time settings last, so start-up work is frozen too."""
        rig = self.rt.rig
        if rig is not None:
            self._new_episode()
        elif not self.fixed_instruction:
            raise ValueError("--instruction is required with a real arm, e.g. --instruction 'pick up the red cup'")
        else:
            self._tell_scene(self.fixed_instruction)
            self.loop.new_episode(self.fixed_instruction, arm_moved=False)  # the run is one episode
        return apply_realtime(rt_priority, cpus, freeze_gc)

    # --- running -------------------------------------------------------------------------------------------

    def run(self, duration_s: float | None = None, stop: threading.Event | None = None,
            naive: bool = False, watch=None) -> Pacer:
        """Run until the duration, the episodes or `stop`. watch: optional fn(TickResult) called after each tick in
        the loop's thread (a benchmark's checks), before the session's own handling (which may reset the world)."""
        stop = stop or threading.Event()
        pacer = (NaivePacer if naive else Pacer)(self.loop.config.rate_hz)

        def on_tick(tick) -> None:
            if watch is not None:
                watch(tick)
            self._on_tick(tick)

        clean = False
        try:
            self.loop.run(duration_s=duration_s, should_stop=lambda: stop.is_set() or self._stop_requested,
                          on_tick=on_tick, pacer=pacer)
            clean = True
        finally:
            self._finish(clean)
        return pacer

    def _on_tick(self, tick) -> None:
        posted = self.inbox.take()
        if posted is not None:
            text, embedding, source = posted
            self._set_instruction(text, embedding)
        rig = self.rt.rig
        if rig is not None and rig.done():
            self._end_episode(rig.outcome())
            if self.max_episodes is not None and len(self.results) >= self.max_episodes:
                self._stop_requested = True
            else:
                self._new_episode()

    def _set_instruction(self, text: str, embedding=None) -> None:
        if self.loop.set_instruction(text, embedding):
            self._tell_scene(text)

    def _tell_scene(self, text: str) -> None:
        """A simulated world, or the scene a `--camera sim` renders, shows the block the instruction names."""
        scene = self.rt.rig if self.rt.rig is not None else self.rt.scene
        note = scene.retarget(text) if scene is not None else None
        if note:
            self.log(f"vla-lite run: {note}")

    def _new_episode(self) -> None:
        rig = self.rt.rig
        # Commands sent for the old pose: let the controller take them before the reset, not after it (replies
        # describing the old pose are told apart by when they were taken: the loop's restart in new_episode()).
        self.loop.settle()
        episode = rig.new_episode(self._episode_seed, self.fixed_instruction)
        self._episode_seed += 1
        self.loop.new_episode(self.fixed_instruction or episode.instruction)

    def _end_episode(self, outcome: str) -> None:
        rig = self.rt.rig
        result = {"seed": rig.episode.seed, "instruction": self.loop.instruction, "outcome": outcome,
                  "success": outcome == "success", "steps": self.loop.episode_steps,
                  "duration_s": round(rig.elapsed_s(), 3)}
        self.results.append(result)
        self.loop.end_episode(result["success"], outcome)
        if self.verbose:
            n_ok = sum(r["success"] for r in self.results)
            self.log(f"episode {len(self.results)}: {outcome} in {result['duration_s']:.1f} s "
                     f"({self.loop.instruction!r}); {n_ok}/{len(self.results)} so far")

    def _finish(self, clean: bool) -> None:
        """Hold; after a clean stop (duration, episodes, Ctrl-C / SIGTERM) also sign off, so the controller's
        watchdog is disarmed and the silence after the port closes latches nothing: the next run starts
        unfaulted. Then stop the sources; the caller closes the runtime (and with it the link)."""
        self.loop.hold("stopping")
        if clean:
            self.rt.link.sign_off()
        for src in self.sources:
            src.close()

    def report(self) -> dict:
        if self.rt.rig is None:
            return {}
        n = len(self.results)
        successes = sum(r["success"] for r in self.results)
        return {"episodes": n, "successes": successes, "success_rate": successes / n if n else None,
                "episode_results": self.results}
