"""Dataset readers (vla-lite recordings, LeRobot v2.1 / v3.0, robomimic, ALOHA), synchronisation checks and
filtering, training windows and augmentation.

Every format is written here from known values (parquet with pyarrow, mp4 with OpenCV 'mp4v', HDF5 with h5py)
and read back: numbers exactly, frames exactly (PNG, raw HDF5) or within the video codec's tolerance. A frame's
colour encodes its episode and frame number (R rises and G falls with the frame, B names the episode), so a wrong
seek or a swapped channel order fails.
"""

import json
import math

import numpy as np
import pytest

from vla_lite.export.datasets import (DatasetError, DatasetSpec, FilterConfig, FilterReport, KeyMap, SampleMaker,
                                      SyncConfig, action_chunk, check_episode, filter_episodes, jitter, open_dataset,
                                      random_shift, sample_instruction, screen_dataset, window_index)
from vla_lite.export.datasets.episode import EpisodeData, FrameSequence

H, W = 24, 32  # px; even sizes for the video codec
FPS = 10.0
CODEC_TOL = 8  # grey levels: mp4v on flat colours measured within 4 here
LENGTHS = [12, 7, 9]  # rows per episode
TASKS = ["pick up the red block", "push the blue cube"]
S_NAMES = ["shoulder", "elbow", "wrist", "gripper"]
A_NAMES = ["shoulder", "elbow", "wrist", "gripper"]


def colour(e: int, k: int) -> tuple[int, int, int]:
    return 10 + 12 * k, 240 - 12 * k, 40 + 80 * e  # RGB


def solid(rgb, h=H, w=W) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy()


def state_of(e: int, n: int) -> np.ndarray:
    t = np.arange(n)[:, None]
    return (np.sin(0.3 * t + np.arange(4) + e) * np.array([1.0, 0.5, 2.0, 0.04])).astype(np.float32)


def actions_of(e: int, n: int) -> np.ndarray:
    return (state_of(e, n + 1)[1:] * 1.1 + 0.01 * e).astype(np.float32)


def write_mp4(path, frames) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert w.isOpened()
    for f in frames:
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    w.release()


def assert_colour(img, rgb, tol=CODEC_TOL) -> None:
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    got = img.reshape(-1, 3).mean(axis=0)
    assert np.abs(got - np.array(rgb)).max() <= tol, (got, rgb)


# --- writers for each format -------------------------------------------------------------------------------

def info_json(version: str, extra=None) -> dict:
    return {"codebase_version": version, "robot_type": "test", "fps": FPS, "chunks_size": 1000,
            "total_episodes": len(LENGTHS), "features": {
                "observation.state": {"dtype": "float32", "shape": [4], "names": {"motors": S_NAMES}},
                "action": {"dtype": "float32", "shape": [4], "names": A_NAMES},
                "observation.images.front": {"dtype": "video", "shape": [H, W, 3], "names": ["height", "width",
                                                                                            "channels"],
                                             "info": {"video.fps": FPS, "video.codec": "mp4v"}},
                "timestamp": {"dtype": "float32", "shape": [1], "names": None},
                "frame_index": {"dtype": "int64", "shape": [1], "names": None},
                "episode_index": {"dtype": "int64", "shape": [1], "names": None},
                "index": {"dtype": "int64", "shape": [1], "names": None},
                "task_index": {"dtype": "int64", "shape": [1], "names": None}}, **(extra or {})}


def rows_table(e: int, n: int, start_index: int, task_index: int):
    import pyarrow as pa

    return pa.table({
        "observation.state": pa.array(state_of(e, n).tolist(), pa.list_(pa.float32())),
        "action": pa.array(actions_of(e, n).tolist(), pa.list_(pa.float32())),
        "timestamp": pa.array((np.arange(n) / FPS).astype(np.float32)),
        "frame_index": pa.array(np.arange(n, dtype=np.int64)),
        "episode_index": pa.array(np.full(n, e, np.int64)),
        "index": pa.array(np.arange(start_index, start_index + n, dtype=np.int64)),
        "task_index": pa.array(np.full(n, task_index, np.int64))})


def make_lerobot_v2(root, lengths=LENGTHS):
    import pyarrow.parquet as pq

    meta = root / "meta"
    meta.mkdir(parents=True)
    info = info_json("v2.1", {
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"})
    (meta / "info.json").write_text(json.dumps(info))
    (meta / "tasks.jsonl").write_text("".join(json.dumps({"task_index": i, "task": t}) + "\n"
                                              for i, t in enumerate(TASKS)))
    (meta / "episodes.jsonl").write_text("".join(json.dumps({"episode_index": e, "tasks": [TASKS[e % 2]],
                                                             "length": n}) + "\n" for e, n in enumerate(lengths)))
    start = 0
    for e, n in enumerate(lengths):
        (root / "data/chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(rows_table(e, n, start, e % 2), root / f"data/chunk-000/episode_{e:06d}.parquet")
        write_mp4(root / f"videos/chunk-000/observation.images.front/episode_{e:06d}.mp4",
                  [solid(colour(e, k)) for k in range(n)])
        start += n
    return root


def make_lerobot_v3(root, lengths=LENGTHS):
    """Episodes 0 and 1 share data file-000 and video file-000; episode 2 is in file-001 of both."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    (root / "data/chunk-000").mkdir(parents=True)
    (root / "meta/info.json").write_text(json.dumps(info_json("v3.0", {
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"})))
    pq.write_table(pa.table({"task_index": [0, 1], "task": TASKS}), root / "meta/tasks.parquet")
    files = [0, 0, 1]
    video_key = "observation.images.front"
    ep_rows, tables, videos, start = [], {0: [], 1: []}, {0: [], 1: []}, 0
    for e, n in enumerate(lengths):
        f = files[e]
        from_s = len(videos[f]) / FPS
        tables[f].append(rows_table(e, n, start, e % 2))
        videos[f] += [solid(colour(e, k)) for k in range(n)]
        ep_rows.append({"episode_index": e, "tasks": [TASKS[e % 2]], "length": n, "data/chunk_index": 0,
                        "data/file_index": f, "dataset_from_index": start, "dataset_to_index": start + n,
                        f"videos/{video_key}/chunk_index": 0, f"videos/{video_key}/file_index": f,
                        f"videos/{video_key}/from_timestamp": from_s,
                        f"videos/{video_key}/to_timestamp": from_s + n / FPS,
                        "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
        start += n
    for f in (0, 1):
        pq.write_table(pa.concat_tables(tables[f]), root / f"data/chunk-000/file-{f:03d}.parquet")
        write_mp4(root / f"videos/{video_key}/chunk-000/file-{f:03d}.mp4", videos[f])
    pq.write_table(pa.Table.from_pylist(ep_rows), root / "meta/episodes/chunk-000/file-000.parquet")
    return root


def make_robomimic(path, demos=(0, 1, 10), with_language=True):
    import h5py

    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "env_kwargs": {"control_freq": 20}})
        if with_language:
            data.attrs["problem_info"] = json.dumps({"language_instruction": TASKS[0]})
        for j, d in enumerate(demos):
            n = LENGTHS[j]
            g = data.create_group(f"demo_{d}")
            g.attrs["num_samples"] = n
            s = state_of(d, n).astype(np.float64)
            g["obs/robot0_eef_pos"] = s[:, :3]
            g["obs/robot0_eef_quat"] = np.zeros((n, 4))
            g["obs/robot0_gripper_qpos"] = s[:, 3:]
            g["obs/agentview_image"] = np.stack([solid(colour(j, k)) for k in range(n)])
            g["actions"] = actions_of(d, n).astype(np.float64)
    return path


def make_aloha(folder, compress=False, lengths=LENGTHS[:2]):
    import cv2
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    for e, n in enumerate(lengths):
        with h5py.File(folder / f"episode_{e}.hdf5", "w") as f:
            f.attrs["sim"] = True
            f.attrs["compress"] = compress
            f["observations/qpos"] = state_of(e, n).astype(np.float64)
            f["action"] = actions_of(e, n).astype(np.float64)
            images = [solid(colour(e, k)) for k in range(n)]
            if compress:  # ALOHA's layout: JPEG rows zero-padded to the longest
                enc = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].ravel() for im in images]
                rows = np.zeros((n, max(map(len, enc)) + 16), np.uint8)
                for k, b in enumerate(enc):
                    rows[k, :len(b)] = b
                f["observations/images/cam_high"] = rows
            else:
                f["observations/images/cam_high"] = np.stack(images)
    return folder


def make_recordings(root, failed_episode=None, lengths=LENGTHS):
    """Episodes of `lengths` ticks through the real recorder (PNG frames, so they come back exact); the second one
    switches instruction at row 3; a camera that runs at half the control rate (a frame every other tick)."""
    from vla_lite.cameras.base import Frame
    from vla_lite.recording import EpisodeRecorder

    clock = [100.0]
    rec = EpisodeRecorder(root, cameras={"front": (H, W)}, state_names=S_NAMES, action_names=A_NAMES,
                          state_units=["rad", "rad", "rad", "m"], action_units=["rad", "rad", "rad", "m"],
                          rate_hz=FPS, clock=lambda: clock[0], image_format="png", wall_time=None,
                          block_when_full=True)
    with rec:
        for e, n in enumerate(lengths):
            rec.start_episode(TASKS[0])
            for k in range(n):
                if e == 1 and k == 3:
                    rec.set_instruction(TASKS[1])
                clock[0] += 1 / FPS
                rec.record_tick(k, clock[0], {"front": Frame(solid(colour(e, k // 2)), clock[0], k // 2)},
                                state_of(e, n)[k], None, None, actions_of(e, n)[k], False, None, True, {}, [])
            rec.end_episode(success=e != failed_episode)
    return root


# --- round trips -------------------------------------------------------------------------------------------

def check_numbers(ep, e, n, exact_float32=True):
    assert len(ep) == n and ep.state.shape == (n, 4) and ep.actions.shape == (n, 4)
    assert np.array_equal(ep.state, state_of(e, n).astype(np.float64))
    assert np.array_equal(ep.actions, actions_of(e, n).astype(np.float64))
    np.testing.assert_allclose(ep.timestamps, np.arange(n) / FPS, atol=1e-6)
    assert ep.fps == FPS


def test_recordings_round_trip(tmp_path):
    ds = open_dataset(make_recordings(tmp_path / "rec", failed_episode=2))
    assert ds.format == "vla-lite-recording" and len(ds) == 3 and ds.lengths() == LENGTHS
    assert ds.indices() == [1, 2, 3]
    eps = list(ds)
    for e, (ep, n) in enumerate(zip(eps, LENGTHS)):
        check_numbers(ep, e, n)
        assert ep.index == e + 1 and ep.meta["action_names"] == A_NAMES and ep.meta["state_names"] == S_NAMES
        for k in (0, n - 1, 3):  # the frame a tick saw, exactly (PNG)
            assert np.array_equal(ep.frames["front"][k], solid(colour(e, k // 2)))
        assert ep.frames["front"].missing is None
    assert [ep.success for ep in eps] == [True, True, False]
    assert eps[1].instruction == TASKS[0] and eps[1].instruction_at(2) == TASKS[0]
    assert eps[1].instruction_at(3) == TASKS[1] and eps[1].instruction_at(6) == TASKS[1]
    assert all(check_episode(ep) == [] for ep in eps)


def test_an_episode_that_ended_before_its_first_tick_reads_as_empty(tmp_path):
    # a run stopped right after an episode reset leaves a finished episode with no tick (its instruction has no
    # first step); reading it crashed `vla-lite train` on such a recording (CI, test_flywheel)
    ds = open_dataset(make_recordings(tmp_path / "rec", lengths=[LENGTHS[0], 0]))
    assert ds.lengths() == [LENGTHS[0], 0]
    empty = ds.episode(1)
    assert len(empty) == 0 and empty.state.shape == (0, 4) and empty.instruction == TASKS[0]
    check_numbers(ds.episode(0), 0, LENGTHS[0])


def test_recordings_measured_state_and_predicted_actions_by_key(tmp_path):
    ds = open_dataset(make_recordings(tmp_path / "rec"), keys=KeyMap(state=("state",), action="predicted"))
    ep = ds.episode(0)
    # nothing was predicted: no tick has a finite action, so no row is usable and the check says why
    assert len(ep) == 0 and ep.meta["leading_ticks_skipped"] == LENGTHS[0]
    (problem,) = check_episode(ep)
    assert problem.code == "empty" and f"{LENGTHS[0]} recorded ticks, none with a finite state, a finite action" \
        in problem.detail
    with pytest.raises(DatasetError, match="'torque'.*commanded"):
        open_dataset(tmp_path / "rec", keys=KeyMap(action="torque"))


def test_lerobot_v2_round_trip(tmp_path):
    ds = open_dataset(make_lerobot_v2(tmp_path / "v2"))
    assert ds.format == "lerobot-v2" and len(ds) == 3 and ds.lengths() == LENGTHS
    for e, (ep, n) in enumerate(zip(ds, LENGTHS)):
        check_numbers(ep, e, n)
        assert ep.instruction == TASKS[e % 2] and ep.success is None
        assert ep.meta["state_names"] == S_NAMES and ep.meta["action_names"] == A_NAMES
        frames = ep.frames["front"]
        assert len(frames) == n and frames.frame_count == n
        for k in (n - 1, 0, 5, 6, 2):  # out of order: seeks
            assert_colour(frames[k], colour(e, k))
        assert check_episode(ep) == []


def test_lerobot_v3_round_trip_with_shared_files(tmp_path):
    ds = open_dataset(make_lerobot_v3(tmp_path / "v3"))
    assert ds.format == "lerobot-v3" and len(ds) == 3 and ds.indices() == [0, 1, 2]
    for e, (ep, n) in enumerate(zip(ds, LENGTHS)):
        check_numbers(ep, e, n)
        assert ep.instruction == TASKS[e % 2]
        frames = ep.frames["front"]
        assert frames.frame_count == n  # its span of the shared file
        for k in (0, n - 1, n // 2):  # episode 1 starts at its from_timestamp inside file-000
            assert_colour(frames[k], colour(e, k))
        assert check_episode(ep) == []


def test_lerobot_image_order_is_rgb(tmp_path):
    """A pure red frame comes back red (OpenCV decodes BGR; the reader must convert)."""
    root = make_lerobot_v2(tmp_path / "v2", lengths=[2, 2, 2])
    write_mp4(root / "videos/chunk-000/observation.images.front/episode_000000.mp4",
              [solid((255, 0, 0)), solid((0, 0, 255))])
    frames = open_dataset(root).episode(0).frames["front"]
    assert_colour(frames[0], (255, 0, 0))
    assert_colour(frames[1], (0, 0, 255))


def test_lerobot_key_mapping(tmp_path):
    root = make_lerobot_v2(tmp_path / "v2")
    ds = open_dataset(root, keys=KeyMap(cameras={"wrist": "observation.images.front"},
                                        state=("action", "observation.state"), action="observation.state"))
    ep = ds.episode(1)
    assert list(ep.frames) == ["wrist"]
    assert np.array_equal(ep.state, np.concatenate([actions_of(1, 7), state_of(1, 7)], axis=1).astype(np.float64))
    assert np.array_equal(ep.actions, state_of(1, 7).astype(np.float64))
    with pytest.raises(DatasetError, match="'observation.joints' not in meta/info.json.*observation.state"):
        open_dataset(root, keys=KeyMap(state=("observation.joints",)))
    with pytest.raises(DatasetError, match="camera key.*observation.images.top"):
        open_dataset(root, keys=KeyMap(cameras={"front": "observation.images.top"}))


def test_lerobot_image_features_stored_in_parquet(tmp_path):
    """dtype `image`: PNG bytes in a {bytes, path} struct column, decoded on demand, in RGB order."""
    import cv2
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = make_lerobot_v2(tmp_path / "v2")
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.images.wrist"] = {"dtype": "image", "shape": [H, W, 3], "names": None}
    (root / "meta/info.json").write_text(json.dumps(info))
    path = root / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(path)
    pngs = [cv2.imencode(".png", cv2.cvtColor(solid(colour(2, k)), cv2.COLOR_RGB2BGR))[1].tobytes()
            for k in range(LENGTHS[0])]
    column = pa.array([{"bytes": b, "path": None} for b in pngs],
                      pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(table.append_column("observation.images.wrist", column), path)
    ep = open_dataset(root, keys=KeyMap(cameras={"wrist": "observation.images.wrist"})).episode(0)
    assert np.array_equal(ep.frames["wrist"][4], solid(colour(2, 4)))
    with pytest.raises(DatasetError, match=r"episode_000001.parquet: column\(s\) \['observation.images.wrist'\] "
                                           "missing"):
        open_dataset(root).episode(1)


def test_hdf5_frame_count_mismatch_is_reported(tmp_path):
    import h5py

    path = make_robomimic(tmp_path / "demo.hdf5")
    with h5py.File(path, "a") as f:
        del f["data/demo_1/obs/agentview_image"]
        f["data/demo_1/obs/agentview_image"] = np.zeros((LENGTHS[1] - 2, H, W, 3), np.uint8)
    ep = open_dataset(path).episode(1)
    assert [p.detail for p in check_episode(ep)] == ["camera 'agentview': 5 frames for 7 rows"]
    with pytest.raises(DatasetError, match="no frame for row 6; the dataset holds 5 frames"):
        ep.frames["agentview"][6]


def test_robomimic_round_trip(tmp_path):
    ds = open_dataset(make_robomimic(tmp_path / "demo.hdf5"))
    assert ds.format == "robomimic-hdf5" and ds.indices() == [0, 1, 10]  # numeric, not demo_0, demo_1, demo_10
    assert ds.fps == 20.0
    for j, (ep, d) in enumerate(zip(ds, (0, 1, 10))):
        n = LENGTHS[j]
        assert np.array_equal(ep.state[:, :3], state_of(d, n)[:, :3]) and np.array_equal(ep.state[:, 7:],
                                                                                         state_of(d, n)[:, 3:])
        assert ep.state.shape == (n, 8) and np.array_equal(ep.actions, actions_of(d, n))
        assert ep.instruction == TASKS[0] and ep.index == d
        assert np.array_equal(ep.frames["agentview"][n - 1], solid(colour(j, n - 1)))
        assert check_episode(ep) == []
    plain = open_dataset(make_robomimic(tmp_path / "plain.hdf5", with_language=False))
    assert len(plain) == 3  # it opens (so `vla-lite dataset` can describe it); reading an episode names the option
    with pytest.raises(DatasetError, match="no instruction stored.*--instruction TEXT"):
        plain.episode(0)
    assert open_dataset(tmp_path / "plain.hdf5", instruction="lift").episode(0).instruction == "lift"


@pytest.mark.parametrize("compress", [False, True])
def test_aloha_round_trip(tmp_path, compress):
    folder = make_aloha(tmp_path / "aloha", compress=compress)
    with pytest.raises(DatasetError, match="no instruction.*instruction="):
        open_dataset(folder).episode(0)
    ds = open_dataset(folder, instruction=TASKS[1])
    assert ds.format == "aloha-hdf5" and len(ds) == 2 and ds.lengths() == LENGTHS[:2]
    for e, ep in enumerate(ds):
        n = LENGTHS[e]
        assert np.array_equal(ep.state, state_of(e, n)) and np.array_equal(ep.actions, actions_of(e, n))
        assert ep.fps == 50.0 and ep.meta["sim"] is True
        np.testing.assert_allclose(ep.timestamps, np.arange(n) / 50.0)
        for k in (0, n - 1):
            if compress:
                assert_colour(ep.frames["cam_high"][k], colour(e, k), tol=3)
            else:
                assert np.array_equal(ep.frames["cam_high"][k], solid(colour(e, k)))
    single = open_dataset(f"aloha:{folder / 'episode_1.hdf5'}", instruction="x", fps=25.0)
    assert len(single) == 1 and single.episode(0).index == 1 and single.episode(0).fps == 25.0


# --- choosing a reader, and clear refusals ------------------------------------------------------------------

def test_open_dataset_detects_and_refuses_clearly(tmp_path):
    assert open_dataset(DatasetSpec(make_lerobot_v2(tmp_path / "v2"))).format == "lerobot-v2"
    assert open_dataset({"path": str(make_robomimic(tmp_path / "r.hdf5"))}).format == "robomimic-hdf5"
    with pytest.raises(DatasetError, match="nowhere does not exist; expected .*LeRobot"):
        open_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no dataset found.*meta/info.json"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="notes.txt: a .txt file"):
        open_dataset(tmp_path / "notes.txt")
    (tmp_path / "bad.hdf5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DatasetError, match="bad.hdf5: not a readable HDF5"):
        open_dataset(tmp_path / "bad.hdf5")
    with pytest.raises(ValueError, match="format 'zarr' is unknown"):
        open_dataset(DatasetSpec(tmp_path, format="zarr"))
    with pytest.raises(ValueError, match="unknown key.*'colour'"):
        open_dataset({"path": str(tmp_path), "colour": "red"})


def test_malformed_lerobot_folders(tmp_path):
    root = make_lerobot_v2(tmp_path / "v2")
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps({**info, "codebase_version": "v1.6"}))
    with pytest.raises(DatasetError, match="codebase_version 'v1.6'; expected 'v2.x' or 'v3.0'"):
        open_dataset(root)
    (root / "meta/info.json").write_text(json.dumps({k: v for k, v in info.items() if k != "fps"}))
    with pytest.raises(DatasetError, match=r"missing \['fps'\]"):
        open_dataset(root)
    (root / "meta/info.json").write_text(json.dumps(info))
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    (root / "meta/episodes.jsonl").write_text("\n".join([lines[0], '{"episode_index": 1}', lines[2]]) + "\n")
    with pytest.raises(DatasetError, match=r"episodes.jsonl line 2: expected an object with \['episode_index', "
                                           "'length'\\]"):
        open_dataset(root)
    v3 = make_lerobot_v3(tmp_path / "v3")
    (v3 / "meta/tasks.parquet").unlink()
    with pytest.raises(DatasetError, match="no meta/tasks.parquet"):
        open_dataset(v3)


def test_readers_stream_one_episode_at_a_time(tmp_path):
    """Episodes are read when reached: a broken third episode does not stop the first two from streaming."""
    v2 = make_lerobot_v2(tmp_path / "v2")
    (v2 / "data/chunk-000/episode_000002.parquet").unlink()
    v3 = make_lerobot_v3(tmp_path / "v3")
    (v3 / "data/chunk-000/file-001.parquet").unlink()
    rec = make_recordings(tmp_path / "rec")
    (rec / "episode_000003/ticks.jsonl").write_text("{torn")
    for root in (v2, v3, rec):
        it = iter(open_dataset(root))
        assert [len(next(it)), len(next(it))] == LENGTHS[:2]
        with pytest.raises(DatasetError, match="episode_000002.parquet.*missing|file-001.parquet.*missing|"
                                               "episode_000003.*torn"):
            next(it)


def test_frames_are_decoded_on_demand(tmp_path):
    root = make_lerobot_v2(tmp_path / "v2")
    ep = open_dataset(root).episode(0)
    video = root / "videos/chunk-000/observation.images.front/episode_000000.mp4"
    good = video.read_bytes()
    video.write_bytes(b"\0" * 100)  # nothing was opened yet: the damage shows at the first frame asked for
    with pytest.raises(DatasetError, match="episode_000000.mp4"):
        ep.frames["front"][0]
    video.write_bytes(good)
    assert_colour(ep.frames["front"][3], colour(0, 3))


# --- synchronisation checks and filtering -------------------------------------------------------------------

def fake(n=10, fps=FPS, frames=None, **kw) -> EpisodeData:
    t = kw.pop("timestamps", np.arange(n) / fps)
    return EpisodeData(source="mem", index=kw.pop("index", 0), instruction="x", fps=fps,
                       state=kw.pop("state", np.zeros((n, 2))), actions=kw.pop("actions", np.ones((n, 3))),
                       timestamps=t, frames=frames or {}, **kw)


def test_sync_check_catches_a_dropped_video_frame(tmp_path):
    root = make_lerobot_v2(tmp_path / "v2")
    write_mp4(root / "videos/chunk-000/observation.images.front/episode_000001.mp4",
              [solid(colour(1, k)) for k in range(LENGTHS[1] - 1)])  # one frame short
    problems = check_episode(open_dataset(root).episode(1))
    assert [p.code for p in problems] == ["frame_count"]
    assert "'front': 6 frames for 7 rows" in problems[0].detail


def test_sync_check_timestamps_rate_rows_and_nan():
    assert check_episode(fake()) == []
    gap = np.r_[np.arange(5), np.arange(6, 11)] / FPS  # row 5 missing: a 2/fps step
    p = check_episode(fake(timestamps=gap))
    assert [x.code for x in p] == ["period_off_rate"] and "row 4 -> 5: 0.2000 s" in p[0].detail
    back = np.arange(10) / FPS
    back[6] = back[4]
    codes = [x.code for x in check_episode(fake(timestamps=back))]
    assert "timestamps_not_increasing" in codes and "period_off_rate" in codes
    assert "first at row 6" in check_episode(fake(timestamps=back))[0].detail
    jitter_ok = np.arange(10) / FPS + np.r_[0, 0.01, -0.01, 0.01, 0, 0, 0, 0, 0, 0]  # within 25 % of 0.1 s
    assert check_episode(fake(timestamps=jitter_ok)) == []
    assert [x.code for x in check_episode(fake(timestamps=jitter_ok), SyncConfig(period_tolerance=0.05))] == \
        ["period_off_rate"]
    p = check_episode(fake(state=np.zeros((9, 2))))
    assert [x.code for x in p] == ["row_count"] and "10 timestamps but 9 state rows" in p[0].detail
    bad = np.ones((10, 3))
    bad[7, 1] = np.nan
    p = check_episode(fake(actions=bad))
    assert [x.code for x in p] == ["nonfinite"] and "actions: 1 NaN/inf values in 1 rows, first row 7" in p[0].detail
    assert [x.code for x in check_episode(fake(n=0))] == ["empty"]
    seq = FrameSequence(10, lambda i: solid((0, 0, 0)), missing=np.r_[[False] * 9, True])
    assert [x.code for x in check_episode(fake(frames={"front": seq}))] == ["missing_frames"]
    assert check_episode(fake(frames={"front": seq}), SyncConfig(max_missing_frames=1)) == []


def test_filtering_report_counts_and_reasons(capsys):
    eps = [fake(index=0, success=True), fake(index=1, success=False), fake(n=3, index=2, success=True),
           fake(index=3, success=None), fake(index=4, timestamps=np.r_[0, np.arange(1, 10)] / FPS * 0)]
    report = FilterReport(FilterConfig(min_length=5))
    kept = list(filter_episodes(iter(eps), FilterConfig(min_length=5), report))
    assert [ep.index for ep in kept] == [0, 3]
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d  # JSON-able
    assert (d["total"], d["kept"], d["dropped"], d["kept_rows"]) == (5, 2, 3, 20)
    assert d["reasons"] == {"failed": 1, "timestamps_not_increasing": 1, "too_short": 1}
    e4 = d["episodes"][4]
    assert not e4["kept"] and e4["problems"][0]["code"] == "timestamps_not_increasing"
    strict = screen_dataset(eps, FilterConfig(drop_unknown=True))
    assert strict["reasons"]["unknown_outcome"] == 2 and strict["kept"] == 2
    out = capsys.readouterr().out
    assert "5 read, 2 kept (13 rows), 3 dropped" in out and "dropped mem#1: failed" in out


# --- training windows -----------------------------------------------------------------------------------------

def test_action_chunk_pads_with_the_last_action_and_masks_it():
    a = np.arange(12.0).reshape(6, 2)
    chunk, valid = action_chunk(a, 4, 4)
    assert np.array_equal(chunk, [[8, 9], [10, 11], [10, 11], [10, 11]])
    assert valid.tolist() == [True, True, False, False]
    chunk, valid = action_chunk(a, 0, 3)
    assert np.array_equal(chunk, a[:3]) and valid.all()
    with pytest.raises(IndexError, match="t = 6 outside"):
        action_chunk(a, 6, 2)
    assert window_index([3, 2], 4).tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]]
    assert window_index([5, 2], 3, min_valid=3).tolist() == [[0, 0], [0, 1], [0, 2]]
    assert window_index([9], 2, stride=4).tolist() == [[0, 0], [0, 4], [0, 8]]


def test_sample_maker_uses_runtime_preprocessing_and_masked_padding(tmp_path):
    from vla_lite.bundle.manifest import CameraSpec
    from vla_lite.cameras.preprocess import make_preprocessor

    ep = open_dataset(make_recordings(tmp_path / "rec")).episode(1)  # 7 rows
    cam = CameraSpec("front", 16, 16, "BGR", (-1.0, 1.0), "area", None)
    norm = {"state": {"mean": [0.1] * 4, "std": [2.0] * 4, "q01": [-1] * 4, "q99": [1] * 4},
            "action": {"mean": [0.5] * 4, "std": [0.25] * 4, "q01": [-1] * 4, "q99": [1] * 4,
                       "mask": [True, True, True, False]}}
    calls = []
    make = SampleMaker([cam], norm, chunk_length=4, embed=lambda s: calls.append(s) or np.full(8, len(s), float))
    s = make(ep, 5)
    assert np.array_equal(s["image_front"], make_preprocessor(cam)(ep.frames["front"][5])[0])
    np.testing.assert_allclose(s["state"], (ep.state[5] - 0.1) / 2.0, rtol=1e-6)
    assert s["action_mask"].tolist() == [True, True, False, False]
    last = np.r_[(ep.actions[6, :3] - 0.5) / 0.25, ep.actions[6, 3]]  # gripper passes through (mask false)
    np.testing.assert_allclose(s["actions"][1:], np.tile(last, (3, 1)), rtol=1e-6)
    assert not np.allclose(s["actions"][2:], 0)  # padding is the last action, not zeros
    assert s["instruction"].shape == (8,) and s["instruction"][0] == len(TASKS[1])
    make(ep, 6)
    make(ep, 0)
    assert calls == [TASKS[1], TASKS[0]]  # embeddings cached per text; row 0 is before the switch


# --- augmentation -----------------------------------------------------------------------------------------------

def test_random_shift_is_a_padded_crop():
    rng = np.random.default_rng(0)
    img = np.arange(8 * 10 * 3, dtype=np.int32).reshape(8, 10, 3).astype(np.float32)
    batch = np.stack([img] * 16)
    out = random_shift(batch, rng, pad=2)
    padded = np.pad(img, ((2, 2), (2, 2), (0, 0)), mode="edge")
    seen = set()
    for o in out:
        hits = [(dy, dx) for dy in range(5) for dx in range(5) if np.array_equal(o, padded[dy:dy + 8, dx:dx + 10])]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) > 4  # per-image offsets, not one for the batch
    again = random_shift(batch, np.random.default_rng(0), pad=2)
    assert np.array_equal(out, again) and random_shift(img, rng, pad=2).shape == img.shape


def test_jitter_keeps_hue_and_changes_brightness():
    rng = np.random.default_rng(1)
    img = np.zeros((4, 4, 3), np.float32)
    img[..., 0], img[..., 1], img[..., 2] = 0.5, 0.2, 0.1  # a red-brown
    img[0, 0] = (0.1, 0.3, 0.6)
    outs = [jitter(img, rng, brightness=0.3, contrast=0.3, value_range=(0.0, 1.0)) for _ in range(10)]
    assert len({float(o.mean()) for o in outs}) == 10
    for o in outs:
        for y, x in ((1, 1), (0, 0)):
            before, after = img[y, x], o[y, x]
            ratio = (after[0] - after[1]) / (before[0] - before[1])
            assert ratio > 0 and math.isclose((after[1] - after[2]) / (before[1] - before[2]), ratio, rel_tol=1e-4)
    u8 = jitter((img * 255).astype(np.uint8), rng, value_range=None)
    assert u8.dtype == np.uint8
    with pytest.raises(ValueError, match="value_range"):
        jitter(img, rng)


def test_sample_instruction():
    rng = np.random.default_rng(2)
    para = {"pick up the red block": ["grab the red block", "lift the red cube"]}
    got = [sample_instruction("pick up the red block", para, rng, p_original=0.5) for _ in range(400)]
    counts = {t: got.count(t) for t in set(got)}
    assert set(counts) == {"pick up the red block", "grab the red block", "lift the red cube"}
    assert 140 < counts["pick up the red block"] < 260
    assert sample_instruction("wave", para, rng) == "wave"
    assert sample_instruction("wave", ["say hi"], rng, p_original=0.0) == "say hi"
