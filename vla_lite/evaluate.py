"""Closed-loop evaluation in the simulated world through the real runtime, in simulated time (lockstep).

Every part a robot run uses is in the loop — bundle, backend, text encoder, executor, safety filter, the serial
protocol over a real pty, the virtual arm controller — but the clock is simulated: per tick the driver advances
it by one period, lets the controller integrate to that time, runs `ControlLoop.step()`, and waits (in real time)
for the controller's reply to the command. So 200 episodes take minutes, not the hour they take at the arm's
pace, and a run is repeatable. Inference takes no simulated time here (the pacing of a real-time run is measured
by `vla-lite run`); the figures are about the policy, not the machine.

Seeds pick the layouts and targets; evaluation seeds start at EVAL_SEED_BASE, far from the seeds demonstrations
are generated with, so a model is never evaluated on a layout it was trained on.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from .text import grounding
from .text.grounding import MIN_SIMILARITY, InstructionGrounding, UnknownInstruction

EVAL_SEED_BASE = 1_000_000
REPLY_TIMEOUT_S = 2.0  # real seconds for the controller's answer to one command (liveness only)


class SimClock:
    """A clock that moves only when told: `clock()` reads it, `advance(dt)` moves it. Thread-safe."""

    def __init__(self, t0_s: float = 1000.0):
        self._t = float(t0_s)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._t

    def advance(self, dt_s: float) -> float:
        if not dt_s > 0:
            raise ValueError(f"the clock only moves forward; got dt {dt_s!r} s")
        with self._lock:
            self._t += dt_s
            return self._t


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate (sensible at 0 % and 100 %, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class EpisodeResult:
    seed: int
    instruction: str
    target: str
    outcome: str  # success | failed | timeout | refused (the instruction was not grounded: the arm never moved)
    steps: int
    sim_s: float


def run_episodes(rt, clock: SimClock, seeds, instruction_for=None, progress=None) -> list[EpisodeResult]:
    """Run one lockstep episode per seed on a Runtime opened on a simulated world (a World port, built with
    `clock`). instruction_for(episode) -> text overrides the episode's own phrasing (paraphrase tests)."""
    loop, rig = rt.loop, rt.rig
    results = []
    for seed in seeds:
        episode = rig.new_episode(int(seed))
        text = instruction_for(episode) if instruction_for else episode.instruction
        try:
            loop.new_episode(text)
        except UnknownInstruction:  # `vla-lite run` would refuse it and hold: the episode is not attempted
            results.append(EpisodeResult(int(seed), text, episode.target, "refused", 0, 0.0))
        else:
            results.append(_lockstep_episode(rt, clock, episode, text))
        if progress is not None:
            progress(results[-1])
    return results


def _lockstep_episode(rt, clock: SimClock, episode, text: str) -> EpisodeResult:
    loop, rig, link = rt.loop, rt.rig, rt.link
    while True:
        clock.advance(loop.config.period_s)
        rig.step_now()
        states_before = link.stats.states_received
        loop.step()  # sends a COMMAND, or a HEARTBEAT when nothing is safe to command yet
        # Wait (real time) until the controller answered this tick's message, so the next tick sees its state.
        if not link.wait_reply(states_before, REPLY_TIMEOUT_S) and link.connected:
            raise TimeoutError(f"the simulated controller did not answer within {REPLY_TIMEOUT_S} s")
        if rig.done():
            return EpisodeResult(episode.seed, text, episode.target, rig.outcome(), loop.episode_steps,
                                 round(rig.elapsed_s(), 4))


def summarize(results: list[EpisodeResult], by_target: bool = False) -> dict:
    """Success rate with its Wilson 95 % interval, outcomes; with by_target, the same per target (Meta-World task)."""
    n = len(results)
    ok = sum(r.outcome == "success" for r in results)
    lo, hi = wilson_interval(ok, n)
    outcomes = {o: sum(r.outcome == o for r in results) for o in ("success", "failed", "timeout")}
    if any(r.outcome == "refused" for r in results):
        outcomes["refused"] = sum(r.outcome == "refused" for r in results)
    out = {"episodes": n, "successes": ok, "success_rate": ok / n if n else None,
           "wilson95": [round(lo, 4), round(hi, 4)], "outcomes": outcomes,
           "mean_steps": round(sum(r.steps for r in results) / n, 2) if n else None}
    if by_target:
        out["per_target"] = {t: summarize([r for r in results if r.target == t])
                             for t in sorted({r.target for r in results})}
    return out


def per_group(results: list[EpisodeResult], groups) -> dict:
    """{"per_group": {group: summarize(its targets' episodes)}} over the groups (name -> targets) that have
    episodes, in the groups' order ({} without groups): Meta-World MT50's difficulty groups."""
    out = {g: summarize(rs) for g, targets in groups.items() if (rs := [r for r in results if r.target in targets])}
    return {"per_group": out} if out else {}


# --- `vla-lite eval` ---------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    a = parser.add_argument
    a("bundle", nargs="?", help="a .vla bundle or a shipped model's name (demo, mt10-student-int8); default: "
                                "demo")
    a("--model", dest="model_opt", help="the bundle, as an option (same as the positional BUNDLE)")
    a("--suite", default="tabletop", help="tabletop (default), metaworld-mt10, metaworld-mt50, metaworld-mt50-GROUP "
                                          "(LeRobot's easy, medium, hard, very-hard), or a simulated world's port "
                                          "such as metaworld:TASK[,TASK...]")
    a("--episodes", type=int, help="default: the suite's (Meta-World MT50 and its groups: LeRobot's protocol, 10 "
                                   "per task, MT50 500), else 50. Episode k has seed --seed + k; a Meta-World "
                                   "episode's task is the suite's task number seed %% (its number of tasks)")
    a("--seed", type=int, default=EVAL_SEED_BASE, help=f"first layout seed (default {EVAL_SEED_BASE}: never "
                                                       "used for demonstrations)")
    a("--instructions", choices=("train", "paraphrase", "heldout"), default="train",
      help="phrasings: the training templates; paraphrase: unseen rewordings; heldout: unseen rewordings "
           "that also name the colour by an unseen synonym (tabletop)")
    grounding.add_arguments(parser)
    a("--runtime", choices=("onnx", "tflite"), default="onnx")
    a("--precision", choices=("fp32", "int8"))
    a("--threads", type=int, default=1)
    a("--execution", choices=("replan", "refill", "ensemble"), default="replan")
    a("--episode-timeout", type=float, default=10.0, help="simulated seconds before an episode is a failure")
    a("--ramp-s", type=float, help="the safety filter's ramp-in at each episode's start, s (default: as `vla-lite "
                                   "run`, 0.3; 0: none; demonstrations and DAgger rollouts record the ramp-in they "
                                   "were made with, meta ramp_s)")
    a("--json", action="store_true", help="print one JSON object")
    a("--out", help="also write the JSON result to this file")


def evaluate(bundle_path, episodes: int, seed: int, instructions: str = "train", runtime: str = "onnx",
             precision: str | None = None, threads: int = 1, execution: str = "replan",
             episode_timeout_s: float = 10.0, progress=None, suite: str = "tabletop",
             instruction_grounding: bool = True, min_instruction_similarity: float = MIN_SIMILARITY,
             ramp_s: float | None = None) -> dict:
    """ramp_s: the safety filter's ramp-in from the measured pose at each episode's start (None: the runtime's
    default, what `vla-lite run` does)."""
    from .ports import suite_port
    from .runtime import RunConfig, Runtime

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    clock = SimClock()
    cfg = RunConfig(port=suite_port(suite), model=bundle_path, runtime=runtime, precision=precision, threads=threads,
                    execution=execution, sim_camera_fps=None, episode_timeout_s=episode_timeout_s,
                    sim_split=instructions, instruction_grounding=instruction_grounding,
                    min_instruction_similarity=min_instruction_similarity,
                    **({} if ramp_s is None else {"ramp_s": ramp_s}))
    rt = Runtime.open(cfg, clock=clock)
    try:
        t0 = time.perf_counter()
        results = run_episodes(rt, clock, range(seed, seed + episodes), progress=progress)
        wall_s = time.perf_counter() - t0
        report = rt.loop.report()
        reports_per_target, groups = rt.rig.reports_per_target, rt.rig.target_groups
    finally:
        rt.close()
    return {"bundle": str(rt.config.bundle_path()), "name": rt.bundle.manifest.name, "backend": rt.backend,
            "suite": suite, "trained": rt.bundle.manifest.trained, "instructions": instructions,
            "instruction_grounding": isinstance(rt.loop.encoder, InstructionGrounding),
            "seeds": [seed, seed + episodes - 1], "execution": execution, "ramp_s": rt.config.ramp_s,
            **summarize(results, by_target=reports_per_target), **per_group(results, groups),
            "wall_s": round(wall_s, 2),
            "inference_ms": report["inference_ms"], "holds": report["holds"], "faults": report["faults"],
            "results": [r.__dict__ for r in results]}


def run(args) -> int:
    import json
    import sys

    from .bundle import BundleError
    from .ports import suite_episodes
    from .progress import progress_bar
    from .report import write_json

    if args.episodes is None:
        args.episodes = suite_episodes(args.suite)
    bar = progress_bar(args.episodes, not args.json and sys.stderr.isatty(), unit="ep")
    ok = [0]

    def progress(r: EpisodeResult) -> None:
        ok[0] += r.outcome == "success"
        if bar is not None:
            bar.update(1)
            bar.set_postfix(success=f"{ok[0]}/{bar.n}")

    try:
        out = evaluate(args.model_opt or args.bundle, args.episodes, args.seed, args.instructions, args.runtime,
                       args.precision, args.threads, args.execution, args.episode_timeout, progress, args.suite,
                       args.instruction_grounding, args.min_instruction_similarity, args.ramp_s)
    except (ValueError, BundleError, OSError) as exc:
        print(f"vla-lite eval: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    if args.out:
        write_json(args.out, out)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        lo, hi = out["wilson95"]
        print(f"{out['name']} ({out['backend']}, {out['instructions']} instructions): "
              f"{out['successes']}/{out['episodes']} = {100 * out['success_rate']:.1f} % success "
              f"(95 % CI {100 * lo:.1f}-{100 * hi:.1f} %); outcomes {out['outcomes']}; "
              f"inference p50 {out['inference_ms']['p50']} ms; {out['wall_s']} s")
        for target, t in {**out.get("per_group", {}), **out.get("per_target", {})}.items():
            lo, hi = t["wilson95"]
            print(f"  {target:<24} {t['successes']}/{t['episodes']} = {100 * t['success_rate']:.0f} % "
                  f"(95 % CI {100 * lo:.0f}-{100 * hi:.0f} %)")
    return 0
