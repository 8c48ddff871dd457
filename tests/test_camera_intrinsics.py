"""Camera intrinsics from synthetic chessboard views rendered through a known camera (tests/chessboard_render.py):
recovered focal lengths and principal point within 1 %, RMS below 0.5 px; view acceptance (board found, sharp,
moved); undistortion straightens a rendered straight-line grid; a bundle camera asking for undistorted input."""

import json

import cv2
import numpy as np
import pytest

from vla_lite.bundle.manifest import CameraSpec
from vla_lite.calib.camera_intrinsics import CameraIdentity, calibrate_camera, load_intrinsics, save_intrinsics
from vla_lite.calib.chessboard import ViewCollector, parse_board
from vla_lite.calib.errors import CalibrationFileError
from vla_lite.cameras.errors import CameraError
from vla_lite.cameras.preprocess import make_preprocessor
from vla_lite.cameras.undistort import Undistorter, make_camera_preprocessor
from vla_lite.cli import main

from chessboard_render import (DIST_TRUE, K_TRUE, SIZE_WH, calibration_poses, line_straightness_px, render_board,
                               render_lines)

COLS, ROWS, SQ = 9, 6, 25.0


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """Rendered views in a folder (plus a blurred one and one without a board), calibrated through the CLI."""
    folder = tmp_path_factory.mktemp("shots")
    for i, (r, t) in enumerate(calibration_poses(14, COLS, ROWS, SQ, seed=1)):
        cv2.imwrite(str(folder / f"view_{i:02d}.png"), cv2.cvtColor(render_board(COLS, ROWS, SQ, r, t), cv2.COLOR_RGB2BGR))
    r, t = calibration_poses(1, COLS, ROWS, SQ, seed=99)[0]
    cv2.imwrite(str(folder / "x_blurred.png"), cv2.GaussianBlur(render_board(COLS, ROWS, SQ, r, t), (0, 0), 2.5))
    cv2.imwrite(str(folder / "y_empty.png"), np.full((SIZE_WH[1], SIZE_WH[0], 3), 120, np.uint8))
    return folder, folder.parent / "cam.json"


@pytest.fixture(scope="module")
def intrinsics(calibrated):
    """The same views calibrated through the library, not the CLI."""
    folder, _ = calibrated
    board = parse_board("9x6", SQ)
    frames = (cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.png")))
    c = ViewCollector(board).offer_all(frames)
    return calibrate_camera(c.views, board, c.image_size, CameraIdentity(str(folder), c.image_size))


def test_recovers_known_intrinsics_from_rendered_views(calibrated, capsys):
    folder, out = calibrated
    assert main(["calibrate-camera", "--camera", str(folder), "--board", "9x6", "--square-mm", "25",
                 "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    for key, true in (("fx", K_TRUE[0, 0]), ("fy", K_TRUE[1, 1]), ("cx", K_TRUE[0, 2]), ("cy", K_TRUE[1, 2])):
        assert s[key] == pytest.approx(true, rel=0.01), key
    assert s["rms_px"] < 0.5 and len(s["per_view_px"]) == s["views"] == 14 and max(s["per_view_px"]) < 0.5
    assert s["rejected"] == {"no board": 1, "blurred": 1, "not moved": 0} and s["frames"] == 16
    assert s["image_size"] == [640, 480] and len(s["dist"]) == 5
    assert s["dist"][0] == pytest.approx(DIST_TRUE[0], abs=0.03)  # k1 dominates this lens
    intr = load_intrinsics(out)
    assert intr.camera.source == str(folder) and intr.camera.resolution == (640, 480) and intr.board == "9x6"
    assert intr.fx == s["fx"] and intr.rms_px == s["rms_px"]


def test_text_report_and_refusals(calibrated, capsys, tmp_path):
    folder, _ = calibrated
    assert main(["calibrate-camera", "--camera", str(folder), "--square-mm", "25", "--out", str(tmp_path / "c.json")]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert captured.err.count("last: accepted") == 14  # not a terminal: one progress line per accepted view
    assert "RMS reprojection error" in text and "per view (frame: RMS px)" in text and "coverage" in text
    assert main(["calibrate-camera", "--camera", str(folder), "--board", "9by6", "--square-mm", "25", "--json"]) == 1
    assert "expected COLSxROWS" in capsys.readouterr().err
    assert main(["calibrate-camera", "--camera", str(folder), "--board", "8x5", "--square-mm", "25", "--json"]) == 1
    assert "0 usable view(s) of the 8x5 board" in capsys.readouterr().err


def test_views_are_accepted_only_found_sharp_and_moved():
    r, t = calibration_poses(1, COLS, ROWS, SQ, seed=5)[0]
    sharp = render_board(COLS, ROWS, SQ, r, t)
    c = ViewCollector(parse_board("9x6", 25), min_motion_px=20)
    assert c.offer(sharp) == "accepted" and c.views[0].sharpness > 200
    assert c.offer(cv2.GaussianBlur(sharp, (0, 0), 2.5)) == "blurred"
    assert c.offer(np.full_like(sharp, 128)) == "no board"
    assert c.offer(sharp) == "not moved"
    assert c.offer(render_board(COLS, ROWS, SQ, r, t + np.array([60.0, 0, 0]))) == "accepted"
    assert len(c.views) == 2 and 0 < c.coverage.fraction < 1 and set(c.coverage.map()) <= set("#.\n")
    with pytest.raises(Exception, match="640x480"):
        c.offer(sharp[:240])


@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_undistortion_makes_rendered_lines_straight(intrinsics, direction):
    lines = render_lines(direction)
    before = line_straightness_px(lines, direction)
    after = line_straightness_px(Undistorter(intrinsics)(lines), direction)
    assert before > 2.0 and after < 0.25 and after < before / 10, (before, after)  # here 3.4|2.5 -> 0.15|0.13 px


def test_bundle_camera_asking_for_undistorted_input(intrinsics):
    intr = intrinsics
    plain = CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None)
    asks = CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None, undistort=True)
    frame = render_lines("horizontal")
    assert np.array_equal(make_camera_preprocessor(plain, intr)(frame), make_preprocessor(plain)(frame))
    with pytest.raises(CameraError, match="'front' expects undistorted frames"):
        make_camera_preprocessor(asks, None)
    got = make_camera_preprocessor(asks, intr)(frame)
    assert np.array_equal(got, make_preprocessor(asks)(Undistorter(intr)(frame)))
    assert not np.array_equal(got, make_preprocessor(plain)(frame))
    with pytest.raises(CameraError, match="delivers 320x240 px frames but its intrinsics were calibrated at 640x480"):
        make_camera_preprocessor(asks, intr)(frame[::2, ::2].copy())


def test_intrinsics_file_round_trip(intrinsics, tmp_path):
    assert load_intrinsics(save_intrinsics(tmp_path / "cam.json", intrinsics)) == intrinsics
    assert intrinsics.fx == pytest.approx(K_TRUE[0, 0], rel=0.01)


def test_manifest_undistort_flag_round_trips_and_is_absent_by_default():
    from bundle_factory import base_manifest
    from vla_lite.bundle.manifest import Manifest, ManifestInvalid

    d = {**base_manifest(), "members": {}}
    m = Manifest.from_dict(d)
    assert not m.cameras[0].undistort and "undistort" not in m.to_dict()["cameras"][0]  # old bundles unchanged
    d["cameras"][0]["undistort"] = True
    m = Manifest.from_dict(d)
    assert m.cameras[0].undistort and Manifest.from_dict(m.to_dict()) == m
    d["cameras"][0]["undistort"] = "yes"
    with pytest.raises(ManifestInvalid, match="undistort"):
        Manifest.from_dict(d)


def test_intrinsics_file_errors(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CalibrationFileError, match="vla-lite-camera-intrinsics"):
        load_intrinsics(tmp_path / "bad.json")
    with pytest.raises(CalibrationFileError, match="does not exist"):
        load_intrinsics(tmp_path / "none.json")


def test_live_collection_stops_at_the_target_and_skips_repeats(calibrated):
    from vla_lite.calibrate_camera_cli import collect
    from vla_lite.cameras.opencv_sources import ImageFolderSource

    folder, _ = calibrated
    source = ImageFolderSource(folder, fps=None, loop=True)  # loops forever, like a camera
    c = ViewCollector(parse_board("9x6", SQ), min_motion_px=20)
    lines = []
    collect(source, c, live=True, target=5, max_seconds=60, status=lambda line, verdict: lines.append(line))
    source.close()
    assert len(c.views) == 5 and c.seen == 5 and "views 5/5" in lines[-1] and "coverage" in lines[-1]
    c2 = ViewCollector(parse_board("9x6", SQ), min_motion_px=20)
    same = render_board(COLS, ROWS, SQ, *calibration_poses(1, COLS, ROWS, SQ, seed=5)[0])

    class Still:  # a camera that keeps seeing the same board: nothing new after the first view
        def grab(self):
            return same

    collect(Still(), c2, live=True, target=3, max_seconds=0.5, status=lambda line, verdict: None)
    assert len(c2.views) == 1 and c2.rejected["not moved"] >= 1
