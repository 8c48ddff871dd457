"""robomimic-layout HDF5 files, LIBERO's included, as EpisodeData (h5py, imported only when read).

robomimic (one file, many demos; its `dataset_states_to_obs.py` layout): data/demo_N/obs/<key> (N, ...),
data/demo_N/actions (N, D); attrs data.env_args (JSON: env_kwargs.control_freq gives fps),
data/demo_N.num_samples. Cameras are obs keys ending in `_image` ((N, H, W, 3) uint8: `agentview_image` -> camera
`agentview`); state is robot0_eef_pos + robot0_eef_quat + robot0_gripper_qpos. Filter keys: mask/<key> lists demo
names (robomimic's `train` / `valid` split), read with filter_key=.
LIBERO (its `create_dataset.py`): cameras `agentview_rgb`, `eye_in_hand_rgb` (-> `agentview`, `eye_in_hand`), state
ee_states (eef position + axis-angle, 6) + gripper_states (2) (joint_states, ee_pos, ee_ori are there too: pick with
KeyMap(state=...)), control_freq 20 in env_args, the instruction in data.problem_info.language_instruction. Images
are stored as rendered (data.macros_image_convention, OpenGL: upside down); they are read as stored, since a policy
run in the same simulator sees the same convention. The instruction/fps passed in serve files that store none.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .base import DatasetReader
from .episode import DatasetError, EpisodeData, KeyMap
from .hdf5 import Handle, find, frame_sequence, number_in, open_hdf5, read_rows, text_attr

ROBOMIMIC_STATE = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")
LIBERO_STATE = ("ee_states", "gripper_states")
CAMERA_SUFFIXES = ("_image", "_rgb")  # robomimic, LIBERO


class RobomimicDataset(DatasetReader):
    """One robomimic-layout HDF5 file; demos in number order (demo_0, demo_1, ..., demo_10), or those a filter key
    lists. instruction / fps: for files that store none (then episode() refuses, naming the option to pass)."""
    format = "robomimic-hdf5"

    def __init__(self, path: str | os.PathLike, keys: KeyMap | None = None, instruction: str | None = None,
                 fps: float | None = None, filter_key: str | None = None):
        self.path, self.keys = Path(path), keys or KeyMap()
        with open_hdf5(self.path) as f:
            if "data" not in f:
                raise DatasetError(f"{self.path}: no group 'data'; expected robomimic's data/demo_N/...")
            data = f["data"]
            demos = [k for k in data if re.fullmatch(r"demo_\d+", k)]
            self.filter_keys = {k: len(f["mask"][k]) for k in f["mask"]} if "mask" in f else {}
            if filter_key is not None:
                demos = self._filtered(f, filter_key, demos)
            self.demos = sorted(demos, key=number_in)
            if not self.demos:
                raise DatasetError(f"{self.path}: no demo_N groups to read (group 'data' holds {list(data)[:10]}"
                                   + (f", filter key {filter_key!r}" if filter_key else "") + ")")
            self._lengths = [int(data[d].attrs.get("num_samples", data[d]["actions"].shape[0]
                                                   if "actions" in data[d] else 0)) for d in self.demos]
            self.env_args = json.loads(text_attr(data.attrs.get("env_args")) or "{}")
            problem = json.loads(text_attr(data.attrs.get("problem_info")) or "{}")
            self.image_convention = text_attr(data.attrs.get("macros_image_convention"))
            first = data[self.demos[0]]
            obs = first["obs"] if "obs" in first else {}
            found = {k[:-len(s)]: k for k in obs for s in CAMERA_SUFFIXES if k.endswith(s) and obs[k].ndim == 4}
            self.libero = any(k.endswith("_rgb") for k in found.values()) or "ee_states" in obs
        rate = fps or (self.env_args.get("env_kwargs") or {}).get("control_freq")
        self.fps = float(rate) if isinstance(rate, (int, float)) and rate > 0 else None
        self.instruction = instruction or text_attr(problem.get("language_instruction"))
        self.cameras = self.keys.pick_cameras(found, str(self.path))
        self.state_keys = self.keys.state or (LIBERO_STATE if self.libero else ROBOMIMIC_STATE)
        self.action_key = self.keys.action or "actions"
        self.filter_key = filter_key

    def _filtered(self, f, key: str, demos: list[str]) -> list[str]:
        if key not in self.filter_keys:
            raise DatasetError(f"{self.path}: no filter key {key!r} (mask/{key}); the file has "
                               f"{sorted(self.filter_keys) or 'none'}")
        listed = [text_attr(n) or "" for n in f["mask"][key][()]]
        unknown = sorted(set(listed) - set(demos))
        if unknown:
            raise DatasetError(f"{self.path}: mask/{key} lists {unknown[:5]}, not demos in data/")
        return listed

    def __len__(self) -> int:
        return len(self.demos)

    def lengths(self) -> list[int]:
        return list(self._lengths)

    def indices(self) -> list[int]:
        return [number_in(d) for d in self.demos]

    def episode(self, i: int) -> EpisodeData:
        demo = self.demos[self._position(i)]
        where = f"{self.path}:data/{demo}"
        if self.fps is None:
            raise DatasetError(f"{self.path}: no control rate stored (data.env_args env_kwargs.control_freq); pass "
                               "--fps HZ (fps=)")
        if self.instruction is None:
            raise DatasetError(f"{self.path}: no instruction stored (no data.problem_info.language_instruction); "
                               "pass --instruction TEXT (instruction=)")
        prefixes = ("obs/", "")
        with open_hdf5(self.path) as f:
            g = f["data"][demo]
            state = np.concatenate([read_rows(find(g, k, prefixes, where), where) for k in self.state_keys], axis=1)
            actions = read_rows(find(g, self.action_key, ("", "obs/"), where), where)
            declared = int(g.attrs["num_samples"]) if "num_samples" in g.attrs else None
            success = bool(g.attrs["success"]) if "success" in g.attrs else None
            shapes = {c: find(g, k, prefixes, where).shape for c, k in self.cameras.items()}
        handle = Handle(self.path)
        n = len(actions)
        frames = {c: frame_sequence(handle, f"data/{demo}/obs/{k}", n, shapes[c][0], False, f"{where}/obs/{k}")
                  for c, k in self.cameras.items()}
        meta = {"format": "libero-hdf5" if self.libero else self.format, "path": str(self.path), "demo": demo,
                "expected_rows": declared, "timestamps": "synthesised from fps", "state_names": None,
                "action_names": None, "filter_key": self.filter_key, "image_convention": self.image_convention}
        return EpisodeData(source=str(self.path), index=number_in(demo), instruction=self.instruction, fps=self.fps,
                           state=state, actions=actions, timestamps=np.arange(n) / self.fps, frames=frames,
                           success=success, meta=meta)
