"""The live camera against the bundle's record of its training camera (vla_lite/camera_contract.py), through the
command line: a recording made over a virtual SO-101 bus with a folder of 64x48 frames is trained on with
`--camera-intrinsics` (its frames undistorted as the runtime undistorts them) and exported; `vla-lite run` then
refuses what cannot feed that policy (no intrinsics, intrinsics of another resolution, a crop that does not fit)
and warns, naming the camera, both values and the fix, when the picture differs (another resolution, another
lens). The undistortion applied in training and at run time is one implementation: the same recorded frame comes
out identical from both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from servo_fixtures import quick_thread_switches  # noqa: F401  (a fixture)
from servo_run_fixtures import servo_bundle, virtual_calibration, write_calibration
from vla_lite.bundle import load_bundle, write_bundle
from vla_lite.calib.camera_intrinsics import CameraIdentity, CameraIntrinsics, load_intrinsics, save_intrinsics
from vla_lite.firmware_bridge.servo.serve import serve_pty
from vla_lite.models import DEMO_BUNDLE

INSTRUCTION = "touch the red block"
W, H = 64, 48  # the recording camera's frames


def lens(w: int, h: int, focal_scale: float = 1.0) -> CameraIntrinsics:
    """A wide USB lens (barrel distortion) at w x h px; focal_scale > 1: a longer lens."""
    f = 0.95 * w * focal_scale
    K = ((f, 0.0, w / 2 - 0.5), (0.0, f, h / 2 + 1.0), (0.0, 0.0, 1.0))
    return CameraIntrinsics(K, (-0.28, 0.11, 0.0012, -0.0008, -0.02), (w, h), 0.21, (0.2, 0.22), "9x6", 25.0,
                            CameraIdentity("test", (w, h)), "2026-12-08T00:00:00Z")


def grid_folder(path: Path, w: int = W, h: int = H, n: int = 4) -> Path:
    """Frames of a bright grid on a dark ground, shifted per frame: straight lines a lens bends."""
    import cv2

    path.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        img = np.full((h, w, 3), 30, np.uint8)
        img[(np.arange(h) + k) % 8 == 0] = 220
        img[:, (np.arange(w) + 2 * k) % 8 == 0] = (200, 120, 40)
        cv2.imwrite(str(path / f"{k:03d}.png"), img)
    return path


def vla(*args, timeout=300, env=None):
    return subprocess.run([sys.executable, "-m", "vla_lite", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def run_on_bus(bundle, cal_file, frames, *extra, duration="1"):
    with serve_pty("so101") as server:
        return vla("run", "--port", server.port, "--arm", "so101", "--calibration", cal_file, "--model", bundle,
                   "--camera", frames, "--instruction", INSTRUCTION, "--duration", duration, "--quiet", *extra,
                   timeout=120)


def record_trainable(run_once, rec: Path, episodes: int = 2, runs: int = 6) -> None:
    """Record one episode per run until `episodes` are trainable as they are: export's parity set is an episode of
    its own, and on a loaded machine a run may hold a tick for a late arm state (that episode is then dropped)."""
    for _ in range(runs):
        out = run_once()
        assert out.returncode == 0, out.stderr
        report = vla("dataset", rec, "--json")
        if json.loads(report.stdout)["kept"] >= episodes:
            return
    raise AssertionError(f"{runs} runs recorded fewer than {episodes} trainable episodes: {report.stdout[-2000:]}")


def camera_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "camera 'front'" in line]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(root, recording, camera file, checkpoint, exported bundle, calibration file): two short runs recorded over
    the bus, a nano student trained on them with --camera-intrinsics, exported to ONNX fp32."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("camera_contract")
    cal_file = write_calibration(root / "cal.json", virtual_calibration("so101"))
    plain = servo_bundle(root / "plain.vla", "so101")
    frames, cam = grid_folder(root / "frames"), save_intrinsics(root / "cam.json", lens(W, H))
    rec = root / "rec"
    record_trainable(lambda: run_on_bus(plain, cal_file, frames, "--record", rec, duration="2"), rec)
    ckpt, bundle = root / "s.safetensors", root / "s.vla"
    out = vla("train", "--data", rec, "--camera-intrinsics", f"front={cam}", "--size", "nano", "--steps", "3",
              "--batch", "8", "--out", ckpt, "--json")
    assert out.returncode == 0, out.stderr
    out = vla("export", ckpt, "--calib", rec, "--format", "onnx", "--precision", "fp32", "-o", bundle)
    assert out.returncode == 0, out.stderr
    return root, rec, cam, ckpt, bundle, cal_file


def test_the_bundle_records_the_training_camera_and_its_undistortion(trained):
    root, rec, cam, ckpt, bundle, _ = trained
    (spec,) = load_bundle(bundle).manifest.cameras
    assert spec.undistort and spec.captured_size == (W, H)
    assert spec.intrinsics.camera_matrix == load_intrinsics(cam).camera_matrix
    assert spec.intrinsics.dist == load_intrinsics(cam).dist and spec.intrinsics.image_size == (W, H)
    assert "trained on 64x48 px frames, undistorted (fx 60.8, fy 60.8)" in vla("info", bundle).stdout


def test_a_frame_is_undistorted_identically_in_training_and_at_run_time(trained):
    """The offline path (SampleMaker over the checkpoint's cameras: what train and export's parity set use) and the
    runtime (the preprocessors Runtime builds from the bundle and the live camera's file) on the same recorded
    frames: identical, and not the plain preprocessing."""
    from vla_lite.camera_contract import LiveCamera, camera_preprocessors
    from vla_lite.cameras.preprocess import make_preprocessor
    from vla_lite.export.checkpoint import load_checkpoint
    from vla_lite.export.datasets import open_dataset
    from vla_lite.export.datasets.windows import SampleMaker

    root, rec, cam, ckpt, bundle, _ = trained
    c = load_checkpoint(ckpt)
    offline = SampleMaker(c.cameras, c.normalization, 2, embed=lambda text: np.zeros(1, np.float32))
    manifest = load_bundle(bundle).manifest
    runtime = camera_preprocessors(manifest, {"front": LiveCamera("test", (W, H), load_intrinsics(cam), str(cam))})
    plain = make_preprocessor(manifest.cameras[0])
    ep = open_dataset(rec).episode(0)
    for t in (0, len(ep) // 2, len(ep) - 1):
        frame = ep.frames["front"][t]
        assert frame.shape == (H, W, 3)
        got = runtime["front"](frame)[0]
        np.testing.assert_array_equal(offline(ep, t)["image_front"], got)
        assert np.abs(got - plain(frame)[0]).max() > 0.1  # undistortion moved the grid lines


def test_run_refuses_what_cannot_feed_the_policy_and_says_what_differs(trained, tmp_path, quick_thread_switches):
    root, rec, cam, ckpt, bundle, cal_file = trained
    frames = root / "frames"
    # No intrinsics for a camera the policy was trained on undistorted: refused before the arm, with the fix.
    out = run_on_bus(bundle, cal_file, frames)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "camera 'front' (--camera " in out.stderr and "expects frames undistorted" in out.stderr
    assert "fx 60.8" in out.stderr and "--camera-intrinsics front=cam.json" in out.stderr

    # Intrinsics calibrated at another resolution cannot undistort these frames: refused, both sizes named.
    big = save_intrinsics(tmp_path / "big.json", lens(640, 480))
    out = run_on_bus(bundle, cal_file, frames, "--camera-intrinsics", big)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "delivers 64x48 px frames" in out.stderr and "calibrated at 640x480" in out.stderr
    assert "set the camera to 640x480 or calibrate it again at 64x48" in out.stderr

    # The training camera's own file: no word about the camera.
    out = run_on_bus(bundle, cal_file, frames, "--camera-intrinsics", f"front={cam}")
    assert out.returncode == 0 and camera_lines(out.stderr) == [], out.stderr

    # Another lens (10 % longer): it runs, with one warning naming both calibrations.
    longer = save_intrinsics(tmp_path / "longer.json", lens(W, H, 1.1))
    out = run_on_bus(bundle, cal_file, frames, "--camera-intrinsics", longer)
    assert out.returncode == 0, out.stderr
    (warning,) = camera_lines(out.stderr)
    assert "WARNING" in warning and "fx 66.9" in warning and "fx 60.8" in warning and "longer.json" in warning

    # Another resolution with its own (same lens) calibration: it runs, with one warning naming both sizes.
    out = run_on_bus(bundle, cal_file, grid_folder(tmp_path / "frames80", 80, 60), "--camera-intrinsics",
                     save_intrinsics(tmp_path / "cam80.json", lens(80, 60)))
    assert out.returncode == 0, out.stderr
    (warning,) = camera_lines(out.stderr)
    assert "delivers 80x60 px frames" in warning and "trained on 64x48 px frames" in warning
    assert "set the camera to 64x48" in warning and "stretched" not in warning  # 4:3 both


def test_intrinsics_for_a_policy_trained_on_raw_frames_are_not_applied(tmp_path, quick_thread_switches):
    bundle = servo_bundle(tmp_path / "raw.vla", "so101")
    cal_file = write_calibration(tmp_path / "cal.json", virtual_calibration("so101"))
    cam = save_intrinsics(tmp_path / "cam.json", lens(W, H))
    out = run_on_bus(bundle, cal_file, grid_folder(tmp_path / "frames"), "--camera-intrinsics", cam)
    assert out.returncode == 0, out.stderr
    (note,) = camera_lines(out.stderr)
    assert "is not applied" in note and "raw (not undistorted) frames" in note


def demo_variant(path: Path, **camera) -> Path:
    """The shipped demo bundle with its camera record edited (camera keys added)."""
    demo = load_bundle(DEMO_BUNDLE)
    manifest = demo.manifest.to_dict()
    manifest["cameras"][0].update(camera)
    return write_bundle(path, manifest, {name: demo.read(name) for name in demo.manifest.members})


@pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason="no demo bundle")
def test_the_simulated_camera_at_another_resolution_is_said_and_a_crop_that_cannot_fit_refused(tmp_path):
    size = load_bundle(DEMO_BUNDLE).manifest.cameras[0].height  # the world renders the bundle camera's size
    out = vla("run", "--port", "sim", "--model", demo_variant(tmp_path / "vga.vla", captured_size=[640, 480]),
              "--duration", "1", "--quiet", "--report", tmp_path / "r.json")
    assert out.returncode == 0, out.stderr
    (warning,) = camera_lines(out.stderr)
    assert warning.startswith("vla-lite run: WARNING: camera 'front' (--port sim)")
    assert f"delivers {size}x{size} px frames" in warning and "trained on 640x480 px frames" in warning
    assert "stretched (another aspect ratio)" in warning and "set the camera to 640x480" in warning
    assert any("640x480" in note for note in json.loads((tmp_path / "r.json").read_text())["notes"])

    out = vla("run", "--port", "sim", "--model", demo_variant(tmp_path / "crop.vla", crop=[0, 0, 2 * size, size]),
              "--duration", "1", "--quiet")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"delivers {size}x{size} px frames" in out.stderr and f"needs at least {size}x{2 * size}" in out.stderr


def test_train_names_a_bad_camera_intrinsics_value_or_file_in_one_line(trained, tmp_path):
    root, rec, cam, *_ = trained
    big = save_intrinsics(tmp_path / "big.json", lens(640, 480))
    (tmp_path / "junk.json").write_text("{}")
    for value, words in ((f"side={cam}", ["names camera 'side'", "['front']"]),
                         (str(big), ["calibrated at 640x480 px", "frames in the data are 64x48"]),
                         (str(tmp_path / "junk.json"), ["junk.json", "vla-lite-camera-intrinsics"])):
        out = vla("train", "--data", rec, "--camera-intrinsics", value, "--size", "nano", "--steps", "1", "--out",
                  tmp_path / "x.safetensors")
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        line = out.stderr.strip().splitlines()[-1]
        assert line.startswith("vla-lite train: ") and all(w in line for w in words), out.stderr
