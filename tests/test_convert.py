"""`vla-lite convert --to lerobot`: the output has the layout LeRobot 0.6.1 writes (compared with the fixtures LeRobot
wrote from the same arrays: info.json keys and features, parquet column names and types, row values and per-episode
statistics), and reads back exactly (states, actions, tasks) with frames within the codec's loss."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from lerobot_fixtures import fixtures_dir, psnr_db, truth
from test_datasets import LENGTHS, TASKS, make_recordings
from vla_lite.cli import main
from vla_lite.export.datasets import open_dataset

PARQUETS = ("data/chunk-000/file-000.parquet", "meta/episodes/chunk-000/file-000.parquet", "meta/tasks.parquet")
CASES = {"lr061_v30_video": [], "lr061_v30_h264": ["--video-codec", "h264"], "lr061_v30_image": ["--images"]}


def convert(src, out, *extra):
    assert main(["convert", str(src), "--to", "lerobot", "--out", str(out), "--json", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("converted")
    return {name: convert(fixtures_dir() / name, root / name, *extra) for name, extra in CASES.items()}


@pytest.mark.parametrize("name", CASES)
def test_layout_matches_what_lerobot_wrote(name, converted):
    mine, theirs = converted[name], fixtures_dir() / name
    a, b = (json.loads((p / "meta/info.json").read_text()) for p in (theirs, mine))
    assert list(b) == list(a) and b["features"] == a["features"]  # keys in order, dtypes/shapes/names/video info
    assert {k: b[k] for k in a if k != "features"} == {k: a[k] for k in a if k != "features"}
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(theirs).as_posix() for p in theirs.rglob("*") if p.is_file())
    for rel in PARQUETS:
        sa, sb = pq.read_schema(theirs / rel), pq.read_schema(mine / rel)
        assert sb.remove_metadata().equals(sa.remove_metadata()), rel  # names, order and types
    pandas = json.loads(pq.read_schema(mine / "meta/tasks.parquet").metadata[b"pandas"])
    assert pandas["index_columns"] == ["task"]  # LeRobot reads tasks as a DataFrame indexed by the task text
    assert b"huggingface" in pq.read_schema(mine / PARQUETS[0]).metadata
    assert pq.ParquetFile(mine / PARQUETS[0]).metadata.num_row_groups == 3  # a row group per episode, as LeRobot


@pytest.mark.parametrize("name", CASES)
def test_rows_and_statistics_equal_lerobots(name, converted):
    """Same arrays in, so the rows are LeRobot's value for value, and so are the per-episode statistics (LeRobot's
    histogram quantiles); image statistics too when the frames are lossless (PNG)."""
    mine, theirs = converted[name], fixtures_dir() / name
    ta, tb = pq.read_table(theirs / PARQUETS[0]), pq.read_table(mine / PARQUETS[0])
    for col in ("observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert tb.column(col).equals(ta.column(col)), col
    ea, eb = pq.read_table(theirs / PARQUETS[1]), pq.read_table(mine / PARQUETS[1])
    lossy = name != "lr061_v30_image"
    for col in ea.column_names:
        if lossy and col.startswith("stats/observation.images."):
            continue  # computed from the decoded (lossy) frames here, from the originals by LeRobot
        assert eb.column(col).equals(ea.column(col)), col


@pytest.mark.parametrize("name", CASES)
def test_round_trip_reads_back_exactly(name, converted):
    written = truth()
    ds = open_dataset(converted[name])
    assert len(ds) == 3
    for i in range(3):
        ep = ds.episode(i)
        assert ep.instruction == written["task"][i]
        assert np.array_equal(ep.state, written["state"][i]) and np.array_equal(ep.actions, written["action"][i])
        frames = np.stack(list(ep.frames["front"]))
        if name == "lr061_v30_image":
            assert np.array_equal(frames, written["frames"][i])
        else:  # decoded from LeRobot's lossy file, then encoded again: two generations of codec loss
            assert psnr_db(frames, written["frames"][i]) >= 26.0


def test_recordings_convert_and_read_back(tmp_path):
    """A vla-lite recording (PNG frames, so the source pixels are exact) converted with LeRobot's default AV1 and
    with PNG images; float32 numbers stay float32 and read back exactly, tasks per row too (an instruction switch
    mid-episode becomes a task_index change)."""
    src = make_recordings(tmp_path / "rec")
    source = [ep for ep in open_dataset(src)]
    for extra, min_db in (([], 30.0), (["--images"], float("inf"))):
        out = convert(src, tmp_path / f"lr{len(extra)}", *extra)
        info = json.loads((out / "meta/info.json").read_text())
        assert info["features"]["action"]["dtype"] == "float32" and info["total_tasks"] == 2
        assert info["total_frames"] == sum(LENGTHS) and info["fps"] == 10
        ds = open_dataset(out)
        assert ds.format == "lerobot-v3" and len(ds) == 3
        for src_ep, ep in zip(source, ds):
            assert np.array_equal(ep.state, src_ep.state) and np.array_equal(ep.actions, src_ep.actions)
            assert [ep.instruction_at(t) for t in range(len(ep))] == \
                [src_ep.instruction_at(t) for t in range(len(src_ep))]
            frames, want = np.stack(list(ep.frames["front"])), np.stack(list(src_ep.frames["front"]))
            assert psnr_db(frames, want) >= min_db
        assert {t for ep in ds for t in (ep.instruction_at(0), ep.instruction_at(len(ep) - 1))} == set(TASKS)


def test_float64_values_keep_float64(tmp_path):
    """Commands computed in float64 (a robot run's safety filter) are not float32 values: they are written as
    float64 features so they still read back exactly."""
    from vla_lite.export.datasets.lerobot_writer import write_lerobot

    src = open_dataset(make_recordings(tmp_path / "rec"))
    eps = [src.episode(i) for i in range(len(src))]
    bumped = [type(ep)(**{**ep.__dict__, "actions": ep.actions + 1e-9}) for ep in eps]
    info = write_lerobot(lambda: iter(bumped), tmp_path / "out", video=None)
    assert info["features"]["action"]["dtype"] == "float64"
    back = open_dataset(tmp_path / "out")
    for ep, want in zip(back, bumped):
        assert np.array_equal(ep.actions, want.actions)
