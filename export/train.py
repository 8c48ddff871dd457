"""`vla-lite train`: a policy from demonstrations (behaviour cloning with action chunks, L1).

    vla-lite train --data runs/demos --size base --steps 6000 --out runs/teacher.safetensors
    torchrun --nproc_per_node 2 -m vla_lite train ...            # data-parallel (gloo on CPU, nccl on GPU)

Data: any dataset `open_dataset` reads (vla-lite recordings, LeRobot v2/v3, robomimic/ALOHA HDF5); failed and
unsynchronised episodes are dropped with a report. Statistics (calib/) are computed over the training episodes
and travel in the checkpoint; instructions are embedded by the same text encoder the bundle will carry.
A JSON summary (data kept/dropped, parameters, losses, speed) is printed at the end and written next to the
checkpoint. `--resume` continues from the checkpoint's step with its optimiser state.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vla_lite.calib.errors import CalibrationError
from vla_lite.calibration_contract import PROVENANCE_KEY as ARM_CALIBRATION  # the recordings' key is the bundle's
from vla_lite.progress import progress_bar

from .datasets.episode import DatasetError
from .fit import INSTRUCTION_NOISE

USER_ERRORS = (DatasetError, CalibrationError)  # the CLI prints these as one line (vla_lite/cli.py)
MIN_EPISODE_ROWS = 2  # rows; a shorter episode is dropped as too_short


def camera_specs(names_sizes, size_px: int | None, intrinsics: dict | None = None):
    """Bundle CameraSpecs for the policy: RGB in [0, 1], area resize to size_px (or the data's own size), with the
    record of the training camera: the frames' captured size and, for a camera given intrinsics ({name:
    CameraIntrinsics}), undistortion with them (the runtime's own code, vla_lite.cameras.undistort). DatasetError
    when intrinsics were calibrated at another size than the data's frames."""
    from vla_lite.bundle.manifest import CameraSpec

    intrinsics = intrinsics or {}
    for name, (h, w) in names_sizes:
        intr = intrinsics.get(name)
        if intr is not None and tuple(intr.image_size) != (w, h):
            raise DatasetError(f"--camera-intrinsics for camera {name!r} were calibrated at {intr.image_size[0]}x"
                               f"{intr.image_size[1]} px, but its frames in the data are {w}x{h}; give the "
                               "intrinsics of the camera (and resolution) that recorded them")
    return tuple(CameraSpec(name, size_px or h, size_px or w, "RGB", (0.0, 1.0), "area", None,
                            undistort=name in intrinsics, captured_size=(w, h), intrinsics=intrinsics.get(name))
                 for name, (h, w) in names_sizes)


def load_training_data(paths, chunk_length: int, size_px: int | None, embed, paraphrase_groups=(),
                       cameras=None, normalization=None, min_length: int = MIN_EPISODE_ROWS, progress: bool = True,
                       keep_failed: bool = False, data_options: dict | None = None, image_dir=None,
                       camera_intrinsics=()):
    """Screen the episodes, compute statistics (unless given), build the TrainSet (its image rows in files under
    image_dir, when given: TrainSet.build). data_options: DatasetSpec options (datasets.dataset_options(args)).
    camera_intrinsics: `--camera-intrinsics` values ([NAME=]FILE), when `cameras` are made from the data: those
    cameras' frames are undistorted as the runtime undistorts them. Returns (trainset, cameras, normalization,
    data_report)."""
    import sys

    from vla_lite.calib.stats import compute_normalization
    from .datasets import FilterConfig, open_datasets, screen_episode
    from .trainset import TrainSet

    note = lambda text: print(f"note: {text}", file=sys.stderr)  # noqa: E731
    readers = open_datasets(paths, data_options, note=note)
    kept, report = [], {"paths": [str(p) for p in paths], "episodes": 0, "kept": 0, "dropped": {}}
    calibrations: dict[str, dict] = {}  # digest -> fingerprint of the arm calibrations the kept episodes were run with
    for reader in readers:
        for i in range(len(reader)):
            ep = reader.episode(i)
            report["episodes"] += 1
            problems = screen_episode(ep, FilterConfig(min_length=min_length, drop_failed=not keep_failed))
            if problems:
                for prob in problems:
                    report["dropped"][prob.code] = report["dropped"].get(prob.code, 0) + 1
                continue
            kept.append((reader, i))
            report["kept"] += 1
            fp = (ep.meta.get("info") or {}).get(ARM_CALIBRATION)
            if isinstance(fp, dict) and "digest" in fp:
                calibrations.setdefault(fp["digest"], fp)
    if not kept:
        raise DatasetError(f"no usable episode in {report['paths']}: dropped {report['dropped']} (`vla-lite dataset "
                           "PATH` says why)")
    first = kept[0][0].episode(kept[0][1])
    if cameras is None:
        cameras = camera_specs([(name, seq[0].shape[:2]) for name, seq in first.frames.items()], size_px,
                               training_intrinsics(camera_intrinsics, list(first.frames)))
    elif camera_intrinsics:
        raise CalibrationError("--camera-intrinsics applies to cameras made from the data; these cameras come from "
                               "a checkpoint, which records its own undistortion (drop --camera-intrinsics)")
    if normalization is None:
        normalization, _ = compute_normalization(r.episode(i) for r, i in kept)
    bar = progress_bar(len(kept), progress, unit="ep", desc="loading")
    if image_dir is not None:
        Path(image_dir).mkdir(parents=True, exist_ok=True)
    ts = TrainSet.build((r.episode(i) for r, i in kept), cameras, normalization, chunk_length, embed,
                        paraphrase_groups, progress=(lambda e, ep: bar.update(1)) if bar else None,
                        image_dir=image_dir)
    if bar is not None:
        bar.close()
    report["rows"] = len(ts)
    report["state_names"] = first.meta.get("state_names")
    report["action_names"] = first.meta.get("action_names")
    report["state_units"] = first.meta.get("state_units")
    report["action_units"] = first.meta.get("action_units")
    info = first.meta.get("info") or {}  # dataset-wide keys only (not the first episode's own seed/target)
    report["info"] = {k: info[k] for k in ("source", "label_field", "label_source", "action_mode", "action_low",
                                           "action_high") if k in info}
    report["fps"] = first.fps
    if len(calibrations) == 1:  # the bundle's provenance.arm_calibration, compared with the arm's at run time
        report[ARM_CALIBRATION] = next(iter(calibrations.values()))
    elif calibrations:
        note(f"the episodes were recorded with {len(calibrations)} different arm calibrations "
             f"({sorted(calibrations)}): the policy records none, so run cannot compare an arm's with it")
    return ts, cameras, normalization, report


def training_intrinsics(values, camera_names) -> dict:
    """{camera name: CameraIntrinsics} from `--camera-intrinsics` values, parsed and loaded as `run` does;
    CalibrationError naming a bad value or file."""
    from vla_lite.runtime_cameras import load_camera_intrinsics

    try:
        loaded = load_camera_intrinsics(values, camera_names)
    except CalibrationError:  # a bad file (CalibrationFileError, a ValueError too): as it is
        raise
    except ValueError as exc:  # a bad value
        raise CalibrationError(str(exc)) from None
    return {name: intrinsics for name, (_, intrinsics) in loaded.items()}


def add_arguments(parser) -> None:
    from .datasets import add_dataset_arguments

    add_dataset_arguments(parser)
    a = parser.add_argument
    a("--data", action="append", required=True, help="dataset path (repeatable)")
    a("--out", required=True, help="checkpoint file (.safetensors)")
    a("--size", default="small", help="model size: nano, micro, small, base, large, xl")
    a("--chunk", type=int, default=10, help="action chunk length T")
    a("--steps", type=int, default=3000)
    a("--holdout", type=float, default=0.05, help="fraction of episodes held out for the eval loss")
    a("--resume", action="store_true", help="continue from --out's step and optimiser state")
    a("--paraphrases", choices=("auto", "none", "tabletop", "metaworld"), default="auto",
      help="instruction augmentation: swap for an equivalent training phrasing (auto: by the data's source)")
    a("--no-residual", dest="residual", action="store_false",
      help="predict absolute joint targets instead of displacements from the measured state")
    a("--camera-intrinsics", action="append", default=[], metavar="[NAME=]FILE",
      help="the intrinsics of the camera that recorded the data (vla-lite calibrate-camera): its frames are "
           "undistorted for training as run undistorts them, and the bundle asks run for undistorted frames "
           "(--resume keeps the checkpoint's)")
    add_common_arguments(parser)


def add_common_arguments(parser) -> None:
    """The flags `train` and `distill` share: how the policy runs and what it sees, the optimisation, the process."""
    a = parser.add_argument
    a("--replan-every", type=int, default=5, help="steps executed per chunk at run time (stored in the bundle)")
    a("--image-size", type=int, help="camera input size, px (default: the data's)")
    a("--batch", type=int, default=64)
    a("--lr", type=float, default=1e-3)
    a("--instruction-noise", type=float, default=INSTRUCTION_NOISE,
      help="std per dimension of Gaussian noise on the unit instruction embedding in training (0: off): helps "
           "unseen rewordings")
    a("--seed", type=int, default=0)
    a("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    a("--image-dir", help="keep the training images in files here (memory-mapped: the OS caches what fits) instead "
                          "of in RAM, for data larger than the machine's memory")
    a("--json", action="store_true", help="print only the JSON summary")


def run(args) -> int:
    import torch

    from vla_lite.bundle.camera_spec import camera_to_dict

    from .checkpoint import load_checkpoint, nothing_to_resume, restore_optimizer, save_checkpoint
    from .datasets import dataset_options
    from .fit import FitConfig, distributed, fit
    from .model import Policy, PolicyConfig, parameter_count
    from .text_cache import training_text_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    rank, _ = distributed()
    resume = load_checkpoint(args.out) if args.resume and Path(args.out).exists() else None
    if resume is not None and int(resume.train.get("step", 0)) >= args.steps:  # keep its summary and history
        return nothing_to_resume("train", args.out, f"has trained {resume.train.get('step')} of --steps "
                                 f"{args.steps}", args.json)
    encoder = training_text_encoder()
    groups = paraphrase_groups(args.paraphrases, args.data)
    ts, cameras, norm, data = load_training_data(
        args.data, args.chunk, args.image_size, encoder.encode, groups,
        normalization=resume.normalization if resume else None, progress=rank == 0 and not args.json,
        # a resumed model keeps the cameras it was built for, undistortion included (as --size, --image-size)
        cameras=resume.cameras if resume else None, camera_intrinsics=() if resume else args.camera_intrinsics,
        data_options=dataset_options(args), image_dir=args.image_dir)
    train_rows, eval_rows = ts.split(args.holdout, seed=args.seed)
    if resume is not None:
        model, start = resume.model, int(resume.train.get("step", 0))
    else:
        cfg = PolicyConfig.preset(args.size, cameras=tuple((c.name, c.height, c.width) for c in cameras),
                                  state_dim=ts.state.shape[1], action_dim=ts.actions.shape[2],
                                  chunk_length=args.chunk, embedding_dim=ts.embeddings.shape[1],
                                  residual=residual_map(data) if args.residual else ())
        torch.manual_seed(args.seed)
        model, start = Policy(cfg), 0
        model.set_residual_stats(norm)
    fit_cfg = FitConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                        instruction_noise=args.instruction_noise)
    optimizer = torch.optim.AdamW(model.parameters(), lr=fit_cfg.lr, weight_decay=fit_cfg.weight_decay)
    if resume is not None:
        restore_optimizer(optimizer, model, resume.optimizer_state)
    meta = {"size": args.size, "replan_every": args.replan_every, "data": data, "rate_hz": data["fps"],
            "cameras": [camera_to_dict(c) for c in cameras], "text_encoder": encoder.info,
            "instructions": list(ts.texts)}  # every phrasing trained on: the bundle's instruction.known

    def checkpoint(step, opt, history):
        save_checkpoint(args.out, model, norm, {**meta, "step": step, "history": history}, role="policy",
                        optimizer=opt)

    history = fit(model, ts, train_rows, eval_rows, fit_cfg, start_step=start, optimizer=optimizer,
                  on_checkpoint=checkpoint, progress=rank == 0 and not args.json)
    if rank != 0:
        return 0
    summary = {"checkpoint": str(args.out), "parameters": parameter_count(model), "rows": len(ts),
               "train_rows": int(len(train_rows)), "eval_rows": int(len(eval_rows)), "data": data,
               "final_train_loss": history["train_loss"][-1][1] if history["train_loss"] else None,
               "final_eval_loss": history["eval_loss"][-1][1] if history["eval_loss"] else None,
               "seconds": history["seconds"], "samples_per_s": history["samples_per_s"]}
    Path(args.out).with_suffix(".json").write_text(json.dumps({**summary, "history": history}, indent=1) + "\n")
    print(json.dumps(summary, indent=1) if args.json else
          f"trained {args.size} ({summary['parameters']:,} parameters) on {summary['rows']} rows: "
          f"eval L1 {summary['final_eval_loss']}, {summary['seconds']} s -> {args.out}")
    return 0


def residual_map(data: dict) -> tuple[int, ...]:
    """Per action dimension, the index of the same joint in the state (joint_position mode), else -1."""
    if (data.get("info") or {}).get("action_mode", "joint_position") != "joint_position":
        return ()
    state, action = data.get("state_names") or [], data.get("action_names") or []
    return tuple(state.index(a) if a in state else -1 for a in action) if action else ()


def paraphrase_groups(kind: str, paths) -> list[list[str]]:
    """Groups of interchangeable training phrasings for instruction augmentation. kind "auto" picks by the
    first dataset's source (demonstrations from this project's simulated worlds), else none."""
    if kind == "auto":
        from .dagger import first_episode_meta, source_world

        kind = source_world(first_episode_meta(paths[0])) or "none"
    if kind == "tabletop":
        return tabletop_paraphrases()
    if kind == "metaworld":
        from vla_lite.worlds.metaworld.tasks import MT50, task_instructions

        return [list(task_instructions(task, "train")) for task in MT50]
    if kind == "so101":
        from vla_lite.worlds.so101.instructions import all_tasks, phrasings

        return [list(phrasings(task, "train")) for task in all_tasks()]
    return []


def tabletop_paraphrases() -> list[list[str]]:
    """Groups of interchangeable training phrasings, one group per colour (held-out phrasings never included)."""
    from vla_lite.worlds.tabletop.instructions import COLOURS, TRAIN_TEMPLATES

    return [[t.format(c=colour) for t in TRAIN_TEMPLATES] for colour in COLOURS]
