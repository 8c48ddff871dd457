"""Datasets from the command line: every format trainable (--instruction, --fps, --filter-key, LIBERO's key names),
`vla-lite dataset` describing what a dataset holds and what stops it, and bad datasets coming out of train, dataset
and convert as one line on stderr with a non-zero status, never a traceback."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from lerobot_fixtures import fixtures_dir
from test_datasets import LENGTHS, TASKS, actions_of, colour, make_aloha, make_robomimic, solid, state_of
from vla_lite.cli import main
from vla_lite.export.datasets import open_dataset


def cli(capsys, *argv):
    """(status, stdout, stderr) of `vla-lite ARGV` run in this process (an uncaught exception fails the test)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def make_libero(path, lengths=(6, 5, 7)):
    """As LIBERO's scripts/create_dataset.py writes a task file (128 px there; 24x32 here)."""
    import h5py

    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["problem_info"] = json.dumps({"problem_name": "libero_tabletop_manipulation",
                                                 "language_instruction": "put the bowl on the plate"})
        data.attrs["env_args"] = json.dumps({"type": 1, "env_kwargs": {"control_freq": 20}})
        data.attrs["macros_image_convention"] = "opengl"
        for i, n in enumerate(lengths):
            g = data.create_group(f"demo_{i}")
            s = state_of(i, n).astype(np.float64)
            g["obs/ee_states"] = np.concatenate([s[:, :3], s[:, :3] * 0.5], axis=1)  # position + axis-angle
            g["obs/ee_pos"], g["obs/ee_ori"] = s[:, :3], s[:, :3] * 0.5
            g["obs/gripper_states"] = np.stack([s[:, 3], -s[:, 3]], axis=1)
            g["obs/joint_states"] = np.zeros((n, 7))
            g["obs/agentview_rgb"] = np.stack([solid(colour(i, k)) for k in range(n)])
            g["obs/eye_in_hand_rgb"] = np.stack([solid(colour(i, n - k)) for k in range(n)])
            g["actions"] = actions_of(i, n)[:, :3].repeat(2, axis=1)[:, :7].astype(np.float64)
            g.attrs["num_samples"] = n
    return path


def add_masks(path, masks):
    import h5py

    with h5py.File(path, "a") as f:
        for key, demos in masks.items():
            f[f"mask/{key}"] = np.array([d.encode() for d in demos])
    return path


def test_libero_key_names(tmp_path):
    ds = open_dataset(make_libero(tmp_path / "libero.hdf5"))
    ep = ds.episode(1)
    assert sorted(ep.frames) == ["agentview", "eye_in_hand"] and ep.fps == 20.0
    assert ep.instruction == "put the bowl on the plate" and ep.meta["format"] == "libero-hdf5"
    assert ep.state.shape == (5, 8)  # ee_states (6) + gripper_states (2)
    assert np.array_equal(ep.frames["eye_in_hand"][0], solid(colour(1, 5)))
    assert ep.meta["image_convention"] == "opengl"


def test_robomimic_filter_keys(tmp_path, capsys):
    path = add_masks(make_robomimic(tmp_path / "lift.hdf5"), {"train": ["demo_0", "demo_10"], "valid": ["demo_1"]})
    assert open_dataset(path, filter_key="train").indices() == [0, 10]
    assert open_dataset(path, filter_key="valid").indices() == [1]
    status, out, err = cli(capsys, "dataset", path, "--json")
    d = json.loads(out)
    assert status == 0 and d["filter_keys"] == {"train": 2, "valid": 1} and d["episodes"] == 3
    status, out, err = cli(capsys, "dataset", path, "--filter-key", "nope")
    assert status == 2 and "no filter key 'nope'" in err and "['train', 'valid']" in err


def test_hdf5_formats_train_from_the_cli(tmp_path):
    """A plain robomimic file (no language) with --instruction and a filter key, through a real process."""
    path = add_masks(make_robomimic(tmp_path / "lift.hdf5", with_language=False), {"train": ["demo_0", "demo_10"]})
    ckpt = tmp_path / "p.safetensors"
    done = subprocess.run([sys.executable, "-m", "vla_lite", "train", "--data", str(path), "--instruction",
                           "lift the cube", "--filter-key", "train", "--out", str(ckpt), "--size", "nano", "--steps",
                           "2", "--batch", "4", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == LENGTHS[0] + LENGTHS[2] and summary["data"]["fps"] == 20.0
    assert "Traceback" not in done.stderr


def test_aloha_instruction_and_fps_options(tmp_path, capsys):
    folder = make_aloha(tmp_path / "aloha")
    status, out, err = cli(capsys, "dataset", folder, "--json")
    d = json.loads(out)
    assert status == 1 and [p["code"] for p in d["problems"]] == ["no_instruction"]
    assert "--instruction" in d["problems"][0]["fix"] and d["problems"][0]["episodes"] == 2
    status, out, err = cli(capsys, "dataset", folder, "--instruction", "fold the towel", "--fps", "25", "--json")
    d = json.loads(out)
    assert status == 0 and d["fps"] == 25.0 and d["tasks"] == {"fold the towel": 2} and d["problems"] == []


def test_dataset_describes_a_lerobot_depth_dataset(capsys):
    status, out, err = cli(capsys, "dataset", fixtures_dir() / "lr061_v30_depth", "--json")
    d = json.loads(out)
    assert status == 0 and d["format"] == "lerobot-v3" and (d["episodes"], d["rows"], d["fps"]) == (2, 40, 30.0)
    assert d["cameras"]["front"]["codec"] == "av1" and (d["cameras"]["front"]["width"], d["cameras"]["front"]
                                                        ["height"]) == (96, 96)
    assert d["depth"]["depth"]["codec"] == "hevc" and d["depth"]["depth"]["pix_fmt"] == "gray12le"
    assert d["depth"]["depth"]["dtype"] == "uint16" and d["tasks"] == {"look at depth": 2}
    assert d["state"]["names"] == [f"joint_{i}" for i in range(6)] and d["problems"] == []
    status, out, err = cli(capsys, "dataset", fixtures_dir() / "lr061_v30_video")
    assert status == 0 and "camera front: av1 96x96 yuv420p" in out and "3 episodes trainable" in out


def test_training_ignores_depth_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "vla_lite", "train", "--data", str(fixtures_dir() / "lr061_v30_depth"),
                           "--out", str(tmp_path / "d.safetensors"), "--size", "nano", "--steps", "2", "--batch", "4",
                           "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "depth" in line]
    assert len(notes) == 1 and "['observation.images.depth'] ignored" in notes[0]
    assert json.loads(done.stdout)["rows"] == 40


# --- bad input: one line, no traceback ------------------------------------------------------------------------

def writable_copy(src, dst):
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return dst


def bad_datasets(root):
    """name -> (path, extra arguments, a piece of the expected message)."""
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("hello")
    (root / "junk.hdf5").write_bytes(b"not hdf5")
    lr = fixtures_dir() / "lr061_v30_video"
    bad_json = writable_copy(lr, root / "bad_json")
    (bad_json / "meta/info.json").write_text("{")
    bad_rows = writable_copy(lr, root / "bad_rows")
    (bad_rows / "data/chunk-000/file-000.parquet").write_bytes(b"junk")
    bad_tasks = writable_copy(lr, root / "bad_tasks")
    (bad_tasks / "meta/tasks.parquet").write_bytes(b"junk")
    no_video = writable_copy(fixtures_dir() / "lr033_v21_video", root / "no_video")
    for p in (no_video / "videos").rglob("*.mp4"):
        p.unlink()
    zeroed = writable_copy(lr, root / "zeroed")
    video = zeroed / "videos/observation.images.front/chunk-000/file-000.mp4"
    data = bytearray(video.read_bytes())
    start = data.index(b"mdat") + 4
    video.write_bytes(bytes(data[:start]) + bytes(len(data) - start))
    rec = root / "rec/episode_000001"
    rec.mkdir(parents=True)
    (rec / "meta.json").write_text("{")
    plain = make_robomimic(root / "plain.hdf5", with_language=False)
    return {"missing": (root / "nope", [], "does not exist"), "empty": (root / "empty", [], "no dataset found"),
            "text file": (root / "notes.txt", [], "a .txt file"), "junk hdf5": (root / "junk.hdf5", [], "HDF5"),
            "bad info.json": (bad_json, [], "not valid JSON"), "bad data parquet": (bad_rows, [], "parquet"),
            "bad tasks parquet": (bad_tasks, [], "tasks.parquet"), "videos missing": (no_video, [], "mp4"),
            "undecodable video": (zeroed, [], "undecodable"), "bad recording": (root / "rec", [], "meta.json"),
            "no instruction": (plain, [], "--instruction"), "bad filter key": (plain, ["--filter-key", "x"], "'x'"),
            "bad fps": (lr, ["--fps", "-3"], "--fps")}


def test_bad_datasets_give_one_line_errors(tmp_path, capsys):
    cases = bad_datasets(tmp_path)
    out_dir = tmp_path / "out"
    for name, (path, extra, expect) in cases.items():
        for argv in (["train", "--data", path, "--out", tmp_path / "x.safetensors", "--size", "nano", "--steps", 1],
                     ["convert", path, "--to", "lerobot", "--out", out_dir], ["dataset", path]):
            status, out, err = cli(capsys, *argv, *extra)
            where = f"{name}: vla-lite {argv[0]}"
            assert status != 0 and "Traceback" not in err, where
            if argv[0] == "dataset" and status == 1:  # readable, with problems: described, each with its fix
                assert expect in out and "fix:" in out, (where, out)
                continue
            lines = [line for line in err.splitlines() if line.startswith("vla-lite ")]
            assert len(lines) == 1 and expect in lines[0], (where, err)
            assert not out_dir.exists() or not any(out_dir.iterdir()), where
    writable_copy(fixtures_dir() / "lr061_v30_image", out_dir)  # a convert into a folder holding something
    status, out, err = cli(capsys, "convert", fixtures_dir() / "lr061_v30_image", "--to", "lerobot", "--out", out_dir)
    assert status == 2 and "is not empty" in err


def test_a_bad_dataset_in_a_real_process_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "vla_lite", "train", "--data", str(tmp_path / "nothing"), "--out",
                           str(tmp_path / "x.safetensors")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("vla-lite train: dataset path")
