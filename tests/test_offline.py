"""The offline path on small real data: checkpoints (round trip, resume, clear errors), a two-process DDP step on
gloo, and export to all four graphs with the parity gates measured by the runtime's own backends."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vla_lite.export.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from vla_lite.export.model import Policy, PolicyConfig, parameter_count  # noqa: E402
from vla_lite.export.parity import GATES, ParityGateFailed, check_gate, compare  # noqa: E402

CAMS = (("front", 32, 32),)
NORM = {"state": {"mean": [0.0] * 4, "std": [1.0] * 4, "q01": [-1.0] * 4, "q99": [1.0] * 4},
        "action": {"mean": [0.0] * 4, "std": [0.5] * 4, "q01": [-1.0] * 4, "q99": [1.0] * 4,
                   "mask": [True, True, True, False]}}


def tiny_config(**kw):
    return PolicyConfig.preset("nano", cameras=CAMS, state_dim=4, action_dim=4, chunk_length=5, **kw)


def test_presets_span_a_wide_range_of_sizes_and_configs_are_checked():
    sizes = {n: parameter_count(Policy(PolicyConfig.preset(n, cameras=(("front", 96, 96),), state_dim=4,
                                                           action_dim=4, chunk_length=8)))
             for n in ("nano", "micro", "small", "base")}
    assert sizes["nano"] < 0.5e6 < sizes["micro"] < sizes["small"] < sizes["base"]
    assert sizes["base"] > 10 * sizes["micro"]  # a teacher >= 10x the student is one preset pair away
    with pytest.raises(ValueError, match="at least 16 px"):
        PolicyConfig.preset("nano", cameras=(("front", 8, 8),), state_dim=4, action_dim=4, chunk_length=5)
    with pytest.raises(ValueError, match="residual"):
        tiny_config(residual=(0, 1))
    with pytest.raises(ValueError, match="unknown model size"):
        PolicyConfig.preset("huge", cameras=CAMS, state_dim=4, action_dim=4, chunk_length=5)


def test_residual_actions_add_the_measured_state_in_action_units():
    model = Policy(tiny_config(residual=(0, 1, 2, 3))).eval()
    model.set_residual_stats(NORM)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        state = torch.tensor([[0.5, -1.0, 2.0, 0.25]])
        out = model(image_front=torch.rand(1, 32, 32, 3), state=state, instruction=torch.zeros(1, 384))
    # normalised dims: (s * std_s + mean_s - mean_a) / std_a = s / 0.5; the masked gripper passes s * std_s + mean_s
    np.testing.assert_allclose(out["actions"][0, 0].numpy(), [1.0, -2.0, 4.0, 0.25], atol=1e-6)


def test_checkpoint_round_trip_resume_state_and_clear_errors(tmp_path):
    torch.manual_seed(0)
    model = Policy(tiny_config())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = dict(image_front=torch.rand(2, 32, 32, 3), state=torch.randn(2, 4), instruction=torch.randn(2, 384))
    model(**x)["actions"].abs().mean().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "c.safetensors", model, NORM, {"step": 7}, optimizer=opt)
    ck = load_checkpoint(path)
    assert ck.train["step"] == 7 and ck.config == model.cfg and ck.normalization == NORM
    for (k, a), b in zip(model.state_dict().items(), ck.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert any(k.endswith("exp_avg_sq") for k in ck.optimizer_state)
    assert b"pickle" not in path.read_bytes()[:200]

    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "absent.safetensors")

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as fh:  # the same weights under a config that no longer matches them
        meta = dict(fh.metadata())
    cfg = json.loads(meta["config"])
    cfg["width"] = 32
    meta["config"] = json.dumps(cfg)
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="has shape"):
        load_checkpoint(tmp_path / "m.safetensors")
    meta["format"] = "something-else/9"
    save_file(tensors, str(tmp_path / "f.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(tmp_path / "f.safetensors")


DDP_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from vla_lite.export.fit import FitConfig, fit
    from vla_lite.export.model import Policy, PolicyConfig
    from vla_lite.export.trainset import TrainSet
    rng = np.random.default_rng(0)  # the same data on both ranks; each draws its own batches
    M = 64
    ts = TrainSet({"image_front": rng.random((M, 32, 32, 3)).astype(np.float16)},
                  rng.standard_normal((M, 4)).astype(np.float32), rng.standard_normal((M, 5, 4)).astype(np.float32),
                  np.ones((M, 5), bool), np.zeros(M, np.int32), np.arange(M, dtype=np.int32) // 8,
                  ["touch the red block"], rng.standard_normal((1, 384)).astype(np.float32), [np.array([0])])
    torch.manual_seed(0)
    model = Policy(PolicyConfig.preset("nano", cameras=(("front", 32, 32),), state_dim=4, action_dim=4,
                                       chunk_length=5))
    before = torch.cat([p.detach().flatten() for p in model.parameters()]).clone()
    hist = fit(model, ts, np.arange(M), np.arange(0), FitConfig(steps=3, batch=8, warmup=1, eval_every=3),
               progress=False)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    import torch.distributed as dist
    print(json.dumps({"rank": dist.get_rank(), "world": hist["world_size"], "moved": float((after - before).abs().sum()),
                      "checksum": float(after.double().sum()), "head": after[-20:].tolist()}))
    dist.destroy_process_group()
""")


def test_instruction_noise_perturbs_unit_embeddings_by_the_stated_amount_and_only_when_augmenting():
    pytest.importorskip("torch")
    from vla_lite.export.fit import FitConfig
    from vla_lite.export.trainset import TrainSet

    rng = np.random.default_rng(0)
    M, E = 256, 384
    clean = rng.standard_normal((2, E)).astype(np.float32)
    clean /= np.linalg.norm(clean, axis=1, keepdims=True)
    ts = TrainSet({"image_front": rng.random((M, 8, 8, 3)).astype(np.float16)},
                  rng.standard_normal((M, 4)).astype(np.float32), rng.standard_normal((M, 5, 4)).astype(np.float32),
                  np.ones((M, 5), bool), np.arange(M, dtype=np.int32) % 2, np.arange(M, dtype=np.int32) // 8,
                  ["touch the red block", "touch the blue block"], clean, [np.array([0]), np.array([1])])
    rows = np.arange(M)
    ids = np.arange(M) % 2
    plain = ts.batch(rows, np.random.default_rng(1), augment=True, shift_px=0)["instruction"].numpy()
    np.testing.assert_array_equal(plain, clean[ids])  # noise 0: the encoder's embeddings as they are
    noisy = ts.batch(rows, np.random.default_rng(1), augment=True, shift_px=0, instruction_noise=0.04)
    got = noisy["instruction"].numpy()
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)  # still the encoder's unit vectors
    cos = (got * clean[ids]).sum(1)
    expected = 1 / np.sqrt(1 + E * 0.04 ** 2)  # E[cos] of a unit vector plus N(0, s^2 I) noise, renormalised
    assert abs(cos.mean() - expected) < 0.02 and cos.std() > 0.005, (cos.mean(), expected)
    assert len(np.unique(got.round(5), axis=0)) == M  # fresh noise per row
    np.testing.assert_array_equal(ts.batch(rows, None, augment=False, instruction_noise=0.04)["instruction"].numpy(),
                                  clean[ids])  # evaluation batches are never noised
    with pytest.raises(ValueError, match="instruction_noise must be in"):
        FitConfig(instruction_noise=-0.1)


def test_two_process_ddp_step_on_gloo_keeps_the_ranks_in_sync(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {**os.environ, "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    r = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert {x["rank"] for x in r} == {0, 1} and all(x["world"] == 2 for x in r)
    assert all(x["moved"] > 0 for x in r)
    # Different batches on each rank, yet identical weights: the gradients were averaged across processes.
    assert r[0]["checksum"] == r[1]["checksum"] and r[0]["head"] == r[1]["head"]


def test_parity_figures_and_gates():
    ref = np.random.default_rng(0).standard_normal((40, 5, 4))
    assert compare(ref, ref) == {"max_abs": 0.0, "cosine": 1.0, "n": 40}
    check_gate("onnx-int8", "int8", compare(ref, ref + 0.05))
    with pytest.raises(ParityGateFailed, match="exceeds the int8 gate"):
        check_gate("onnx-int8", "int8", compare(ref, ref + 0.2))
    with pytest.raises(ParityGateFailed, match="fp32 gate"):
        check_gate("onnx-fp32", "fp32", compare(ref, ref + 1e-3))
    with pytest.raises(ParityGateFailed, match="at least 32"):
        check_gate("tflite-fp32", "fp32", compare(ref[:8], ref[:8]))
    assert GATES["fp32"].max_abs == 1e-4 and GATES["int8"].max_abs == 0.1 and GATES["int8"].min_cosine == 0.99


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Demonstrations at 32 px, a few training steps of the smallest model: a real checkpoint, fast."""
    root = tmp_path_factory.mktemp("offline")
    run = lambda *a: subprocess.run([sys.executable, "-m", "vla_lite", *a], capture_output=True, text=True,
                                    timeout=900)
    for args in (["demo-data", "--out", str(root / "demos"), "--episodes", "12", "--size", "32", "--json"],
                 ["demo-data", "--out", str(root / "calib"), "--episodes", "10", "--size", "32", "--seed", "800000",
                  "--noise", "0", "--json"],
                 ["train", "--data", str(root / "demos"), "--out", str(root / "c.safetensors"), "--size", "nano",
                  "--steps", "40", "--batch", "16", "--chunk", "5", "--json"]):
        out = run(*args)
        assert out.returncode == 0, out.stderr[-3000:]
    return root, run


def test_train_summary_and_resume(tiny_run):
    root, run = tiny_run
    summary = json.loads((root / "c.json").read_text())
    assert summary["data"]["kept"] == 12 and summary["rows"] > 100 and summary["parameters"] > 100_000
    out = run("train", "--data", str(root / "demos"), "--out", str(root / "c.safetensors"), "--size", "nano",
              "--steps", "60", "--batch", "16", "--chunk", "5", "--resume", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    assert load_checkpoint(root / "c.safetensors").train["step"] == 60
    kept = (root / "c.json").read_text()
    again = run("train", "--data", str(root / "demos"), "--out", str(root / "c.safetensors"), "--size", "nano",
                "--steps", "60", "--batch", "16", "--chunk", "5", "--resume", "--json")
    assert again.returncode == 0 and "nothing to resume" in again.stderr, again.stderr[-3000:]
    assert json.loads(again.stdout)["final_train_loss"] == json.loads(kept)["final_train_loss"] is not None
    assert (root / "c.json").read_text() == kept  # the finished run's summary and loss history stay


def test_export_all_four_graphs_with_parity_recorded_and_a_bundle_that_runs(tiny_run):
    root, run = tiny_run
    out = run("export", str(root / "c.safetensors"), "--calib", str(root / "calib"), "-o", str(root / "p.vla"),
              "--format", "onnx,tflite", "--precision", "fp32,int8", "--json")
    assert out.returncode in (0, 3), out.stderr[-3000:]
    if out.returncode == 3:  # a gate failed: loud, named, and no bundle left behind
        assert "PARITY GATE FAILED" in out.stderr and not (root / "p.vla").exists()
        pytest.fail(f"an int8 export missed its parity gate: {out.stderr[-500:]}")
    summary = json.loads(out.stdout)
    from vla_lite.bundle import load_bundle
    bundle = load_bundle(root / "p.vla")
    m = bundle.manifest
    assert set(m.parity) == {"onnx.fp32", "onnx.int8", "tflite.fp32", "tflite.int8"}
    for key, fig in m.parity.items():
        gate = GATES[key.split(".")[1]]
        assert fig.n >= 32 and fig.max_abs <= gate.max_abs and fig.cosine >= gate.min_cosine
    assert m.trained and m.instruction.encoder == "text/encoder.onnx" and m.action.names == \
        ("shoulder", "elbow", "lift", "gripper")
    assert summary["parity_observations"] >= 32
    shipped = json.dumps(dict(m.provenance))  # no build-machine path: folders as name@sha256
    assert str(root) not in shipped and m.provenance["data"] and all("@sha256:" in d for d in m.provenance["data"])
    assert m.instruction.known  # the phrasings trained on, for grounding
    ev = run("eval", str(root / "p.vla"), "--episodes", "2", "--runtime", "tflite", "--precision", "int8", "--json")
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert json.loads(ev.stdout)["episodes"] == 2
    bench = run("bench", str(root / "p.vla"), "--torch", str(root / "c.safetensors"), "--iters", "5", "--json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    b = json.loads(bench.stdout)
    assert b["torch_eager"]["n"] == 5 and b["torch_eager"]["p50_ms"] > 0
    assert all(r["speedup_vs_torch_eager"] > 0 for r in b["results"]) and len(b["results"]) == 4


def test_dagger_world_comes_from_the_data_and_data_without_an_expert_is_refused_for_dagger(tiny_run, tmp_path):
    import shutil

    from vla_lite.export.dagger import ExpertWorld

    root, run = tiny_run
    assert ExpertWorld.from_data([root / "demos"]) == ExpertWorld("tabletop")
    robot = tmp_path / "robot"
    shutil.copytree(root / "demos", robot)
    for meta_path in robot.glob("episode_*/meta.json"):  # the same episodes, as if recorded on a robot
        meta = json.loads(meta_path.read_text())
        meta["info"]["source"] = "vla-lite run"
        meta_path.write_text(json.dumps(meta))
    assert ExpertWorld.from_data([robot]) is None and ExpertWorld.from_data([root / "demos", robot]) is None
    out = run("distill", "--teacher", "expert", "--data", str(robot), "--out", str(tmp_path / "s.safetensors"),
              "--size", "nano", "--dagger-rounds", "1", "--json")
    assert out.returncode == 2 and "DAgger needs a simulated world" in out.stderr and "--dagger-rounds 0" in out.stderr
    assert not (tmp_path / "s.safetensors").exists()


def test_rollouts_are_allocated_by_weight_with_one_per_task_and_bad_weights_are_refused():
    from vla_lite.export.dagger import allocate, failure_weights

    w = failure_weights({"a": 0.0, "b": 1.0, "c": 0.5})
    assert w == pytest.approx({"a": 1.2, "b": 0.2, "c": 0.7})
    counts = allocate(100, ["a", "b", "c"], w)
    assert counts == {"a": 57, "b": 10, "c": 33} and sum(counts.values()) == 100
    assert allocate(2, ["a", "b", "c"], w) == {"a": 1, "b": 1, "c": 1}  # never a task left out
    assert allocate(4, ["a", "b"], {"a": 1.0}) == {"a": 2, "b": 2}  # an unknown task weighs as the heaviest
    for bad in ({"a": -1.0, "b": 1.0}, {"a": 0.0, "b": 0.0}, {"a": float("nan"), "b": 1.0}):
        with pytest.raises(ValueError, match="task weights"):
            allocate(4, ["a", "b"], bad)


def test_the_learning_rate_schedule_restarts_at_a_warm_start():
    from vla_lite.export.fit import FitConfig, lr_at

    fresh = FitConfig(steps=1000, warmup=100, lr=1e-3)
    warm = FitConfig(steps=5000, warmup=100, lr=1e-3, schedule_start=4000)
    for k in (0, 50, 100, 500, 999):
        assert lr_at(4000 + k, warm) == pytest.approx(lr_at(k, fresh))
    with pytest.raises(ValueError, match="schedule_start"):
        FitConfig(steps=100, schedule_start=100)


def test_distill_warm_starts_a_student_and_continues_its_rounds_on_new_seeds(tiny_run, tmp_path):
    root, run = tiny_run
    common = ["--data", str(root / "demos"), "--batch", "8", "--replan-every", "2", "--dagger-episodes", "2",
              "--round-steps", "4", "--json"]
    first = run("distill", "--teacher", str(root / "c.safetensors"), "--out", str(tmp_path / "s1.safetensors"),
                "--size", "nano", "--steps", "6", "--dagger-rounds", "1", "--dagger-dir", str(tmp_path / "d1"),
                *common)
    assert first.returncode == 0, first.stderr[-3000:]
    s1 = load_checkpoint(tmp_path / "s1.safetensors")
    assert s1.train["step"] == 10
    more = run("distill", "--teacher", str(root / "c.safetensors"), "--out", str(tmp_path / "s2.safetensors"),
               "--init", str(tmp_path / "s1.safetensors"), "--steps", "0", "--dagger-rounds", "1",
               "--dagger-data", str(tmp_path / "d1" / "round_1"), "--dagger-dir", str(tmp_path / "d2"), *common)
    assert more.returncode == 0, more.stderr[-3000:]
    s2 = load_checkpoint(tmp_path / "s2.safetensors")
    assert s2.train["step"] == 14 and s2.train["size"] == "nano"
    rounds = [r for r in s2.train["dagger"] if "episodes" in r]
    assert [r["round"] for r in rounds] == [0, 1] and rounds[0]["from"] == str(tmp_path / "s1.safetensors")
    assert rounds[1]["seed0"] >= rounds[0]["seed_end"]  # the new round's placements are new ones
    assert (tmp_path / "d2" / "round_2").is_dir()
    # The earlier round's rows were trained on: the aggregate is larger than demos + the new round alone.
    assert rounds[1]["rows_before"] > rounds[0]["rows_before"]
    changed = any(not torch.equal(a, b) for a, b in zip(s1.model.state_dict().values(),
                                                        s2.model.state_dict().values()))
    assert changed
    # A student normalised differently (here: trained on other data by a different teacher) cannot continue.
    other = run("train", "--data", str(root / "calib"), "--out", str(tmp_path / "t2.safetensors"), "--size", "nano",
                "--steps", "2", "--batch", "8", "--chunk", "5", "--json")
    assert other.returncode == 0, other.stderr[-2000:]
    bad = run("distill", "--teacher", str(tmp_path / "t2.safetensors"), "--out", str(tmp_path / "s3.safetensors"),
              "--init", str(tmp_path / "s1.safetensors"), "--steps", "2", "--dagger-rounds", "0", *common)
    assert bad.returncode != 0 and "normalisation" in bad.stderr and not (tmp_path / "s3.safetensors").exists()
    zero = run("distill", "--teacher", "expert", "--out", str(tmp_path / "s4.safetensors"), "--steps", "0",
               *common)
    assert zero.returncode == 2 and "--steps 0" in zero.stderr


def test_feature_distillation_checkpoints_and_finishes(tiny_run, tmp_path):
    """The projector onto the teacher's features is trained beside the student but not saved: checkpoints within
    the fit carry no optimiser moments (a resumed run starts them afresh), and the run finishes."""
    from safetensors import safe_open

    root, run = tiny_run
    out = tmp_path / "f.safetensors"
    done = run("distill", "--teacher", str(root / "c.safetensors"), "--data", str(root / "demos"), "--out", str(out),
               "--size", "nano", "--steps", "6", "--checkpoint-every", "3", "--dagger-rounds", "0", "--batch", "8",
               "--dagger-episodes", "2", "--feature-weight", "0.5", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    student = load_checkpoint(out)
    assert student.train["step"] == 6 and "partial" not in student.train and student.train["alpha"] == 0.5
    assert student.train["history"][0]["config"]["feature_weight"] == 0.5
    with safe_open(str(out), "pt") as f:
        assert not [k for k in f.keys() if k.startswith("optim.")]


def test_an_interrupted_distillation_resumes_where_it_stopped_without_recording_its_rounds_again(tiny_run, tmp_path):
    """Killed (SIGKILL) first within its first fit, then after its first DAgger round was recorded: --resume goes on
    from the checkpoint's step and optimiser moments, reads the recorded round back and ends where an uninterrupted
    run ends."""
    import signal
    import time

    from safetensors import safe_open

    root, _ = tiny_run
    out, dagger = tmp_path / "s.safetensors", tmp_path / "dagger"
    cmd = [sys.executable, "-m", "vla_lite", "distill", "--teacher", str(root / "c.safetensors"), "--data",
           str(root / "demos"), "--out", str(out), "--size", "nano", "--batch", "8", "--replan-every", "2",
           "--steps", "200", "--round-steps", "200", "--dagger-rounds", "2", "--dagger-episodes", "2",
           "--dagger-dir", str(dagger), "--checkpoint-every", "5", "--json"]

    def kill_when(ready) -> dict:
        proc = subprocess.Popen(cmd + ["--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists():
                with safe_open(str(out), "np") as f:
                    train = json.loads(f.metadata()["train"])
                if ready(train):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return train
            time.sleep(0.01)
        proc.kill()
        raise AssertionError(f"the run ended before it could be interrupted: {proc.stderr.read()[-2000:]!r}")

    first = kill_when(lambda t: t["partial"] and 0 < t["step"] < 200)
    second = kill_when(lambda t: t["partial"] and len(t["dagger"]) == 1 and t["step"] < 400)
    assert second["step"] >= first["step"] and not (dagger / "round_2").exists()
    recorded = {p: p.stat().st_mtime_ns for p in (dagger / "round_1").rglob("*") if p.is_file()}
    last = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=900)
    assert last.returncode == 0, last.stderr[-3000:]
    done = load_checkpoint(out).train
    assert done["step"] == 600 and "partial" not in done
    assert [r["round"] for r in done["dagger"] if "episodes" in r] == [0, 1]
    assert recorded and {p: p.stat().st_mtime_ns for p in (dagger / "round_1").rglob("*") if p.is_file()} == recorded
    fits = done["history"]
    assert len(fits) == 3 and 0 < fits[0]["resumed_at"] < 200 and fits[0]["before_resume"]["train_loss"]
    # Nothing left to do: a second --resume leaves the finished run as it is.
    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to resume" in again.stderr
    assert load_checkpoint(out).train["step"] == 600


@pytest.mark.parametrize("pixel_range,size", [((0.0, 1.0), None), ((-1.0, 1.0), None), ((0.0, 1.0), 24)])
def test_training_images_are_stored_as_one_byte_levels_and_decode_to_the_runtime_inputs(tiny_run, pixel_range,
                                                                                         size):
    from vla_lite.bundle.manifest import CameraSpec
    from vla_lite.export.datasets import open_dataset
    from vla_lite.export.datasets.windows import SampleMaker
    from vla_lite.export.train import load_training_data

    root, _ = tiny_run
    cams = (CameraSpec("front", size or 32, size or 32, "RGB", pixel_range, "area", None),)
    ts, _, norm, _ = load_training_data([root / "demos"], 5, None, lambda t: np.ones(4, np.float32), cameras=cams,
                                        progress=False)
    assert ts.images["image_front"].dtype == np.uint8 and ts.images["image_front"].shape[1:] == (size or 32, size or 32, 3)
    ep = open_dataset(root / "demos").episode(0)
    make = SampleMaker(cams, norm, 5, embed=lambda text: np.zeros(1, np.float32))
    rows = [0, 3, len(ep) - 1]  # the first episode's rows come first
    want = np.stack([make(ep, t)["image_front"] for t in rows]).astype(np.float32)
    got = ts.batch(np.array(rows))["image_front"].numpy()
    level = (pixel_range[1] - pixel_range[0]) / 255
    # At the recorded size the levels are the runtime's own; resized, within half a level.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 if size is None else level / 2 + 1e-6)
    assert got.min() >= pixel_range[0] - 1e-6 and got.max() <= pixel_range[1] + 1e-6
    np.testing.assert_array_equal(ts.inputs(np.array([3]))[0]["image_front"], got[1:2])


def test_training_images_kept_in_files_read_and_aggregate_as_in_ram_and_leave_nothing_behind(tiny_run, tmp_path):
    """--image-dir: the image rows memory-mapped from files read as the in-RAM ones, a DAgger aggregate appends to
    the files, and the files are unlinked at once (nothing stays on disk)."""
    from vla_lite.export.train import load_training_data

    root, _ = tiny_run
    folder = tmp_path / "images"

    def load(paths, **options):
        return load_training_data(paths, 5, None, lambda t: np.ones(4, np.float32), progress=False, **options)[0]

    ram, disk = load([root / "demos"]), load([root / "demos"], image_dir=folder)
    assert isinstance(disk.images["image_front"], np.memmap) and not isinstance(ram.images["image_front"], np.memmap)
    np.testing.assert_array_equal(disk.images["image_front"], ram.images["image_front"])
    rows = np.array([0, 7, len(ram) - 1])
    for key, want in ram.batch(rows).items():
        np.testing.assert_array_equal(disk.batch(rows)[key].numpy(), want.numpy())
    # A DAgger aggregate appends to the same files (nothing copied) and reads as the in-RAM concatenation.
    more_ram, more_disk = load([root / "calib"]), load([root / "calib"], image_dir=folder)
    grown, grown_ram = disk.extend(more_disk), ram.extend(more_ram)
    assert grown.files["image_front"] is disk.files["image_front"] and grown.files["image_front"].rows == len(grown)
    np.testing.assert_array_equal(grown.images["image_front"], grown_ram.images["image_front"])
    np.testing.assert_array_equal(disk.images["image_front"], ram.images["image_front"])  # the old view still reads
    # Aggregating the old set again cannot append (the files grew past it): it gets files of its own.
    branch = disk.extend(more_disk)
    assert branch.files["image_front"] is not disk.files["image_front"]
    np.testing.assert_array_equal(branch.images["image_front"], grown_ram.images["image_front"])
    assert list(folder.iterdir()) == []  # unlinked at once: the space goes with the last mapping


def test_export_refuses_a_checkpoint_trained_on_another_encoders_embeddings(tiny_run, tmp_path):
    """Checkpoints record the sha256 of the encoder graph their instruction embeddings came from; an export whose
    exporter now builds another graph (export/text_*.py changed) would ship embeddings the policy never saw."""
    root, run = tiny_run
    ckpt = load_checkpoint(root / "c.safetensors")
    assert len(ckpt.train["text_encoder"]["sha256"]) == 64
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, ckpt.model, ckpt.normalization,
                    {**ckpt.train, "text_encoder": {**ckpt.train["text_encoder"], "sha256": "0" * 64}})
    out = run("export", str(other), "--calib", str(root / "calib"), "-o", str(tmp_path / "x.vla"), "--format",
              "onnx", "--precision", "fp32", "--json")
    assert out.returncode == 2 and "000000000000" in out.stderr and "sha256" in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "x.vla").exists()
