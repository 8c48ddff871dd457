"""The data flywheel through the command line: deploy and record (`vla-lite run --record`), then retrain on the
recording as recorded (`vla-lite train --data DIR`, no flags), with the bundled demo model in the simulated world."""

import json
import subprocess
import sys

import pytest

from vla_lite.recording import list_episodes, read_episode
from vla_lite.runtime import DEMO_BUNDLE

pytestmark = pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason=f"no demo bundle at {DEMO_BUNDLE}")


def vla_lite(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "vla_lite", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("flywheel") / "rec"
    done = vla_lite("run", "--port", "sim", "--duration", 5, "--record", out, "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def test_a_recording_trains_as_recorded(recording, tmp_path):
    episodes = list_episodes(recording)
    assert episodes
    first = read_episode(episodes[0])
    # what made this fail before: the first tick of each episode has no arm state and no frame yet
    assert first.ticks["frames"]["front"][0] < 0 and not first.ticks["state_present"][0]
    ckpt = tmp_path / "student.safetensors"
    done = vla_lite("train", "--data", recording, "--out", ckpt, "--size", "nano", "--steps", 3, "--batch", 8,
                    "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    # every tick from each episode's first complete one is a training row; an episode with none (the simulated
    # controller's watchdog can latch under heavy load and hold the whole episode) is dropped as empty, and one
    # with fewer rows than train's minimum (a run that stopped a tick after an episode reset) as too short
    from vla_lite.export.train import MIN_EPISODE_ROWS as least

    usable = []
    for path in episodes:
        ticks = read_episode(path).ticks
        ok = ticks["state_present"] & ticks["commanded_present"] & (ticks["frames"]["front"] >= 0)
        usable.append(len(ok) - int(ok.argmax()) if ok.any() else 0)
    dropped = {"empty": usable.count(0), "too_short": sum(0 < n < least for n in usable)}
    data = summary["data"]
    assert data["episodes"] == len(episodes) and data["kept"] == len(episodes) - sum(dropped.values()) >= 1
    assert data["dropped"] == {reason: n for reason, n in dropped.items() if n}
    assert summary["rows"] == sum(n for n in usable if n >= least) and ckpt.exists()


def test_view_renders_a_recorded_episode(recording, tmp_path):
    """`vla-lite view`: an mp4 with one frame per tick and a PNG strip; the holds and clamps it reports are the
    recording's (held ticks; ticks whose command differs from the prediction)."""
    import av
    import cv2
    import numpy as np

    episode = list_episodes(recording)[0]
    ticks = read_episode(episode).ticks
    both = ticks["predicted_present"] & ticks["commanded_present"]
    clamped = both & (np.abs(np.nan_to_num(ticks["predicted"] - ticks["commanded"])).max(axis=1) > 1e-9)
    for out in (tmp_path / "ep.mp4", tmp_path / "ep.png"):
        done = vla_lite("view", episode, "--out", out)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == (f"{out}: {len(ticks['step'])} ticks, {int(ticks['held'].sum())} held, "
                                       f"{int(clamped.sum())} clamped")
    with av.open(str(tmp_path / "ep.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    assert len(frames) == len(ticks["step"]) and frames[0].shape[0] > 300
    assert not np.array_equal(frames[0], frames[-1])  # the camera pane and the cursor move
    strip = cv2.imread(str(tmp_path / "ep.png"))
    assert strip is not None and strip.shape[1] >= 800
