"""`vla-lite distill`: a small student from a teacher, with DAgger rounds in a simulated world (tabletop, Meta-World).

    vla-lite distill --teacher runs/teacher.safetensors --data runs/demos --size micro --dagger-rounds 3 \
        --out runs/student.safetensors

Teachers: a checkpoint of the project's own (a larger Policy trained by `vla-lite train`; its normalisation and
cameras are the student's too), or `expert`: the simulated world's scripted expert, which labels any state. The
student learns alpha · L1(teacher chunk) + (1 - alpha) · L1(ground truth) (+ optional feature distillation).
A DAgger round rolls the student out in the world the demonstrations came from (export/dagger.py; in-process,
the runtime's chunk execution), has that world's scripted expert label every state it visited (and the teacher
checkpoint predict there), aggregates, and trains on. Seeds for rollouts start at DAGGER_SEED_BASE: disjoint
from demonstrations and from evaluation seeds.
A LeRobot policy can be the teacher where `lerobot` is installed: see export/teachers/lerobot_teacher.py.
An interrupted run goes on with `--resume` (hours of training on a robot computer's CPU): the checkpoint written
every --checkpoint-every steps carries the step, the optimiser's moments and the rounds recorded so far, whose rollouts are read
back from --dagger-dir rather than recorded again.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .datasets.episode import DatasetError
from .fit import INSTRUCTION_NOISE

DAGGER_SEED_BASE = 500_000
USER_ERRORS = (DatasetError,)  # the CLI prints these as one line (vla_lite/cli.py)


def add_arguments(parser) -> None:
    from .datasets import add_dataset_arguments

    add_dataset_arguments(parser)
    a = parser.add_argument
    a("--teacher", required=True, help="teacher checkpoint (.safetensors), 'expert' (the scripted expert), or "
                                       "lerobot:PATH (a LeRobot pretrained policy; needs lerobot)")
    a("--data", action="append", required=True, help="demonstrations (repeatable)")
    a("--out", required=True, help="student checkpoint (.safetensors)")
    a("--size", default="micro", help="student size: nano, micro, small, ...")
    a("--chunk", type=int, default=10, help="chunk length T (with --teacher expert; else the teacher's)")
    a("--replan-every", type=int, default=5)
    a("--steps", type=int, default=3000, help="training steps before the first DAgger round")
    a("--round-steps", type=int, default=1500, help="training steps after each DAgger round")
    a("--dagger-rounds", type=int, default=2)
    a("--dagger-episodes", type=int, default=100, help="student rollouts per round")
    a("--dagger-dir", help="keep the DAgger recordings here (default: a temporary folder)")
    a("--dagger-data", action="append", default=[],
      help="earlier DAgger recordings to train on too, failed rollouts included (their labels are the expert's); "
           "repeatable")
    a("--dagger-allocation", choices=("uniform", "failures"), default="uniform",
      help="Meta-World: spread each round's rollouts evenly over the tasks, or, after the first round, in "
           "proportion to each task's failure rate in the round before (at least one rollout per task)")
    a("--resume", action="store_true",
      help="continue the interrupted run that writes --out (same arguments; --dagger-dir needed with rounds): from "
           "its last checkpoint and the DAgger rounds it recorded; a finished run is left as is")
    a("--checkpoint-every", type=int, default=500, help="write the resumable checkpoint (and log the loss) every N "
                                                         "training steps")
    a("--init", help="start from this student checkpoint (same cameras, normalisation and chunk) instead of "
                     "fresh weights: more rounds for a trained student; --size is then the checkpoint's")
    a("--alpha", type=float, default=0.5, help="weight of the teacher term (0: ground truth only)")
    a("--feature-weight", type=float, default=0.0, help="feature distillation weight (checkpoint teachers)")
    a("--batch", type=int, default=64)
    a("--lr", type=float, default=1e-3)
    a("--instruction-noise", type=float, default=INSTRUCTION_NOISE,
      help="std per dimension of Gaussian noise on the unit instruction embedding in training (0: off): helps "
           "unseen rewordings")
    a("--seed", type=int, default=0)
    a("--image-size", type=int)
    a("--threads", type=int)
    a("--json", action="store_true")


def run(args) -> int:
    from .checkpoint import CheckpointError

    try:
        return _run(args)
    except CheckpointError as exc:  # a teacher or --init that cannot be used: say which and why, no traceback
        print(f"vla-lite distill: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    import torch

    from .checkpoint import load_checkpoint, nothing_to_resume, restore_optimizer, save_checkpoint
    from .dagger import ExpertWorld
    from .datasets import dataset_options
    from .fit import FitConfig, fit, teacher_targets
    from .model import Policy, PolicyConfig, parameter_count
    from .rollout import TorchPolicyRunner
    from .text_cache import training_text_encoder
    from .train import load_training_data, paraphrase_groups, residual_map

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.steps < 0 or args.round_steps < 1 or args.dagger_rounds < 0:
        print(f"vla-lite distill: need --steps >= 0 (got {args.steps}), --round-steps >= 1 (got "
              f"{args.round_steps}) and --dagger-rounds >= 0 (got {args.dagger_rounds})", file=sys.stderr)
        return 2
    if args.resume and args.dagger_rounds and not args.dagger_dir:
        print("vla-lite distill: --resume with DAgger rounds needs the --dagger-dir the interrupted run recorded "
              "its rounds in", file=sys.stderr)
        return 2
    resume = load_checkpoint(args.out) if args.resume and Path(args.out).exists() else None
    if resume is not None and not resume.train.get("partial"):
        return nothing_to_resume("distill", args.out, f"is a finished run (step {resume.train.get('step')})",
                                 args.json)
    if args.steps == 0 and not (args.init and args.dagger_rounds):
        print("vla-lite distill: --steps 0 trains nothing before the rounds; it needs --init and "
              "--dagger-rounds >= 1", file=sys.stderr)
        return 2
    world = ExpertWorld.from_data(args.data)
    if args.dagger_rounds and world is None:
        print(f"vla-lite distill: DAgger needs a simulated world whose expert labels the states the student "
              f"visits; {args.data} are not demonstrations from `vla-lite demo-data` or `vla-lite "
              f"metaworld-demos`. Use --dagger-rounds 0 (distillation on the data only).", file=sys.stderr)
        return 2
    encoder = training_text_encoder()
    lerobot = None
    if args.teacher.startswith("lerobot:"):
        from .teachers.lerobot_teacher import LeRobotTeacher
        lerobot = LeRobotTeacher(args.teacher.split(":", 1)[1])
    teacher = None if args.teacher == "expert" or lerobot else load_checkpoint(args.teacher)
    chunk = teacher.config.chunk_length if teacher else args.chunk
    paraphrases = paraphrase_groups(world.kind if world else "auto", args.data)
    init = load_checkpoint(args.init) if args.init else None
    cameras = teacher.cameras if teacher is not None else init.cameras if init is not None else None
    ts, cameras, norm, data = load_training_data(
        args.data, chunk, args.image_size, encoder.encode, paraphrases, cameras=cameras,
        normalization=teacher.normalization if teacher else init.normalization if init else None,
        progress=not args.json, data_options=dataset_options(args))
    if args.dagger_data:  # earlier rounds' rollouts: every visited state counts, failed ones most of all
        earlier, *_ = load_training_data(args.dagger_data, chunk, None, encoder.encode, paraphrases,
                                         cameras=cameras, normalization=norm, progress=False, keep_failed=True)
        ts = ts.extend(earlier)
    cfg = PolicyConfig.preset(args.size, cameras=tuple((c.name, c.height, c.width) for c in cameras),
                              state_dim=ts.state.shape[1], action_dim=ts.actions.shape[2], chunk_length=chunk,
                              embedding_dim=ts.embeddings.shape[1],
                              residual=teacher.config.residual if teacher else residual_map(data))
    torch.manual_seed(args.seed)
    if resume is not None:
        student = warm_start(resume, cfg, norm, "--resume")
        args.size = resume.train.get("size", args.size)
    elif init is None:
        student = Policy(cfg)
        student.set_residual_stats(norm)
    else:
        student, args.size = warm_start(init, cfg, norm), init.train.get("size", args.size)
    feats = teacher is not None and args.feature_weight > 0
    targets = teacher_targets(teacher.model, ts, feats, progress=not args.json) if teacher else \
        lerobot_targets(lerobot, ts, norm, chunk) if lerobot else None
    alpha = args.alpha if targets is not None else 0.0
    rate_hz = float(data["fps"])
    # A warm start continues the checkpoint's step count and round numbering (so its rollout seeds are new ones)
    # with a fresh learning-rate schedule from its step.
    start = int(init.train.get("step", 0)) if init else 0
    rounds = [dict(r, **{"from": str(args.init)}) for r in init.train.get("dagger", []) if "episodes" in r] \
        if init else []
    history = list(init.train.get("history", [])) if init else []
    done = start  # the step the student has trained to (a resumed run: its checkpoint's)
    if resume is not None:
        rounds, history, done = list(resume.train["dagger"]), list(resume.train["history"]), int(resume.train["step"])
    own = [r for r in rounds if "from" not in r]  # this run's recorded rounds (a resumed run: those done so far)
    total_steps = start + args.steps
    fit_kw = dict(batch=args.batch, lr=args.lr, alpha=alpha, feature_weight=args.feature_weight if feats else 0.0,
                  instruction_noise=args.instruction_noise, schedule_start=start, eval_every=args.checkpoint_every)
    train_meta = {"size": args.size, "replan_every": args.replan_every, "rate_hz": rate_hz, "data": data,
                  "cameras": [c.__dict__ | {"pixel_range": list(c.pixel_range)} for c in cameras],
                  "text_encoder": encoder.info, "teacher": str(args.teacher), "alpha": alpha,
                  "instructions": list(ts.texts)}  # every phrasing trained on: the bundle's instruction.known

    def save_partial(step: int, optimizer=None, fit_history=None) -> None:
        """What --resume goes on from: the step, the rounds recorded, the optimiser's moments within a fit."""
        save_checkpoint(args.out, student, norm, {**train_meta, "dagger": rounds, "step": step, "partial": True,
                                                  "history": history + ([fit_history] if fit_history else [])},
                        role="student", optimizer=optimizer)

    def train_to(end: int, length: int, seed: int, warmup: int) -> None:
        """The fit of `length` steps that ends at step `end`, from the step reached (a resumed run: its
        checkpoint's, with its optimiser moments), checkpointing every --checkpoint-every steps."""
        nonlocal done
        if done >= end:
            return
        begun = done > end - length  # a resumed run interrupted within this fit
        optimizer = None
        if begun and resume is not None and not feats:  # (feature distillation's projector is not saved)
            optimizer = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=FitConfig.weight_decay)
            restore_optimizer(optimizer, student, resume.optimizer_state)
        partial = history[-1] if begun and history else None  # the interrupted fit's record, continued below
        fit_cfg = FitConfig(steps=end, seed=seed, warmup=warmup, **fit_kw)
        if partial is not None:
            history.pop()
        record = fit(student, ts, *ts.split(0.0), fit_cfg, teacher=targets, start_step=done, optimizer=optimizer,
                     on_checkpoint=save_partial, progress=not args.json)
        if partial is not None:
            record = {**record, "resumed_at": done, "before_resume": partial}
        history.append(record)
        done = end

    if args.steps > 0:
        train_to(total_steps, args.steps, args.seed, min(200, max(1, args.steps // 10)))
    dagger_root = Path(args.dagger_dir) if args.dagger_dir else Path(tempfile.mkdtemp(prefix="vla-dagger-"))
    roll = dict(size_px=cameras[0].height, chunk=chunk, rate_hz=rate_hz, cameras=tuple(c.name for c in cameras))
    per_task = own[-1]["per_task"] if own else None  # the last round's success per task: what failures weighs by
    first = len(rounds) - len(own)  # the first round this run records (a warm start numbers on from its rounds)
    for j, r in enumerate(range(first, first + args.dagger_rounds)):
        out_dir = dagger_root / f"round_{r + 1}"
        if j >= len(own):  # not recorded yet
            if resume is not None and out_dir.exists():  # an interrupted recording: record it again, whole
                shutil.rmtree(out_dir)
            runner = TorchPolicyRunner(student, cameras, norm, encoder.encode, args.replan_every)
            weights = failure_weights(per_task) if args.dagger_allocation == "failures" and per_task else None
            seed0 = max([DAGGER_SEED_BASE + r * args.dagger_episodes] + [seed_end(p) for p in rounds])
            summary = world.record(out_dir, seed0, args.dagger_episodes, runner, progress=not args.json,
                                   extra_meta={"dagger_round": r + 1}, weights=weights, **roll)
            per_task = {t: v["successes"] / v["episodes"] for t, v in summary.get("tasks", {}).items()}
            rounds.append({"round": r, "student_success": summary["success_rate"], "episodes": summary["episodes"],
                           "rows_before": len(ts), "per_task": per_task, "seed0": seed0,
                           "seed_end": seed0 + summary["episodes"]})
            save_partial(done)  # the round's rollouts are on disk: a resumed run reads them back
        # Every visited state counts, failed rollouts most of all: keep them (the labels are the expert's).
        new_ts, *_ = load_training_data([out_dir], chunk, None, encoder.encode, paraphrases, cameras=cameras,
                                        normalization=norm, progress=False, keep_failed=True)
        ts = ts.extend(new_ts)
        if targets is not None:
            new_t = teacher_targets(teacher.model, new_ts, feats) if teacher else \
                lerobot_targets(lerobot, new_ts, norm, chunk)
            targets.actions = np.concatenate([targets.actions, new_t.actions])
            if feats:
                targets.features = np.concatenate([targets.features, new_t.features])
        total_steps += args.round_steps
        train_to(total_steps, args.round_steps, args.seed + r + 1, 0)
    if world is not None:
        final = world.success_rate(TorchPolicyRunner(student, cameras, norm, encoder.encode, args.replan_every),
                                   DAGGER_SEED_BASE + 90_000, args.dagger_episodes, **roll)
        rounds.append({"round": len(rounds), "student_success": final, "rows_before": len(ts)})
    train_meta = {**train_meta, "dagger": rounds, "step": total_steps, "history": history,
                  "instructions": list(ts.texts)}
    save_checkpoint(args.out, student, norm, train_meta, role="student")
    summary = {"checkpoint": str(args.out), "parameters": parameter_count(student),
               "teacher_parameters": parameter_count(teacher.model) if teacher else None,
               "rows": len(ts), "dagger": rounds, "seconds": round(sum(h.get("seconds", 0) for h in history), 1)}
    Path(args.out).with_suffix(".json").write_text(json.dumps({**summary, "history": history}, indent=1) + "\n")
    print(json.dumps(summary, indent=1) if args.json else
          f"student {args.size} ({summary['parameters']:,} parameters): in-process success by DAgger round "
          f"{[round(r['student_success'], 3) for r in rounds]} -> {args.out}", file=sys.stdout)
    return 0


def warm_start(init, cfg, normalization: dict, flag: str = "--init"):
    """The --init checkpoint's model, after checking it takes the same inputs, outputs and statistics as the data
    and teacher (a mismatch would train on rows normalised one way for a model that expects another)."""
    from .checkpoint import CheckpointError

    got, want = init.config, cfg
    for field in ("cameras", "state_dim", "action_dim", "chunk_length", "embedding_dim", "residual"):
        if getattr(got, field) != getattr(want, field):
            raise CheckpointError(f"{flag} {init.path}: {field} is {getattr(got, field)!r}; the data and teacher "
                                  f"give {getattr(want, field)!r}")
    if init.normalization != normalization:
        raise CheckpointError(f"{flag} {init.path} was trained with other normalisation statistics than the "
                              "teacher's (or the data's); it cannot continue on these rows")
    return init.model


def seed_end(past_round: dict) -> int:
    """One past the last placement seed a recorded round may have used (rounds from before seed0 was recorded
    used DAGGER_SEED_BASE + round · episodes onwards, at most `episodes` per task)."""
    if "seed_end" in past_round:
        return int(past_round["seed_end"])
    return DAGGER_SEED_BASE + (int(past_round["round"]) + 1) * int(past_round["episodes"])


def failure_weights(success: dict[str, float], floor: float = 0.2) -> dict[str, float]:
    """Rollout weight per task from its last success rate: 1 - success, plus a floor so solved tasks keep being
    visited (a policy can unlearn them)."""
    return {t: (1.0 - s) + floor for t, s in success.items()}


def lerobot_targets(teacher, ts, normalization, chunk: int, batch: int = 32):
    from .fit import TeacherTargets

    rows = np.arange(len(ts))
    return TeacherTargets(np.concatenate([teacher.predict_chunk(ts, rows[i:i + batch], normalization, chunk)
                                          for i in range(0, len(rows), batch)]))
