"""The readers against datasets LeRobot itself wrote (shared/fixtures/lerobot): v3.0 AV1 (LeRobot's default), H.264,
PNG images, v2.1, and a 0.6.1 depth camera. States, actions and tasks read exactly; frames are the frames LeRobot's
own PyAV decode returns, within the codec's loss of what was written (PNG: exactly); depth reads as millimetres.
These run under whatever OpenCV is installed: decoding is PyAV's (OpenCV 4.8-4.13 decode no AV1 frame).
"""

import math
import os
import shutil

import numpy as np
import pytest

from lerobot_fixtures import fixtures_dir, psnr_db, truth
from vla_lite.export.datasets import FilterConfig, FrameKind, check_episode, open_dataset, screen_dataset

VIDEO_SETS = ["lr061_v30_video", "lr061_v30_h264", "lr033_v21_video"]
MIN_PSNR_DB = 28.0  # LeRobot's own decode of these files is 29-35 dB against the written pixels


@pytest.fixture(scope="module")
def written():
    return truth()


@pytest.mark.parametrize("name", VIDEO_SETS + ["lr061_v30_image"])
def test_numbers_and_tasks_read_exactly(name, written):
    ds = open_dataset(fixtures_dir() / name)
    assert len(ds) == 3 and ds.lengths() == [40, 40, 40]
    for i in range(3):
        ep = ds.episode(i)
        assert ep.fps == 30.0 and ep.instruction == written["task"][i]
        assert np.array_equal(ep.state, written["state"][i].astype(np.float64))
        assert np.array_equal(ep.actions, written["action"][i].astype(np.float64))
        assert np.allclose(ep.timestamps, np.arange(40) / 30.0, atol=1e-6)
        assert ep.meta["state_names"] == [f"joint_{j}" for j in range(6)]
        assert list(ep.frames) == ["front"] and not ep.depth


@pytest.mark.parametrize("name", VIDEO_SETS)
def test_video_frames_within_codec_loss(name, written):
    ds = open_dataset(fixtures_dir() / name)
    for i in range(3):
        ep = ds.episode(i)
        frames = np.stack(list(ep.frames["front"]))
        assert frames.shape == (40, 96, 96, 3) and frames.dtype == np.uint8
        assert psnr_db(frames, written["frames"][i]) >= MIN_PSNR_DB
        # each row gets its own frame: the moving block makes neighbours differ, so an off-by-one seek would
        # score far worse against the row's truth than against its neighbour's
        for t in (0, 17, 39):
            own = psnr_db(frames[t], written["frames"][i, t])
            for other in {max(t - 1, 0), min(t + 1, 39)} - {t}:
                assert own > psnr_db(frames[t], written["frames"][i, other]) + 1.5, (i, t, other)


def test_image_frames_exact(written):
    ds = open_dataset(fixtures_dir() / "lr061_v30_image")
    for i in range(3):
        assert np.array_equal(np.stack(list(ds.episode(i).frames["front"])), written["frames"][i])


@pytest.mark.parametrize("name", ["lr061_v30_video", "lr061_v30_h264"])
def test_frames_are_pyav_frames_whatever_the_read_order(name):
    """Row t of episode e is frame 40e + t of the shared file, bit for bit as a plain sequential PyAV decode (what
    LeRobot's decode_video_frames_pyav returns), also when rows are read backwards (every read seeks)."""
    import av

    path = fixtures_dir() / name / "videos/observation.images.front/chunk-000/file-000.mp4"
    with av.open(str(path)) as c:
        plain = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    assert len(plain) == 120
    ds = open_dataset(fixtures_dir() / name)
    for e in (2, 0, 1):
        seq = ds.episode(e).frames["front"]
        for t in [*range(39, -1, -7), 0, 1, 2, 39]:
            assert np.array_equal(seq[t], plain[40 * e + t]), (e, t)


def test_depth_reads_as_millimetres_never_as_a_camera():
    """lr061_v30_depth: depth = 500 + 20·column + 10·frame mm, stored by LeRobot 0.6.1 as lossless 12-bit HEVC codes
    of a log quantisation; read back as (H, W, 1) uint16 mm within one code (~1.2 mm here)."""
    import av

    root = fixtures_dir() / "lr061_v30_depth"
    ds = open_dataset(root)
    col = np.arange(96)[None, None, :]
    for i in range(len(ds)):
        ep = ds.episode(i)
        assert list(ep.frames) == ["front"] and list(ep.depth) == ["depth"]
        seq = ep.depth["depth"]
        assert seq.kind is FrameKind.DEPTH_MM and seq.frame_count == len(ep) == 20
        mm = np.stack(list(seq))
        assert mm.shape == (20, 96, 96, 1) and mm.dtype == np.uint16
        want = 500 + 20 * col + 10 * np.arange(20)[:, None, None]
        assert np.abs(mm[..., 0].astype(int) - want).max() <= 1
    # the codes in the file are exactly LeRobot's log quantisation of the written depth (lossless HEVC)
    lo, hi = math.log(10 + 3500), math.log(10000 + 3500)  # depth_min 0.01 m, depth_max 10 m, shift 3.5 m, in mm
    want0 = np.rint((np.log(np.float32(500 + 20 * col[0] + 3500)) - lo) / (hi - lo) * 4095)
    with av.open(str(root / "videos/observation.images.depth/chunk-000/file-000.mp4")) as c:
        codes = next(iter(c.decode(c.streams.video[0]))).to_ndarray(format="gray12le")
    assert np.array_equal(codes, np.broadcast_to(want0, (96, 96)))


def test_screening_refuses_an_undecodable_video_naming_path_and_codec(tmp_path):
    """The frame count in the container is right but no frame decodes (payload zeroed): screening decodes one
    frame per video, so the episode is dropped up front with the file and its codec named."""
    root = tmp_path / "broken"
    shutil.copytree(fixtures_dir() / "lr061_v30_video", root)
    for p in root.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    video = root / "videos/observation.images.front/chunk-000/file-000.mp4"
    data = bytearray(video.read_bytes())
    start = data.index(b"mdat") + 4
    data[start:] = bytes(len(data) - start)
    video.write_bytes(bytes(data))
    report = screen_dataset(open_dataset(root), FilterConfig(), print_fn=None)
    assert report["kept"] == 0 and report["reasons"] == {"undecodable": 3}
    detail = report["episodes"][0]["problems"][0]["detail"]
    assert str(video) in detail and "(av1)" in detail
    assert check_episode(open_dataset(fixtures_dir() / "lr061_v30_video").episode(0)) == []
