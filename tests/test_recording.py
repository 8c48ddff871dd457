"""Episode recording and its reader: exact round trips, NaN faults kept, numbering, crash safety under SIGKILL and
a full disk, dropped frames (never silently dropped ticks), close() finishing the episode, clear refusals.

Timeouts here bound liveness only; nothing asserts a duration. Run as a script, this file is the child process
that the SIGKILL test kills: `python tests/test_recording.py ROOT`.
"""

import hashlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vla_lite.cameras.base import Frame
from vla_lite.recording import EpisodeCorrupt, EpisodeRecorder, list_episodes, read_episode

NAMES = ["shoulder", "elbow", "lift"]
UNITS = ["rad", "rad", "m"]
H, W = 48, 64
LIVENESS_S = 20.0


# --- deterministic data: the child process and the checks compute the same values from the step -------------

def image_for(index: int, h: int = H, w: int = W) -> np.ndarray:
    """A smooth RGB picture that moves with the frame index (JPEG keeps smooth pictures within a few levels)."""
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / 9.0 + 0.3 * index)
    g = 128 + 100 * np.cos(y / 7.0 - 0.2 * index)
    b = np.full(x.shape, (index * 17) % 256)
    return np.stack([r, g, b], axis=-1).round().astype(np.uint8)


def tick_args(step: int) -> dict:
    """One tick's values; every 4th camera tick repeats the previous frame (a 25 fps camera at a 50 Hz loop)."""
    s = np.array([math.sin(0.1 * step), math.cos(0.1 * step), 0.001 * step], np.float32)
    return dict(step=step, t_s=0.02 * step + 1e-9 * step, frames={"front": Frame(image_for(step // 2), 0.02 * step,
                                                                               step // 2)},
                state=s, measured=s.astype(np.float64) + 1e-3, predicted=None if step % 7 == 3 else s * 1.5,
                commanded=s * 1.25, held=step % 7 == 3, reason="no action queued" if step % 7 == 3 else None,
                inferred=step % 4 == 0, timing_ms={"observe": 0.25 + step, "infer": 1.0 / 3.0},
                faults=["late"] if step % 11 == 5 else [])


def recorder(root, **kw) -> EpisodeRecorder:
    args = dict(cameras={"front": (H, W)}, state_names=NAMES, action_names=NAMES, state_units=UNITS,
                action_units=UNITS, rate_hz=50.0, meta={"bundle": "test.vla", "bundle_sha256": "ab" * 32})
    args.update(kw)
    return EpisodeRecorder(root, **args)


def check_ticks(ep, steps) -> None:
    """Every number exactly as recorded."""
    steps = list(steps)
    t = ep.ticks
    assert t["step"].tolist() == steps
    for row, step in enumerate(steps):
        a = tick_args(step)
        assert t["t_s"][row] == a["t_s"]
        assert np.array_equal(t["state"][row], a["state"].astype(np.float64))
        assert np.array_equal(t["measured"][row], a["measured"])
        assert np.array_equal(t["commanded"][row], a["commanded"].astype(np.float64))
        if a["predicted"] is None:
            assert not t["predicted_present"][row] and np.isnan(t["predicted"][row]).all()
        else:
            assert t["predicted_present"][row] and np.array_equal(t["predicted"][row], a["predicted"])
        assert t["held"][row] == a["held"] and t["inferred"][row] == a["inferred"]
        assert t["reason"][row] == a["reason"] and t["faults"][row] == a["faults"]
        assert t["timing_ms"]["observe"][row] == a["timing_ms"]["observe"]
        assert t["timing_ms"]["infer"][row] == 1.0 / 3.0


def check_frames(ep, steps, tolerance: float) -> None:
    for row, step in enumerate(steps):
        got = ep.frame_for_tick("front", row).astype(int)
        err = np.abs(got - image_for(step // 2))
        assert err.mean() <= tolerance and (tolerance > 0 or err.max() == 0), (step, err.mean(), err.max())


# --- round trips ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image_format,tolerance", [("jpeg", 2.0), ("png", 0.0)])
def test_round_trip(tmp_path, image_format, tolerance):
    with recorder(tmp_path, image_format=image_format) as rec:
        partial = rec.start_episode("touch the red block", extra_meta={"seed": 7})
        assert partial.name == "episode_000001.partial"
        for step in range(40):
            rec.record_tick(**tick_args(step))
        final = rec.end_episode(success=True)
    assert final == tmp_path / "episode_000001" and not partial.exists()
    ep = read_episode(final)
    check_ticks(ep, range(40))
    assert ep.num_frames("front") == 20  # a repeated Frame.index is stored once
    assert ep.ticks["frames"]["front"].tolist() == [s // 2 for s in range(40)]
    assert ep.frame_index("front")["index"].tolist() == list(range(20))
    check_frames(ep, range(40), tolerance)
    assert [f.shape for f in ep.frames("front")] == [(H, W, 3)] * 20
    m = ep.meta
    assert (m["success"], m["ended"], m["ticks"], m["frames"], m["finished"]) == (True, "done", 40, {"front": 20}, True)
    assert m["state"] == {"names": NAMES, "units": UNITS} and m["action"]["units"] == UNITS
    assert m["rate_hz"] == 50.0 and m["image_format"] == image_format
    assert m["info"] == {"bundle": "test.vla", "bundle_sha256": "ab" * 32, "seed": 7}
    assert m["cameras"][0]["height"] == H and m["cameras"][0]["width"] == W
    assert ep.instructions == ["touch the red block"] and not ep.truncated and ep.finished


def test_mjpeg_stream_is_plain_concatenated_jpeg(tmp_path):
    """What `ffplay -f mjpeg front.mjpeg` needs: JPEGs back to back, each SOI..EOI, offsets as indexed."""
    with recorder(tmp_path) as rec:
        rec.start_episode("x")
        for step in range(6):
            rec.record_tick(**tick_args(step))
        final = rec.end_episode(None)
    data = (final / "front.mjpeg").read_bytes()
    entries = [json.loads(line) for line in (final / "front.idx.jsonl").read_text().splitlines()]
    assert sum(e["length"] for e in entries) == len(data)
    for e in entries:
        chunk = data[e["offset"]:e["offset"] + e["length"]]
        assert chunk[:2] == b"\xff\xd8" and chunk[-2:] == b"\xff\xd9"


def test_camera_reusing_its_buffer_does_not_change_recorded_frames(tmp_path):
    buffer = np.empty((H, W, 3), np.uint8)  # one array, overwritten in place for every frame (as some drivers do)
    with recorder(tmp_path, image_format="png") as rec:
        rec.start_episode("x")
        for step in range(30):
            buffer[:] = image_for(step)
            rec.record_tick(**{**tick_args(step), "frames": {"front": Frame(buffer, 0.0, step)}})
        final = rec.end_episode(True)
    ep = read_episode(final)
    assert all(np.array_equal(img, image_for(i)) for i, img in enumerate(ep.frames("front")))


def test_jpeg_quality_is_applied_and_recorded(tmp_path):
    sizes = {}
    for quality in (20, 95):
        with recorder(tmp_path / str(quality), quality=quality) as rec:
            rec.start_episode("x")
            for step in range(6):
                rec.record_tick(**tick_args(step))
            final = rec.end_episode(True)
        sizes[quality] = (final / "front.mjpeg").stat().st_size
        assert read_episode(final).meta["quality"] == quality
    assert sizes[20] < 0.7 * sizes[95]


def test_import_loads_no_opencv_and_starts_no_thread():
    probe = ("import sys, threading; n = threading.active_count(); import vla_lite.recording; "
             "print('cv2' in sys.modules, threading.active_count() - n)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread scheduling is Linux's")
def test_writer_thread_never_runs_at_real_time_priority(tmp_path):
    """Created from a SCHED_FIFO control thread, the writer still runs as SCHED_OTHER, niced (+10)."""
    code = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_recording import recorder
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    fifo = True
except OSError:
    fifo = False  # unprivileged: only the nice part can be checked
rec = recorder({str(tmp_path)!r})
rec.start_episode("x")
rec.end_episode(None)  # the writer has run its start-up by now
tid = rec._writer.thread.native_id
print(fifo, os.sched_getscheduler(0) == os.SCHED_FIFO, os.sched_getscheduler(tid) == os.SCHED_OTHER,
      os.getpriority(os.PRIO_PROCESS, tid) - os.getpriority(os.PRIO_PROCESS, 0))
rec.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LIVENESS_S)
    fifo, main_fifo, writer_other, nice = out.stdout.split()
    assert main_fifo == fifo and writer_other == "True" and nice == "10", out.stdout + out.stderr


def test_instruction_change_is_recorded_from_the_next_tick(tmp_path):
    with recorder(tmp_path, cameras={}) as rec:
        rec.start_episode("pick the cube")
        ticks = {s: {**tick_args(s), "frames": None} for s in range(10)}
        for s in range(3):
            rec.record_tick(**ticks[s])
        rec.set_instruction("pick the cube")  # unchanged: no new entry
        rec.record_tick(**ticks[3])
        rec.set_instruction("never applied")  # replaced before any tick used it
        rec.set_instruction("place it left")
        for s in range(4, 7):
            rec.record_tick(**ticks[s])
        rec.set_instruction("pick the cube")  # back to the first text: a new entry, from step 7
        for s in range(7, 10):
            rec.record_tick(**ticks[s])
        final = rec.end_episode(success=False, reason="timeout")
    ep = read_episode(final)
    assert ep.instructions == ["pick the cube", "place it left", "pick the cube"]
    assert ep.instruction_steps == [0, 4, 7]
    assert ep.ticks["instruction"].tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert ep.meta["instructions"] == [{"text": "pick the cube", "from_step": 0},
                                       {"text": "place it left", "from_step": 4},
                                       {"text": "pick the cube", "from_step": 7}]
    assert (ep.meta["success"], ep.meta["ended"]) == (False, "timeout")


def test_nan_inf_and_none_are_recorded_as_strict_json(tmp_path):
    bad = np.array([np.nan, np.inf, -np.inf])
    with recorder(tmp_path, cameras={}) as rec:
        rec.start_episode("x")
        rec.record_tick(**{**tick_args(0), "frames": None, "predicted": bad, "commanded": None, "state": None,
                           "measured": None, "timing_ms": {"infer": float("nan")}, "faults": ["non-finite"]})
        rec.record_tick(**{**tick_args(1), "frames": None})
        final = rec.end_episode(None)

    def refuse(const):
        raise AssertionError(f"non-standard JSON constant {const} in ticks.jsonl")
    for line in (final / "ticks.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=refuse)
    t = read_episode(final).ticks
    p = t["predicted"][0]
    assert np.isnan(p[0]) and p[1] == np.inf and p[2] == -np.inf and t["predicted_present"][0]
    assert not t["commanded_present"][0] and np.isnan(t["commanded"][0]).all() and t["commanded_present"][1]
    assert not t["state_present"][0] and not t["measured_present"][0] and t["measured"].shape == (2, 3)
    assert np.isnan(t["timing_ms"]["infer"][0]) and t["faults"][0] == ["non-finite"]
    assert np.isnan(t["timing_ms"]["observe"][0]) and t["timing_ms"]["observe"][1] == 1.25  # missing -> NaN


def test_numbering_continues_after_existing_episodes(tmp_path):
    (tmp_path / "episode_000003").mkdir()
    (tmp_path / "episode_000007.partial").mkdir()  # a crashed one: its number is not reused
    (tmp_path / "notes").mkdir()
    with recorder(tmp_path, cameras={}) as rec:
        assert rec.start_episode("a").name == "episode_000008.partial"
        assert rec.end_episode(True).name == "episode_000008"
        assert rec.start_episode("b").name == "episode_000009.partial"
        rec.end_episode(True)
    names = [p.name for p in list_episodes(tmp_path)]
    assert names == ["episode_000003", "episode_000008", "episode_000009"]
    assert [p.name for p in list_episodes(tmp_path, include_partial=True)][1] == "episode_000007.partial"


def test_fake_clock_and_no_frames_for_some_ticks(tmp_path):
    """The simulated world's data generator: fake time, no real-time loop; a camera may skip a tick."""
    now = [100.0]
    with recorder(tmp_path, clock=lambda: now[0], wall_time=None, image_format="png") as rec:
        rec.start_episode("x")
        for step in range(8):
            now[0] += 0.02
            a = tick_args(step)
            rec.record_tick(**{**a, "frames": None if step == 5 else a["frames"]})
        final = rec.end_episode(True)
    ep = read_episode(final)
    assert ep.meta["start_clock_s"] == 100.0 and ep.meta["end_clock_s"] == pytest.approx(100.16)
    assert ep.meta["started_utc"] is None
    assert ep.ticks["frames"]["front"].tolist() == [0, 0, 1, 1, 2, -1, 3, 3]
    assert ep.frame_for_tick("front", 5) is None
    assert np.array_equal(ep.frame_for_tick("front", 6), image_for(3))


# --- dropping under load ---------------------------------------------------------------------------------------

def test_full_queue_drops_frames_never_ticks(tmp_path):
    """640x480 PNG frames take milliseconds each to encode; 120 back-to-back ticks with 2 queue slots must drop."""
    base = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)  # noise: slow to encode

    def image(i):
        img = base.copy()
        img[:4, :16] = i
        return img

    with recorder(tmp_path, cameras={"front": (480, 640)}, image_format="png", max_queued_frames=2) as rec:
        rec.start_episode("x")
        for step in range(120):
            rec.record_tick(**{**tick_args(step), "frames": {"front": Frame(image(step), 0.0, step)}})
        dropped = rec.stats["frames_dropped"]["front"]
        final = rec.end_episode(True)
    ep = read_episode(final)
    check_ticks(ep, range(120))  # every tick row is there
    refs, flags = ep.ticks["frames"]["front"], ep.ticks["frames_dropped"]["front"]
    assert dropped > 0 and ep.meta["frames_dropped"] == {"front": dropped}
    assert flags.sum() == dropped and (refs[flags] == -1).all() and (refs[~flags] >= 0).all()
    assert ep.num_frames("front") == 120 - dropped
    for row in np.flatnonzero(~flags)[:6]:
        assert np.array_equal(ep.frame_for_tick("front", row), image(row))


def test_block_when_full_waits_instead_of_dropping(tmp_path):
    """Offline data generation (no real-time loop): a slow writer slows the caller, nothing is lost."""
    base = np.random.default_rng(2).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    with recorder(tmp_path, cameras={"front": (240, 320)}, image_format="png", max_queued_frames=1,
                  max_queued_ticks=1, block_when_full=True) as rec:
        rec.start_episode("x")
        for step in range(25):
            rec.record_tick(**{**tick_args(step), "frames": {"front": Frame(np.roll(base, step, 1), 0.0, step)}})
        final = rec.end_episode(True)
    ep = read_episode(final)
    check_ticks(ep, range(25))
    assert ep.meta["frames_dropped"] == {"front": 0} and ep.meta["ticks_dropped"] == 0
    assert all(np.array_equal(img, np.roll(base, i, 1)) for i, img in enumerate(ep.frames("front")))


def test_tick_budget_exhausted_counts_dropped_ticks(tmp_path):
    with recorder(tmp_path, max_queued_ticks=0, max_queued_frames=0) as rec:
        rec.start_episode("x")
        for step in range(5):
            rec.record_tick(**tick_args(step))
        final = rec.end_episode(True)
    ep = read_episode(final)
    assert len(ep) == 0 and ep.meta["ticks_dropped"] == 5 and ep.meta["frames_dropped"] == {"front": 3}


# --- crash safety ----------------------------------------------------------------------------------------------

def child(root: str) -> None:
    """Two finished 10-tick episodes, then an endless third at 50 Hz; prints each step after recording it."""
    rec = recorder(root)
    period_s, deadline = 0.02, time.monotonic()
    for n in range(3):
        rec.start_episode(f"episode {n}")
        step = 0
        while n == 2 or step < 10:
            deadline += period_s
            time.sleep(max(0.0, deadline - time.monotonic()))
            rec.record_tick(**tick_args(step))
            if n == 2:
                print(step, flush=True)
            step += 1
        print("finished", rec.end_episode(True), flush=True)


def _tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_sigkill_mid_episode_loses_only_the_last_moments(tmp_path):
    proc = subprocess.Popen([sys.executable, __file__, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    finished, last_step, hashes = [], -1, {}
    try:
        end = time.monotonic() + LIVENESS_S
        while last_step < 150:  # 3 s into the third episode at 50 Hz
            if not select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))[0]:
                raise AssertionError(f"child stalled after step {last_step}")
            line = proc.stdout.readline()
            assert line, f"child exited with {proc.wait()} after step {last_step}"
            if line.startswith("finished"):
                finished.append(Path(line.split(maxsplit=1)[1].strip()))
                hashes[finished[-1]] = _tree_hash(finished[-1])
            else:
                last_step = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        printed = [int(line) for line in proc.stdout.read().split()]  # what it printed before it died
        last_step = max([last_step, *printed])
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL and len(finished) == 2
    for path in finished:
        assert _tree_hash(path) == hashes[path]  # untouched by the crash
        ep = read_episode(path)
        check_ticks(ep, range(10))
        check_frames(ep, range(10), 2.0)
    (partial,) = [p for p in list_episodes(tmp_path, include_partial=True) if p.name.endswith(".partial")]
    assert partial.name == "episode_000003.partial" and list_episodes(tmp_path) == finished
    ep = read_episode(partial)
    n = len(ep)
    # Every tick recorded 2 s (100 ticks) before the kill is there, intact and in order; at most the one tick
    # recorded but not yet printed comes after the last printed step.
    assert last_step - 100 <= n <= last_step + 2, (n, last_step, ep.truncated)
    check_ticks(ep, range(n))
    check_frames(ep, range(n), 2.0)
    assert not ep.finished and ep.instructions == ["episode 2"] and "success" not in ep.meta


def _record_past_a_file_size_limit(root, limit_bytes: int) -> str:
    """A child process records until RLIMIT_FSIZE makes a write fail (EFBIG, as a full disk would), then closes
    the recorder; returns what it printed."""
    code = f"""
import resource, signal, sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_recording import recorder, tick_args
from vla_lite.recording import RecordingError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))
rec = recorder({str(root)!r})
rec.start_episode("x")
try:
    for step in range(100_000):
        rec.record_tick(**tick_args(step))
        time.sleep(0.001)
    print("no error")
except RecordingError as exc:
    print("RecordingError", exc)
rec.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LIVENESS_S)
    assert out.stdout.startswith("RecordingError") and "File too large" in out.stdout, out.stdout + out.stderr
    return out.stdout


def test_full_disk_stops_recording_with_a_clear_error_and_leaves_a_readable_partial(tmp_path):
    assert "episode_000001.partial" in _record_past_a_file_size_limit(tmp_path, 60_000)
    ep = read_episode(tmp_path / "episode_000001.partial")
    assert len(ep) > 0
    check_ticks(ep, range(len(ep)))


def test_a_writer_failing_before_meta_json_leaves_no_unreadable_partial(tmp_path):
    """100 bytes: meta.json itself cannot be written, so nothing is readable; close() removes the folder instead of
    leaving an unreadable `.partial`."""
    _record_past_a_file_size_limit(tmp_path, 100)
    assert list_episodes(tmp_path, include_partial=True) == [] and os.listdir(tmp_path) == []


@pytest.mark.parametrize("text, why", [("touch the \udcff\udcfe red block", "not UTF-8"),
                                       ("touch \x1b[2J", "control character"), ("x" * 1025, "limit is 1024")])
def test_instruction_text_the_writer_could_not_store_is_refused_when_given(tmp_path, text, why):
    with recorder(tmp_path) as rec:
        with pytest.raises(ValueError, match=why):
            rec.start_episode(text)
        rec.start_episode("touch the red block")
        rec.record_tick(**tick_args(0))
        with pytest.raises(ValueError, match=why):
            rec.set_instruction(text)
        rec.set_instruction("touch the blue bl\u00f6ck \U0001f7e5")
        for step in range(1, 3):
            rec.record_tick(**tick_args(step))
    ep = read_episode(list_episodes(tmp_path)[0])
    assert ep.finished and ep.instructions == ["touch the red block", "touch the blue bl\u00f6ck \U0001f7e5"]


def test_an_instruction_changed_before_the_first_tick_replaces_the_first(tmp_path):
    with recorder(tmp_path) as rec:  # once made the episode unreadable: its first row named instruction 1 of 0
        rec.start_episode("touch the red block")
        rec.set_instruction("touch the blue block")
        for step in range(3):
            rec.record_tick(**tick_args(step))
    assert read_episode(list_episodes(tmp_path)[0]).instructions == ["touch the blue block"]


def test_partial_episode_reads_up_to_torn_tick_and_frame(tmp_path):
    with recorder(tmp_path) as rec:
        rec.start_episode("x")
        for step in range(12):
            rec.record_tick(**tick_args(step))
        final = rec.end_episode(True)
    partial = final.with_name(final.name + ".partial")
    os.rename(final, partial)  # as if killed: cut the last frame's bytes and the last tick line in half
    stream = partial / "front.mjpeg"
    with open(stream, "r+b") as f:
        f.truncate(stream.stat().st_size - 100)
    ticks = partial / "ticks.jsonl"
    with open(ticks, "r+b") as f:
        f.truncate(ticks.stat().st_size - 30)
    ep = read_episode(partial)
    # frame 5 (ticks 10, 11) is torn; tick 11's line is torn: ticks 0-9 remain.
    assert ep.truncated.frames == {"front": 1} and ep.truncated.tick_lines == 1
    assert ep.truncated.ticks_without_frames == 1 and bool(ep.truncated)
    check_ticks(ep, range(10))
    assert ep.num_frames("front") == 5


def test_partial_killed_right_after_start_reads_as_empty(tmp_path):
    with recorder(tmp_path) as rec:
        rec.start_episode("x")
        final = rec.end_episode(None)
    partial = final.with_name(final.name + ".partial")
    os.rename(final, partial)
    for name in ("ticks.jsonl", "front.mjpeg", "front.idx.jsonl"):
        (partial / name).unlink()  # the writer had written meta.json but opened nothing else yet
    ep = read_episode(partial)
    assert len(ep) == 0 and ep.num_frames("front") == 0 and ep.instructions == ["x"] and not ep.truncated
    assert list(ep.frames("front")) == [] and ep.ticks["state"].shape == (0, 3)
    (tmp_path / "episode_000002.partial").mkdir()  # killed between mkdir and meta.json
    with pytest.raises(EpisodeCorrupt, match="meta.json is missing.*nothing recorded"):
        read_episode(tmp_path / "episode_000002.partial")


def test_finished_episode_that_was_damaged_is_refused(tmp_path):
    with recorder(tmp_path) as rec:
        rec.start_episode("x")
        for step in range(4):
            rec.record_tick(**tick_args(step))
        final = rec.end_episode(True)
    ticks = final / "ticks.jsonl"
    ticks.write_bytes(ticks.read_bytes()[:-20])
    with pytest.raises(EpisodeCorrupt, match="ticks.jsonl"):
        read_episode(final)


def test_close_finishes_the_running_episode_as_interrupted(tmp_path):
    rec = recorder(tmp_path)
    rec.start_episode("x")
    for step in range(5):
        rec.record_tick(**tick_args(step))
    rec.close()
    rec.close()  # twice is fine
    assert not rec._writer.thread.is_alive()
    (path,) = list_episodes(tmp_path, include_partial=True)
    ep = read_episode(path)
    assert path.name == "episode_000001" and ep.meta["ended"] == "interrupted" and ep.meta["success"] is None
    check_ticks(ep, range(5))
    with pytest.raises(RuntimeError, match="closed"):
        rec.start_episode("y")


# --- refusals ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,match", [
    ({"cameras": {"front cam": (48, 64)}}, "camera name"),
    ({"cameras": {"front": (0, 64)}}, r"\(height, width\).*\(0, 64\)"),
    ({"state_names": ["a", "a", "b"]}, "distinct"),
    ({"action_units": ["rad"]}, "action units must be 3"),
    ({"rate_hz": 0}, r"rate_hz must be in \(0, 1000\].*0"),
    ({"image_format": "gif"}, "image_format.*'gif'"),
    ({"quality": 101}, "quality.*101"),
    ({"max_queued_frames": -1}, "max_queued_frames.*-1"),
    ({"max_queued_ticks": 0, "block_when_full": True}, "max_queued_ticks must be >= 1 with block_when_full"),
    ({"meta": {"x": float("nan")}}, "meta must be JSON-serialisable"),
    ({"meta": {"x": object()}}, "meta must be JSON-serialisable"),
])
def test_bad_constructor_arguments_are_named(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        recorder(tmp_path, **kw)


@pytest.mark.parametrize("change,match", [
    ({"step": -1}, "step must be an integer >= 0, got -1"),
    ({"t_s": float("nan")}, "t_s must be a finite"),
    ({"state": np.zeros(2)}, r"state must be a 1-D vector of 3.*\(2,\)"),
    ({"commanded": np.zeros((1, 3))}, r"commanded .*\(1, 3\)"),
    ({"held": "no"}, "held and inferred must be booleans"),
    ({"faults": "late"}, "faults must be a list of strings"),
    ({"timing_ms": {"infer": "fast"}}, "timing_ms must map"),
    ({"frames": {"side": Frame(image_for(0), 0.0, 0)}}, "unknown camera 'side'.*front"),
    ({"frames": {"front": Frame(np.zeros((H, W, 3), np.float32), 0.0, 0)}}, r"\(48, 64, 3\) uint8.*float32"),
    ({"frames": {"front": Frame(np.zeros((W, H, 3), np.uint8), 0.0, 0)}}, r"got \(\(64, 48, 3\)"),
])
def test_bad_tick_arguments_are_named(tmp_path, change, match):
    with recorder(tmp_path) as rec:
        rec.start_episode("x")
        with pytest.raises(ValueError, match=match):
            rec.record_tick(**{**tick_args(0), **change})


def test_a_refused_tick_stores_nothing(tmp_path):
    """Checks run before anything is enqueued: a bad second camera does not leave the first camera's frame."""
    with recorder(tmp_path, cameras={"front": (H, W), "wrist": (H, W)}, image_format="png") as rec:
        rec.start_episode("x")
        good = Frame(image_for(0), 0.0, 0)
        with pytest.raises(ValueError, match="camera 'wrist'"):
            rec.record_tick(**{**tick_args(0), "frames": {"front": good, "wrist": Frame(np.zeros(3), 0.0, 0)}})
        rec.record_tick(**{**tick_args(0), "frames": {"front": Frame(image_for(1), 0.0, 0), "wrist": good}})
        final = rec.end_episode(True)
    ep = read_episode(final)
    assert len(ep) == 1 and ep.num_frames("front") == 1
    assert np.array_equal(ep.frame("front", 0), image_for(1)) and np.array_equal(ep.frame("wrist", 0), image_for(0))


def test_misuse_of_the_episode_sequence_is_refused(tmp_path):
    with recorder(tmp_path) as rec:
        with pytest.raises(RuntimeError, match="start_episode"):
            rec.record_tick(**tick_args(0))
        with pytest.raises(ValueError, match="instruction must be a non-empty string"):
            rec.start_episode("  ")
        rec.start_episode("x")
        with pytest.raises(RuntimeError, match="already being recorded"):
            rec.start_episode("y")
        rec.record_tick(**tick_args(3))
        with pytest.raises(ValueError, match="step must increase.*got 3 after 3"):
            rec.record_tick(**tick_args(3))
        with pytest.raises(ValueError, match="success must be True, False or None"):
            rec.end_episode("yes")
        rec.end_episode(True)
        with pytest.raises(RuntimeError, match="start_episode"):
            rec.end_episode(True)
    with pytest.raises(FileNotFoundError, match="not an episode folder"):
        read_episode(tmp_path)
    with pytest.raises(ValueError, match="no camera 'side'"):
        read_episode(list_episodes(tmp_path)[0]).frame("side", 0)


if __name__ == "__main__":
    child(sys.argv[1])
