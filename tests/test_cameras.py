"""Camera sources, the capture thread and preprocessing, on real files (no webcam exists here) and fake clocks."""

import os
import queue
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from vla_lite.bundle.manifest import CameraSpec
from vla_lite.cameras import (CameraError, StaleFrame, ThreadedCamera, make_preprocessor, open_cameras, open_source,
                              parse_camera_args)
from vla_lite.cameras.frame_pacer import FramePacer
from vla_lite.cameras.opencv_sources import DeviceSource, ImageFolderSource, VideoFileSource

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)  # RGB


def solid(rgb, h=48, w=64):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = rgb
    return img


def colour_of(img):
    """Which of RED/GREEN/BLUE a (lossy-compressed) solid frame is."""
    m = img.reshape(-1, 3).mean(0)
    assert m.max() > 200 and sorted(m)[1] < 50, f"not a saturated primary: mean RGB {m}"
    return (RED, GREEN, BLUE)[int(np.argmax(m))]


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, d):
        self.sleeps.append(round(d, 9))
        self.t += d


def no_sleep(d):
    raise AssertionError(f"an unpaced source slept {d} s")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """3-frame MJPG .avi at 10 fps: red, green, blue."""
    path = tmp_path_factory.mktemp("video") / "rgb.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for rgb in (RED, GREEN, BLUE):
        writer.write(cv2.cvtColor(solid(rgb), cv2.COLOR_RGB2BGR))  # VideoWriter takes BGR
    writer.release()
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """PNG frames whose name order (not creation order) is blue, red, green; plus a file that is not an image."""
    d = tmp_path_factory.mktemp("frames")
    for name, rgb in (("frame_02.png", GREEN), ("frame_00.png", BLUE), ("frame_01.png", RED)):
        cv2.imwrite(str(d / name), cv2.cvtColor(solid(rgb), cv2.COLOR_RGB2BGR))
    (d / "notes.txt").write_text("not a frame")
    return d


def grab_all(source, limit=20):
    out = []
    while len(out) < limit and (img := source.grab()) is not None:
        out.append(img)
    return out


# --- OpenCV sources -----------------------------------------------------------------------------------------

def test_video_frames_come_out_rgb_in_order_then_end(video):
    src = VideoFileSource(video, realtime=False, sleep=no_sleep)
    frames = grab_all(src)
    assert [colour_of(f) for f in frames] == [RED, GREEN, BLUE]
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert src.grab() is None
    src.close()
    src.close()


def test_video_loops_when_asked(video):
    src = VideoFileSource(video, realtime=False, loop=True, sleep=no_sleep)
    assert [colour_of(f) for f in grab_all(src, limit=7)] == [RED, GREEN, BLUE, RED, GREEN, BLUE, RED]
    src.close()
    assert src.grab() is None  # closed: ends rather than touching a released capture


def test_video_realtime_is_paced_at_the_files_fps(video):
    clock = FakeClock()
    src = VideoFileSource(video, realtime=True, clock=clock, sleep=clock.sleep)
    assert src.fps == pytest.approx(10.0)
    assert len(grab_all(src)) == 3
    assert clock.sleeps == [0.1, 0.1]  # first frame at once, then one period apart


def test_folder_frames_sorted_rgb_paced_and_looping(folder):
    clock = FakeClock()
    src = ImageFolderSource(folder, fps=20, clock=clock, sleep=clock.sleep)
    assert [colour_of(f) for f in grab_all(src, limit=4)] == [BLUE, RED, GREEN, BLUE]
    assert clock.sleeps == [0.05, 0.05, 0.05]
    once = ImageFolderSource(folder, fps=None, loop=False, sleep=no_sleep)
    assert [colour_of(f) for f in grab_all(once)] == [BLUE, RED, GREEN]


def test_pacer_restarts_instead_of_bursting_after_a_stall():
    clock = FakeClock(0.0)
    pacer = FramePacer(10, clock, clock.sleep)
    pacer.wait()  # t=0, at once
    clock.t = 1.0  # the reader stalled for 10 periods
    pacer.wait()
    pacer.wait()
    assert clock.sleeps == [0.1] and pacer.restarts == 1  # no run of zero-delay frames to catch up
    with pytest.raises(ValueError, match="fps must be"):
        FramePacer(0, clock, clock.sleep)


def test_source_errors_name_the_path_and_what_was_expected(tmp_path, folder):
    with pytest.raises(CameraError, match="missing.mp4.*does not exist"):
        VideoFileSource(tmp_path / "missing.mp4")
    (tmp_path / "fake.mp4").write_text("not a video")
    with pytest.raises(CameraError, match="fake.mp4.*cannot be read as a video"):
        VideoFileSource(tmp_path / "fake.mp4")
    with pytest.raises(CameraError, match="frame_00.png.*still image"):
        VideoFileSource(folder / "frame_00.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CameraError, match="empty.*holds no images.*.png"):
        ImageFolderSource(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    with pytest.raises(CameraError, match="a.png.*cannot be read as an image"):
        ImageFolderSource(tmp_path / "broken")
    with pytest.raises(CameraError, match="nowhere.*does not exist"):
        ImageFolderSource(tmp_path / "nowhere")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.path.exists("/dev/video63"),
                    reason="needs Linux without /dev/video63")
def test_missing_device_is_a_clear_error():
    with pytest.raises(CameraError, match=r"/dev/video63 does not exist.*expected an index"):
        DeviceSource(63)
    with pytest.raises(CameraError, match=r"/dev/video63 does not exist"):
        open_source("/dev/video63")
    with pytest.raises(ValueError, match="device must be"):
        DeviceSource(-1)
    with pytest.raises(ValueError, match="width must be"):
        DeviceSource(0, width=0)


# --- choosing a source ----------------------------------------------------------------------------------------

def test_open_source_chooses_by_form(video, folder, tmp_path):
    src = open_source(str(folder))
    assert isinstance(src, ImageFolderSource)
    src.close()
    src = open_source(str(video))
    assert isinstance(src, VideoFileSource)
    src.close()
    with pytest.raises(CameraError, match="--port sim"):
        open_source("sim")
    with pytest.raises(CameraError, match="clip.mp4.*does not exist.*device index"):
        open_source(str(tmp_path / "clip.mp4"))


def test_parse_camera_args():
    assert parse_camera_args(["0"], ["front"]) == {"front": "0"}
    assert parse_camera_args(["clip.mp4"], ["front"]) == {"front": "clip.mp4"}
    assert parse_camera_args(["front=/dev/video2"], ["front"]) == {"front": "/dev/video2"}
    two = parse_camera_args(["wrist=/dev/video2", "front=0"], ["front", "wrist"])
    assert list(two.items()) == [("front", "0"), ("wrist", "/dev/video2")]  # bundle order
    assert parse_camera_args(["./a=b.mp4"], ["front"]) == {"front": "./a=b.mp4"}  # a path, not NAME=SOURCE


@pytest.mark.parametrize("values, names, message", [
    ([], ["front"], r"no --camera source for bundle camera\(s\) \['front'\]"),
    (["front=0"], ["front", "wrist"], r"no --camera source.*\['wrist'\]"),
    (["0"], ["front", "wrist"], r"does not say which camera.*front=0 --camera wrist=/dev/video2"),
    (["side=0"], ["front"], r"names camera 'side'.*\['front'\]"),
    (["front=0", "front=1"], ["front"], r"'front' is given two sources: '0' and '1'"),
    (["front="], ["front"], r"gives camera 'front' no source"),
    (["0", "1"], ["front"], r"given 2 times"),
    ([""], ["front"], r"expected a source"),
])
def test_parse_camera_args_errors(values, names, message):
    with pytest.raises(ValueError, match=message):
        parse_camera_args(values, names)


# --- the capture thread ----------------------------------------------------------------------------------------

class QueueSource:
    """grab() returns what the test puts (an image, None, or an exception to raise). After `q.join()` every item
    put so far has been grabbed and stored by the camera (task_done runs at the next grab)."""

    def __init__(self):
        self.q = queue.Queue()
        self.closed = 0
        self._taken = False

    def grab(self):
        if self._taken:
            self.q.task_done()
        item = self.q.get()
        self._taken = True
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self.closed += 1
        self.q.put(OSError("source closed"))  # unblocks a waiting grab, as releasing a device does


def test_read_returns_the_newest_frame_and_goes_stale_by_age():
    clock, src = FakeClock(10.0), QueueSource()
    cam = ThreadedCamera("front", src, clock)
    with pytest.raises(StaleFrame, match="'front'.*no frame has arrived"):
        cam.read(0.5)
    src.q.put(solid(RED))
    assert cam.wait().index == 0
    clock.t = 10.2
    frame = cam.read(0.5)
    assert frame.index == 0 and frame.t_capture_s == 10.0 and colour_of(frame.image) == RED
    clock.t = 10.6
    with pytest.raises(StaleFrame, match=r"'front'.*600 ms old \(limit 500 ms\)"):
        cam.read(0.5)
    assert cam.read(None).index == 0  # no limit
    src.q.put(solid(GREEN))
    src.q.join()
    assert cam.read(0.5).index == 1 and cam.read(0.5).t_capture_s == 10.6
    cam.close()


def test_frames_overwritten_before_being_read_are_counted_as_dropped():
    src = QueueSource()
    with ThreadedCamera("front", src, FakeClock()) as cam:
        for rgb in (RED, GREEN, BLUE):
            src.q.put(solid(rgb))
        src.q.join()
        frame = cam.read()
        assert (frame.index, colour_of(frame.image)) == (2, BLUE)
        assert (cam.frames_captured, cam.frames_dropped) == (3, 2)
        src.q.put(solid(RED))
        src.q.join()
        cam.read()
        assert (cam.frames_captured, cam.frames_dropped) == (4, 2)


def test_a_raising_source_goes_stale_with_the_error_and_never_crashes():
    clock, src = FakeClock(), QueueSource()
    with ThreadedCamera("wrist", src, clock) as cam:
        src.q.put(solid(RED))
        cam.wait()
        src.q.put(OSError("USB device unplugged"))
        with pytest.raises(StaleFrame, match="OSError: USB device unplugged"):
            cam.wait(after_index=0)
        with pytest.raises(StaleFrame, match=r"'wrist'.*capture stopped.*USB device unplugged"):
            cam.read(0.5)  # the last frame is still young, but can never be refreshed
        assert isinstance(cam.error, OSError) and not cam.ended
        cam._thread.join(5)
        assert not cam.capturing


@pytest.mark.parametrize("item, message", [(None, "source ended"),
                                           (np.zeros((4, 4, 3), np.float32), r"float32 \(4, 4, 3\).*uint8")])
def test_end_of_source_and_bad_images_stop_the_capture(item, message):
    src = QueueSource()
    with ThreadedCamera("front", src, FakeClock()) as cam:
        src.q.put(item)
        with pytest.raises(StaleFrame, match=message):
            cam.wait()
        with pytest.raises(StaleFrame, match=message):
            cam.read()


def test_close_joins_the_thread_closes_the_source_and_is_safe_twice():
    before = threading.active_count()
    src = QueueSource()
    cam = ThreadedCamera("front", src, FakeClock())
    assert threading.active_count() == before + 1 and cam.capturing
    cam.close()  # the thread is blocked in grab(); closing the source unblocks it
    assert threading.active_count() == before and not cam.capturing
    assert src.closed == 1 and cam.error is None  # the grab that close() interrupted is not a fault
    cam.close()
    assert src.closed == 1
    with pytest.raises(StaleFrame, match="closed"):
        cam.read()
    with pytest.raises(RuntimeError, match="closed"):
        cam.start()


def test_not_started_and_bad_max_age():
    cam = ThreadedCamera("front", QueueSource(), FakeClock(), start=False)
    assert not cam.capturing and "camera-front" not in [t.name for t in threading.enumerate()]
    with pytest.raises(StaleFrame, match="not started"):
        cam.read()
    for bad in (0, -1.0, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="max_age_s must be"):
            cam.read(bad)
    cam.close()


def test_threaded_camera_over_real_files(video, folder):
    src = VideoFileSource(video, realtime=False)
    with ThreadedCamera("front", src) as cam:
        with pytest.raises(StaleFrame, match="source ended"):
            cam.wait(after_index=99)
        assert cam.frames_captured == 3 and cam.ended
    cams = open_cameras({"front": str(folder)})
    try:
        assert colour_of(cams["front"].wait().image) == BLUE
    finally:
        cams["front"].close()
    with pytest.raises(CameraError, match="camera 'front'.*--port sim"):
        open_cameras({"front": "sim"})


# --- preprocessing ------------------------------------------------------------------------------------------

def spec(h=96, w=96, order="RGB", rng=(0.0, 1.0), resize="area", crop=None):
    return CameraSpec("front", h, w, order, rng, resize, crop)


def area_weights(n_in, n_out):
    """(n_out, n_in) box-filter weights: the overlap of input pixel j with output cell i, over the cell size."""
    s = n_in / n_out
    i, j = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    return np.clip(np.minimum((i + 1) * s, j + 1) - np.maximum(i * s, j), 0, None) / s


def reference(frame, sp):
    """Slow, independent pipeline: crop by slicing, exact area mean (or cv2 linear), flip, scale."""
    if sp.crop:
        t, l, h, w = sp.crop
        frame = frame[t:t + h, l:l + w]
    if sp.resize == "area":
        x = np.tensordot(area_weights(frame.shape[0], sp.height), frame.astype(np.float64), axes=(1, 0))
        x = np.einsum("iwc,jw->ijc", x, area_weights(frame.shape[1], sp.width))
    else:
        x = cv2.resize(frame, (sp.width, sp.height), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    if sp.channel_order == "BGR":
        x = x[..., ::-1]
    lo, hi = sp.pixel_range
    return (x / 255.0 * (hi - lo) + lo)[None]


@pytest.fixture(scope="module")
def frame():
    return np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


@pytest.mark.parametrize("sp", [
    spec(order="BGR", rng=(-1.0, 1.0), crop=(40, 80, 400, 480)),  # non-whole factors: integral-image path
    spec(),  # 640x480 -> 96x96
    spec(h=96, w=128),  # whole factors: cv2 path
    spec(h=160, w=200, rng=(-1.0, 1.0)),  # small cells: cv2 path
])
def test_area_preprocessing_matches_the_exact_area_mean(frame, sp):
    out = make_preprocessor(sp)(frame)
    assert out.shape == (1, sp.height, sp.width, 3) and out.dtype == np.float32
    lo, hi = sp.pixel_range
    # exact to float32, or within half a grey level where OpenCV rounds its mean to uint8
    np.testing.assert_allclose(out, reference(frame, sp), rtol=0, atol=0.5 / 255 * (hi - lo) + 1e-5)


def test_integral_path_is_exact_and_within_half_a_level_of_cv2(frame):
    sp = spec(order="BGR", rng=(-1.0, 1.0), crop=(40, 80, 400, 480))
    out = make_preprocessor(sp)(frame)
    np.testing.assert_allclose(out, reference(frame, sp), rtol=0, atol=2e-6)
    cv2_ref = cv2.resize(frame[40:440, 80:560], (96, 96), interpolation=cv2.INTER_AREA)[..., ::-1] / 127.5 - 1
    np.testing.assert_allclose(out[0], cv2_ref, rtol=0, atol=1.0 / 255 + 1e-6)


def test_linear_identity_and_upscale_paths(frame):
    sp = spec(resize="linear", rng=(-1.0, 1.0))
    np.testing.assert_allclose(make_preprocessor(sp)(frame), reference(frame, sp), atol=1e-6)
    same = make_preprocessor(spec(h=480, w=640))
    a, b = same(frame), same(frame)
    np.testing.assert_allclose(a[0], frame / 255.0, atol=1e-7)
    assert a is not b and not np.shares_memory(a, b)  # a fresh array each call: callers may keep it
    small = frame[:40, :50]
    up = make_preprocessor(spec(h=80, w=100))(small)  # area upscaling is OpenCV's, as documented
    np.testing.assert_allclose(up[0], cv2.resize(small, (100, 80), interpolation=cv2.INTER_AREA) / 255.0, atol=1e-6)


def test_pixel_range_and_channel_order_on_a_pure_red_frame():
    red = solid(RED, 96, 96)
    rgb = make_preprocessor(spec())(red)
    assert rgb[0, 5, 5].tolist() == [1.0, 0.0, 0.0]
    bgr = make_preprocessor(spec(order="BGR", rng=(-1.0, 1.0)))(red)
    assert bgr[0, 5, 5].tolist() == [-1.0, -1.0, 1.0]


def test_one_preprocessor_handles_frames_of_different_sizes(frame):
    pre = make_preprocessor(spec())
    for f in (frame, frame[:240, :320], frame):
        np.testing.assert_allclose(pre(f), reference(f, spec()), atol=0.5 / 255 + 1e-5)


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((48, 64, 3), np.float32), ValueError, r"'front'.*\(H, W, 3\) uint8.*float32 \(48, 64, 3\)"),
    (np.zeros((48, 64), np.uint8), ValueError, r"uint8 \(48, 64\)"),
    (np.zeros((48, 64, 4), np.uint8), ValueError, r"uint8 \(48, 64, 4\)"),
    (np.zeros((0, 64, 3), np.uint8), ValueError, r"uint8 \(0, 64, 3\)"),
    ([[0, 0, 0]], TypeError, "got list"),
])
def test_bad_frames_are_refused(bad, error, message):
    with pytest.raises(error, match=message):
        make_preprocessor(spec())(bad)


def test_a_crop_that_does_not_fit_names_the_crop_and_the_frame():
    pre = make_preprocessor(spec(crop=(10, 20, 400, 480)))
    with pytest.raises(ValueError, match=r"crop .* = \[10, 20, 400, 480\] does not fit in the 240x320"):
        pre(np.zeros((240, 320, 3), np.uint8))


def test_huge_frames_use_a_wide_integral_image():
    """Above ~8.4 Mpx an int32 integral image of a white frame would overflow (~0.3 GB briefly)."""
    white = np.full((2910, 2910, 3), 255, np.uint8)
    assert make_preprocessor(spec())(white).min() == pytest.approx(1.0, abs=1e-6)


def test_importing_cameras_loads_no_cv2_and_starts_nothing():
    probe = ("import sys, threading; n = threading.active_count(); import vla_lite.cameras; "
             "print('cv2' in sys.modules, threading.active_count() - n)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0"]
