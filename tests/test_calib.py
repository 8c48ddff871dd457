"""Normalisation statistics (streamed mean/std/quantiles vs numpy on the concatenated data, merged chunks,
masks, std floor, the manifest's own checks, JSON round trip) and the held-out calibration set (deterministic
split never trained on, picks spread over episodes and time, safetensors + JSON round trip)."""

import json
from pathlib import Path

import numpy as np
import pytest

from vla_lite.bundle.manifest import CameraSpec, ManifestInvalid
from vla_lite.bundle.normalization import denormalize_actions, normalize_state
from vla_lite.calib.calibration_set import (build_calibration_set, check_disjoint, load_calibration_set,
                                            pick_observations, save_calibration_set, split_dataset, split_names)
from vla_lite.calib.quantiles import QuantileSketch
from vla_lite.calib.stats import (DatasetStats, RunningMoments, StatsConfig, compute_normalization, load_stats,
                                  normalize_actions, save_stats, to_normalization)
from vla_lite.export.datasets import DatasetReader, EpisodeData, FrameSequence

A_NAMES = ["shoulder", "elbow", "wrist", "Gripper"]


def episodes(n=6, seed=0, lengths=None):
    """Episodes with distinct scales and offsets per dimension; state dim 2 is constant."""
    rng = np.random.default_rng(seed)
    out = []
    for e in range(n):
        m = int(lengths[e]) if lengths is not None else int(rng.integers(20, 60))
        state = rng.normal([0.5, -1.0, 0.0], [0.3, 2.0, 0.0], size=(m, 3))
        state[:, 2] = 0.25
        actions = np.c_[rng.normal(1e3, 1e-2, (m, 1)), rng.uniform(-2, 2, (m, 2)), rng.integers(0, 2, (m, 1))]
        out.append(EpisodeData("mem", e, "touch the red block", 20.0, state, actions, np.arange(m) / 20.0,
                               meta={"action_names": A_NAMES}))
    return out


def concat(eps, key):
    return np.concatenate([getattr(ep, key) for ep in eps])


# --- moments and quantiles ----------------------------------------------------------------------------------

def test_running_moments_merge_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(1e4, 0.5, size=(5000, 3))  # a large offset: the naive sum-of-squares would cancel
    parts = np.split(x, [1, 7, 300, 2900])
    a, b = RunningMoments(3), RunningMoments(3)
    for p in parts[:3]:
        a.update(p)
    for p in parts[3:]:
        b.update(p)
    a.merge(b)
    assert a.n == 5000
    np.testing.assert_allclose(a.mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(a.std, x.std(axis=0), rtol=1e-9)


def test_quantile_sketch_exact_while_small():
    rng = np.random.default_rng(4)
    x = rng.standard_t(3, size=(999, 2))
    s = QuantileSketch(2, exact_limit=1000)
    for p in np.array_split(x, 7):
        s.update(p)
    assert s.exact and np.array_equal(s.error_bound(), [0, 0])
    for q in (0.0, 0.01, 0.5, 0.99, 1.0):
        np.testing.assert_array_equal(s.quantile(q), np.quantile(x, q, axis=0))


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_quantile_sketch_bounded_estimate_within_its_error_bound(offset):
    rng = np.random.default_rng(5)
    x = offset + np.c_[rng.normal(0, 1, 40_000), rng.exponential(0.01, 40_000), rng.integers(0, 3, 40_000)]
    whole = QuantileSketch(3, exact_limit=5_000, max_bins=256)
    chunks = [QuantileSketch(3, exact_limit=5_000, max_bins=256) for _ in range(4)]
    for j, p in enumerate(np.array_split(x, 40)):
        whole.update(p)
        chunks[j % 4].update(p)
    merged = chunks[0].merge(chunks[1]).merge(chunks[2]).merge(chunks[3])
    span = x.max(axis=0) - x.min(axis=0)
    for s in (whole, merged):
        assert not s.exact and s.n == len(x)
        bound = s.error_bound()
        assert (bound <= 2 * span / 255 + 1e-9).all()  # the documented bound on the bin width
        for q in np.linspace(0, 1, 51):
            err = np.abs(s.quantile(q) - np.quantile(x, q, axis=0))
            assert (err < bound).all(), (q, err, bound)
        np.testing.assert_array_equal(s.quantile(0.0), x.min(axis=0))
        np.testing.assert_array_equal(s.quantile(1.0), x.max(axis=0))


def test_quantile_sketch_merges_exact_into_histogram_and_back_and_constant_data():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(3000, 1)), rng.normal(5, 1, size=(200, 1))
    big, small = QuantileSketch(1, exact_limit=1000), QuantileSketch(1, exact_limit=1000)
    big.update(x)
    small.update(y)
    both = np.concatenate([x, y])
    for s in (QuantileSketch(1, exact_limit=1000).merge(big).merge(small), small.merge(big)):
        assert not s.exact and s.n == 3200
        assert abs(s.quantile(0.99)[0] - np.quantile(both, 0.99)) < s.error_bound()[0]
    const = QuantileSketch(1, exact_limit=10)
    const.update(np.full((50, 1), 0.25))
    assert not const.exact and const.quantile(0.01)[0] == 0.25 and const.quantile(0.99)[0] == 0.25
    with pytest.raises(ValueError, match="NaN/inf"):
        const.update(np.array([[np.nan]]))


# --- dataset statistics -----------------------------------------------------------------------------------------

def test_dataset_stats_match_numpy_and_the_manifest_contract():
    eps = episodes()
    d, details = compute_normalization(eps, StatsConfig(std_floor=1e-4))
    s, a = concat(eps, "state"), concat(eps, "actions")
    np.testing.assert_allclose(d["state"]["mean"], s.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(d["action"]["mean"], a.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(d["action"]["std"], a.std(axis=0), rtol=1e-9)
    np.testing.assert_allclose(d["state"]["std"][:2], s.std(axis=0)[:2], rtol=1e-9)
    assert d["state"]["std"][2] == 1e-4 and details["state"]["std_floored"] == [2]  # constant dim: floored
    for key, x in (("state", s), ("action", a)):
        np.testing.assert_array_equal(d[key]["q01"], np.quantile(x, 0.01, axis=0))
        np.testing.assert_array_equal(d[key]["q99"], np.quantile(x, 0.99, axis=0))
    assert d["action"]["mask"] == [True] * 4 and details["state"]["quantiles_exact"]
    norm = to_normalization(d)  # the manifest's own checks accept it
    assert norm.state.mean == tuple(d["state"]["mean"])
    assert json.loads(json.dumps(details)) == details


def test_merged_partial_statistics_equal_one_pass():
    eps = episodes(8, seed=1)
    one = DatasetStats()
    for ep in eps:
        one.add_episode(ep)
    parts = [DatasetStats(), DatasetStats(), DatasetStats()]
    for j, ep in enumerate(eps):
        parts[j % 3].add_episode(ep)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    r1, r2 = one.result(), merged.result()
    for key in ("state", "action"):
        for stat in ("mean", "std"):
            np.testing.assert_allclose(r2[key][stat], r1[key][stat], rtol=1e-12, atol=1e-15)
        for stat in ("q01", "q99"):
            np.testing.assert_array_equal(r2[key][stat], r1[key][stat])
    assert merged.episodes == 8


def test_masked_action_dims_are_identity_and_round_trip_through_the_runtime():
    eps = episodes()
    d, details = compute_normalization(eps, StatsConfig(mask_patterns=("*gripper*",)))
    assert d["action"]["mask"] == [True, True, True, False]  # "Gripper": case-insensitive
    assert d["action"]["mean"][3] == 0.0 and d["action"]["std"][3] == 1.0
    assert details["action"]["unmasked_dims"] == [3]
    a = concat(eps, "actions")
    np.testing.assert_array_equal(d["action"]["q99"][3], np.quantile(a[:, 3], 0.99))
    norm = to_normalization(d)
    z = normalize_actions(a, norm.action)
    np.testing.assert_array_equal(z[:, 3], a[:, 3].astype(np.float32))  # passed through, robot units
    np.testing.assert_allclose(z[:, 1], (a[:, 1] - a[:, 1].mean()) / a[:, 1].std(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(denormalize_actions(z, norm.action), a, rtol=1e-6, atol=1e-3)
    no_names = DatasetStats(StatsConfig(mask_patterns=("*gripper*",)))
    no_names.add_episode(eps[0])
    with pytest.raises(ValueError, match="mask patterns.*need the action names"):
        no_names.result(None)
    with pytest.raises(ValueError, match="3 action names.*for 4 action dimensions"):
        no_names.result(A_NAMES[:3])


def test_stats_refuse_bad_data_and_save_load(tmp_path):
    eps = episodes(3)
    bad = EpisodeData("mem", 9, "x", 20.0, eps[0].state, eps[0].actions.copy(), eps[0].timestamps)
    bad.actions[4, 2] = np.inf
    with pytest.raises(ValueError, match="mem#9: actions row 4 holds NaN/inf"):
        compute_normalization([eps[0], bad])
    s = DatasetStats()
    s.add(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="3 dimensions; earlier episodes had 4"):
        s.add(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="std_floor must be > 0"):
        StatsConfig(std_floor=0)
    d, details = compute_normalization(eps)
    path = save_stats(tmp_path / "stats.json", d, details)
    assert load_stats(path) == d
    broken = json.loads(path.read_text())
    broken["normalization"]["state"]["std"][0] = -1.0
    path.write_text(json.dumps(broken))
    with pytest.raises(ManifestInvalid, match=r"normalization.state.std\[0\] is -1.0; expected > 0"):
        load_stats(path)
    path.write_text('{"normalization": {"state": {"mean": [NaN]}}}')
    with pytest.raises(ValueError, match="cannot read statistics"):
        load_stats(path)


# --- held-out split and calibration set --------------------------------------------------------------------------

class MemDataset(DatasetReader):
    """Synthetic episodes with frames whose colour encodes (episode, row); records which episodes were read."""
    format = "memory"

    def __init__(self, n, path="lab-data"):
        self.path, self.reads = Path(path), []
        self._lengths = [10 + (3 * e) % 7 for e in range(n)]

    def __len__(self):
        return len(self._lengths)

    def lengths(self):
        return list(self._lengths)

    def indices(self):
        return [100 + e for e in range(len(self))]

    def episode(self, i):
        self.reads.append(i)
        m = self._lengths[i]
        frames = FrameSequence(m, lambda k: np.full((12, 16, 3), (i * 20, k * 10, 255), np.uint8))
        state = np.c_[np.full(m, float(i)), np.arange(m, dtype=float)]
        return EpisodeData(str(self.path), 100 + i, f"task {i % 3}", 20.0, state, np.zeros((m, 2)),
                           np.arange(m) / 20.0, frames={"front": frames})


def test_split_is_deterministic_disjoint_and_stable():
    names = [f"lab#{i}" for i in range(50)]
    held = split_names(names, 0.2, seed=1)
    assert len(held) == 10 and held == split_names(list(reversed(names)), 0.2, seed=1)
    assert held != split_names(names, 0.2, seed=2)
    grown = split_names(names + [f"lab#{i}" for i in range(50, 60)], 0.2, seed=1)
    assert len(grown) == 12 and len(held - grown) <= 2  # new episodes rarely displace old held-out ones
    with pytest.raises(ValueError, match="leaves none to train on"):
        split_names(["a", "b"], 0.9)
    ds = MemDataset(12)
    split = split_dataset(ds, 0.25, seed=0)
    assert sorted(split.train + split.held_out) == list(range(12)) and len(split.held_out) == 3
    assert split == split_dataset(MemDataset(12, path="/elsewhere/lab-data"), 0.25, seed=0)  # path-independent
    assert [ep.index for ep in split.train_episodes(ds)] == [100 + i for i in split.train]


def test_picks_spread_over_episodes_and_time():
    lengths = {"a": 100, "b": 10, "c": 3, "d": 40}
    picks = pick_observations(lengths, 20, seed=0)
    assert picks == pick_observations(lengths, 20, seed=0) and len(set(picks)) == 20
    counts = {k: sum(1 for n, _ in picks if n == k) for k in lengths}
    assert counts["c"] == 3 and sorted(counts[k] for k in "abd") == [5, 6, 6]  # c runs out of rows
    rows_a = sorted(t for n, t in picks if n == "a")
    strata = [t * counts["a"] // 100 for t in rows_a]
    assert strata == list(range(counts["a"]))  # one pick per equal stretch of the episode
    assert pick_observations(lengths, 20, seed=1) != picks
    with pytest.raises(ValueError, match="cannot pick 154 observations from 153 rows"):
        pick_observations(lengths, 154)


def test_calibration_set_round_trip_from_held_out_episodes_only(tmp_path):
    ds = MemDataset(10)
    split = split_dataset(ds, 0.3, seed=4)
    cam = CameraSpec("front", 8, 8, "RGB", (0.0, 1.0), "area", None)
    norm = {"state": {"mean": [1.0, 2.0], "std": [2.0, 4.0], "q01": [0, 0], "q99": [9, 9]},
            "action": {"mean": [0, 0], "std": [1, 1], "q01": [0, 0], "q99": [0, 0], "mask": [True, True]}}
    embed = lambda text: np.full(6, float(text[-1]))  # noqa: E731
    cal = build_calibration_set(ds, split, [cam], norm, embed, n=7, seed=4)
    assert sorted(set(ds.reads)) == sorted(split.held_out)  # training episodes never read
    assert len(cal.inputs) == 7 and cal.held_out == [split.names[i] for i in split.held_out]
    path, sidecar = save_calibration_set(tmp_path / "calib.safetensors", cal)
    meta = json.loads(sidecar.read_text())
    assert meta["inputs"] == {"image_front": {"shape": [1, 8, 8, 3], "dtype": "float32"},
                              "instruction": {"shape": [1, 6], "dtype": "float32"},
                              "state": {"shape": [1, 2], "dtype": "float32"}}
    loaded = load_calibration_set(path)
    assert len(loaded) == 7
    for x, pick, orig in zip(loaded, meta["picks"], cal.inputs):
        i = split.names.index(pick["episode"])
        t = pick["t"]
        assert set(x) == {"image_front", "state", "instruction"} and x["state"].shape == (1, 2)
        np.testing.assert_allclose(x["image_front"][0, 0, 0], np.float32([i * 20, t * 10, 255]) / 255, rtol=1e-6)
        np.testing.assert_allclose(x["state"], normalize_state([i, t], to_normalization(norm).state)[None])
        assert x["instruction"][0, 0] == float(pick["instruction"][-1]) == i % 3
        for k in x:
            np.testing.assert_array_equal(x[k], orig[k])
    check_disjoint([split.names[i] for i in split.train], sidecar)
    with pytest.raises(ValueError, match="1 held-out episode.*trained on"):
        check_disjoint([split.names[split.held_out[0]]], sidecar)
    meta["inputs"]["state"]["shape"] = [1, 3]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="tensor 'state' is float32 \\(7, 2\\); the sidecar says float32 \\(7, 3\\)"):
        load_calibration_set(path)
    sidecar.unlink()
    with pytest.raises(ValueError, match="calib.json: cannot read the calibration sidecar"):
        load_calibration_set(path)
