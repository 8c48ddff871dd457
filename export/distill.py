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

import argparse
import functools
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dagger import DAGGER_SEED_BASE, failure_weights, seed_end
from .datasets.episode import DatasetError
from .train import add_common_arguments

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
    add_common_arguments(parser)


def run(args) -> int:
    from .checkpoint import CheckpointError

    try:
        return _run(args)
    except CheckpointError as exc:  # a teacher or --init that cannot be used: say which and why, no traceback
        print(f"vla-lite distill: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    """The run in one screen: check the arguments, set up (or pick up an interrupted run), fit, DAgger rounds, save."""
    import torch

    from .checkpoint import load_checkpoint, nothing_to_resume
    from .dagger import ExpertWorld

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.steps < 0 or args.round_steps < 1 or args.dagger_rounds < 0:
        return _refuse(f"need --steps >= 0 (got {args.steps}), --round-steps >= 1 (got {args.round_steps}) and "
                       f"--dagger-rounds >= 0 (got {args.dagger_rounds})")
    if args.resume and args.dagger_rounds and not args.dagger_dir:
        return _refuse("--resume with DAgger rounds needs the --dagger-dir the interrupted run recorded its rounds in")
    resume = load_checkpoint(args.out) if args.resume and Path(args.out).exists() else None
    if resume is not None and not resume.train.get("partial"):
        return nothing_to_resume("distill", args.out, f"is a finished run (step {resume.train.get('step')})",
                                 args.json)
    if args.steps == 0 and not (args.init and args.dagger_rounds):
        return _refuse("--steps 0 trains nothing before the rounds; it needs --init and --dagger-rounds >= 1")
    world = ExpertWorld.from_data(args.data)
    if args.dagger_rounds and world is None:
        return _refuse(f"DAgger needs a simulated world whose expert labels the states the student visits; "
                       f"{args.data} are not demonstrations from `vla-lite demo-data`, `vla-lite metaworld-demos` "
                       "or `vla-lite so101-demos`. "
                       "Use --dagger-rounds 0 (distillation on the data only).")
    run = setup(args, world, resume)
    if args.steps > 0:
        train_to(run, run.total_steps, args.steps, args.seed, min(200, max(1, args.steps // 10)))
    dagger_root = Path(args.dagger_dir) if args.dagger_dir else Path(tempfile.mkdtemp(prefix="vla-dagger-"))
    recorded = len(run.own_rounds())  # rounds this run recorded before it was interrupted: read back, not again
    first = len(run.rounds) - recorded  # the first round this run records (a warm start numbers on from its rounds)
    for j, r in enumerate(range(first, first + args.dagger_rounds)):
        dagger_round(run, r, dagger_root / f"round_{r + 1}", record=j >= recorded)
    return finish(run)


def _refuse(why: str) -> int:
    print(f"vla-lite distill: {why}", file=sys.stderr)
    return 2


@dataclass
class Distillation:
    """A distillation in progress: what every step reads (the arguments, the world, the teacher, the statistics)
    and what the steps move on (the student's weights, the rows and their teacher chunks, the rounds recorded, the
    fits done, `done`: the step the student has trained to). A resumed run starts from its checkpoint's."""
    args: argparse.Namespace
    world: object  # dagger.ExpertWorld, or None (no DAgger rounds)
    resume: object  # the interrupted run's checkpoint.Checkpoint (--resume), or None
    encoder: object  # text_cache.CachedTextEncoder
    teacher: object  # checkpoint.Checkpoint, or None (the expert or a LeRobot teacher)
    lerobot: object  # teachers.lerobot_teacher.LeRobotTeacher, or None
    student: object  # model.Policy, trained in place
    cameras: tuple  # CameraSpecs, in the student's input order
    norm: dict  # normalisation statistics (the teacher's, the --init checkpoint's, or the data's)
    chunk: int  # chunk length T
    paraphrases: list  # groups of interchangeable training phrasings
    ts: object  # trainset.TrainSet: demonstrations, then every round's rollouts appended
    targets: object  # fit.TeacherTargets per row of ts, or None (ground truth only)
    feats: bool  # feature distillation (a checkpoint teacher and --feature-weight > 0)
    meta: dict  # the checkpoint's `train` metadata as it was at the start
    fit_kw: dict  # FitConfig fields every fit shares
    rounds: list  # the DAgger rounds recorded (a warm start's first, marked "from")
    history: list  # one record per fit
    done: int  # the step the student has trained to
    total_steps: int  # the step the fits planned so far end at
    per_task: dict | None = None  # the last round's success per task: what --dagger-allocation failures weighs by

    def own_rounds(self) -> list:
        return [r for r in self.rounds if "from" not in r]

    def runner(self):
        """The student as a `policy(obs, env)` for rollouts: the runtime's chunk execution."""
        from .rollout import TorchPolicyRunner

        return TorchPolicyRunner(self.student, self.cameras, self.norm, self.encoder.encode, self.args.replan_every)

    def rollout_kw(self) -> dict:
        return dict(size_px=self.cameras[0].height, chunk=self.chunk, rate_hz=self.meta["rate_hz"],
                    cameras=tuple(c.name for c in self.cameras))


def setup(args, world, resume) -> Distillation:
    """Teacher, rows, student and targets from the arguments; a warm start (--init) or a resumed run (--resume)
    continues the step count, rounds and fit records of its checkpoint."""
    import torch

    from vla_lite.bundle.camera_spec import camera_to_dict

    from .checkpoint import load_checkpoint
    from .model import Policy, PolicyConfig
    from .text_cache import training_text_encoder
    from .train import paraphrase_groups, residual_map

    encoder = training_text_encoder()
    teacher, lerobot = load_teacher(args.teacher)
    chunk = teacher.config.chunk_length if teacher else args.chunk
    paraphrases = paraphrase_groups(world.kind if world else "auto", args.data)
    init = load_checkpoint(args.init) if args.init else None
    ts, cameras, norm, data = training_rows(args, encoder, paraphrases, chunk, teacher or init)
    cfg = PolicyConfig.preset(args.size, cameras=tuple((c.name, c.height, c.width) for c in cameras),
                              state_dim=ts.state.shape[1], action_dim=ts.actions.shape[2], chunk_length=chunk,
                              embedding_dim=ts.embeddings.shape[1],
                              residual=teacher.config.residual if teacher else residual_map(data))
    torch.manual_seed(args.seed)
    size = args.size
    if resume is not None:
        student, size = warm_start(resume, cfg, norm, "--resume"), resume.train.get("size", args.size)
    elif init is None:
        student = Policy(cfg)
        student.set_residual_stats(norm)
    else:
        student, size = warm_start(init, cfg, norm), init.train.get("size", args.size)
    feats = teacher is not None and args.feature_weight > 0
    targets = teacher_chunks(teacher, lerobot, ts, norm, chunk, feats, progress=not args.json)
    alpha = args.alpha if targets is not None else 0.0
    # A warm start continues the checkpoint's step count and round numbering (so its rollout seeds are new ones)
    # with a fresh learning-rate schedule from its step.
    start = int(init.train.get("step", 0)) if init else 0
    rounds = [dict(r, **{"from": str(args.init)}) for r in init.train.get("dagger", []) if "episodes" in r] \
        if init else []
    history = list(init.train.get("history", [])) if init else []
    done = start
    if resume is not None:
        rounds, history, done = list(resume.train["dagger"]), list(resume.train["history"]), int(resume.train["step"])
    fit_kw = dict(batch=args.batch, lr=args.lr, alpha=alpha, feature_weight=args.feature_weight if feats else 0.0,
                  instruction_noise=args.instruction_noise, schedule_start=start, eval_every=args.checkpoint_every)
    meta = {"size": size, "replan_every": args.replan_every, "rate_hz": float(data["fps"]), "data": data,
            "cameras": [camera_to_dict(c) for c in cameras],
            "text_encoder": encoder.info, "teacher": str(args.teacher), "alpha": alpha,
            "instructions": list(ts.texts)}  # every phrasing trained on: the bundle's instruction.known
    run = Distillation(args, world, resume, encoder, teacher, lerobot, student, cameras, norm, chunk, paraphrases, ts,
                       targets, feats, meta, fit_kw, rounds, history, done, start + args.steps)
    own = run.own_rounds()
    run.per_task = own[-1]["per_task"] if own else None
    return run


def load_teacher(spec: str):
    """--teacher -> (checkpoint, LeRobot teacher): `expert` gives neither (the data's labels are the expert's)."""
    from .checkpoint import load_checkpoint

    lerobot = None
    if spec.startswith("lerobot:"):
        from .teachers.lerobot_teacher import LeRobotTeacher
        lerobot = LeRobotTeacher(spec.split(":", 1)[1])
    return (None if spec == "expert" or lerobot else load_checkpoint(spec)), lerobot


def training_rows(args, encoder, paraphrases, chunk: int, source):
    """The demonstrations (and --dagger-data) as rows, with the cameras and statistics of `source` (the teacher or
    --init checkpoint; None: the data's). -> (trainset, cameras, normalization, data report)."""
    from .datasets import dataset_options
    from .train import load_training_data

    ts, cameras, norm, data = load_training_data(
        args.data, chunk, args.image_size, encoder.encode, paraphrases,
        cameras=source.cameras if source is not None else None,
        normalization=source.normalization if source is not None else None, progress=not args.json,
        data_options=dataset_options(args), image_dir=args.image_dir)
    if args.dagger_data:  # earlier rounds' rollouts: every visited state counts, failed ones most of all
        earlier, *_ = load_training_data(args.dagger_data, chunk, None, encoder.encode, paraphrases,
                                         cameras=cameras, normalization=norm, progress=False, keep_failed=True,
                                         image_dir=args.image_dir)
        ts = ts.extend(earlier)
    return ts, cameras, norm, data


def teacher_chunks(teacher, lerobot, ts, norm: dict, chunk: int, feats: bool, progress: bool = False):
    """The teacher's chunk (and features) for every row of ts; None when the student learns the ground truth only."""
    from .fit import teacher_targets

    if teacher is not None:
        return teacher_targets(teacher.model, ts, feats, progress=progress)
    return lerobot.targets(ts, norm, chunk) if lerobot is not None else None


def save_partial(run: Distillation, step: int, optimizer=None, fit_history=None) -> None:
    """What --resume goes on from: the step, the rounds recorded, the optimiser's moments within a fit (not with
    feature distillation: its optimiser also holds the projector, which is not saved, and a resumed run starts it
    afresh)."""
    from .checkpoint import save_checkpoint

    save_checkpoint(run.args.out, run.student, run.norm,
                    {**run.meta, "dagger": run.rounds, "step": step, "partial": True,
                     "history": run.history + ([fit_history] if fit_history else [])},
                    role="student", optimizer=None if run.feats else optimizer)


def train_to(run: Distillation, end: int, length: int, seed: int, warmup: int) -> None:
    """The fit of `length` steps that ends at step `end`, from the step reached (a resumed run: its checkpoint's,
    with its optimiser moments), checkpointing every --checkpoint-every steps."""
    import torch

    from .checkpoint import restore_optimizer
    from .fit import FitConfig, fit

    if run.done >= end:
        return
    begun = run.done > end - length  # a resumed run interrupted within this fit
    optimizer = None
    if begun and run.resume is not None and not run.feats:  # (feature distillation's projector is not saved)
        optimizer = torch.optim.AdamW(run.student.parameters(), lr=run.args.lr, weight_decay=FitConfig.weight_decay)
        restore_optimizer(optimizer, run.student, run.resume.optimizer_state)
    partial = run.history[-1] if begun and run.history else None  # the interrupted fit's record, continued below
    cfg = FitConfig(steps=end, seed=seed, warmup=warmup, **run.fit_kw)
    if partial is not None:
        run.history.pop()
    record = fit(run.student, run.ts, *run.ts.split(0.0), cfg, teacher=run.targets, start_step=run.done,
                 optimizer=optimizer, on_checkpoint=functools.partial(save_partial, run), progress=not run.args.json)
    if partial is not None:
        record = {**record, "resumed_at": run.done, "before_resume": partial}
    run.history.append(record)
    run.done = end


def dagger_round(run: Distillation, r: int, out_dir: Path, record: bool) -> None:
    """Round r: roll the student out and have the expert label every state it visited (unless an interrupted run
    recorded this round already), add those rows with the teacher's chunks for them, train --round-steps more."""
    if record:
        record_round(run, r, out_dir)
    # Every visited state counts, failed rollouts most of all: keep them (the labels are the expert's).
    add_rows(run, out_dir)
    run.total_steps += run.args.round_steps
    train_to(run, run.total_steps, run.args.round_steps, run.args.seed + r + 1, 0)


def record_round(run: Distillation, r: int, out_dir: Path) -> None:
    args = run.args
    if run.resume is not None and out_dir.exists():  # an interrupted recording: record it again, whole
        shutil.rmtree(out_dir)
    runner = run.runner()
    weights = failure_weights(run.per_task) if args.dagger_allocation == "failures" and run.per_task else None
    seed0 = max([DAGGER_SEED_BASE + r * args.dagger_episodes] + [seed_end(p) for p in run.rounds])
    summary = run.world.record(out_dir, seed0, args.dagger_episodes, runner, progress=not args.json,
                               extra_meta={"dagger_round": r + 1}, weights=weights, **run.rollout_kw())
    run.per_task = {t: v["successes"] / v["episodes"] for t, v in summary.get("tasks", {}).items()}
    run.rounds.append({"round": r, "student_success": summary["success_rate"], "episodes": summary["episodes"],
                       "rows_before": len(run.ts), "per_task": run.per_task, "seed0": seed0,
                       "seed_end": seed0 + summary["episodes"]})
    save_partial(run, run.done)  # the round's rollouts are on disk: a resumed run reads them back


def add_rows(run: Distillation, out_dir: Path) -> None:
    """A recorded round's rows, failed rollouts included, and the teacher's chunks for them."""
    from .train import load_training_data

    new_ts, *_ = load_training_data([out_dir], run.chunk, None, run.encoder.encode, run.paraphrases,
                                    cameras=run.cameras, normalization=run.norm, progress=False, keep_failed=True,
                                    image_dir=run.args.image_dir)
    run.ts = run.ts.extend(new_ts)
    if run.targets is not None:
        new = teacher_chunks(run.teacher, run.lerobot, new_ts, run.norm, run.chunk, run.feats)
        run.targets.actions = np.concatenate([run.targets.actions, new.actions])
        if run.feats:
            run.targets.features = np.concatenate([run.targets.features, new.features])


def finish(run: Distillation) -> int:
    """The student's in-process success on fresh seeds, the finished checkpoint, its summary (printed and as JSON
    beside it)."""
    from .checkpoint import save_checkpoint
    from .model import parameter_count

    args = run.args
    if run.world is not None:
        final = run.world.success_rate(run.runner(), DAGGER_SEED_BASE + 90_000, args.dagger_episodes,
                                       **run.rollout_kw())
        run.rounds.append({"round": len(run.rounds), "student_success": final, "rows_before": len(run.ts)})
    meta = {**run.meta, "dagger": run.rounds, "step": run.total_steps, "history": run.history,
            "instructions": list(run.ts.texts)}
    save_checkpoint(args.out, run.student, run.norm, meta, role="student")
    summary = {"checkpoint": str(args.out), "parameters": parameter_count(run.student),
               "teacher_parameters": parameter_count(run.teacher.model) if run.teacher else None,
               "rows": len(run.ts), "dagger": run.rounds,
               "seconds": round(sum(h.get("seconds", 0) for h in run.history), 1)}
    Path(args.out).with_suffix(".json").write_text(json.dumps({**summary, "history": run.history}, indent=1) + "\n")
    print(json.dumps(summary, indent=1) if args.json else
          f"student {run.meta['size']} ({summary['parameters']:,} parameters): in-process success by DAgger round "
          f"{[round(r['student_success'], 3) for r in run.rounds]} -> {args.out}", file=sys.stdout)
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

