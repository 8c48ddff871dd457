"""The run's cameras: opened from `--camera` values, with the intrinsics files `--camera-intrinsics` gives, and
described as vla_lite.camera_contract checks them against the bundle (what feeds each, the size of its frames).

    intrinsics = load_camera_intrinsics(cfg.camera_intrinsics, names)         # {name: (file, CameraIntrinsics)}
    sources = parse_camera_args(cfg.cameras, names)                           # {name: --camera source}
    cameras, scene = open_run_cameras(sources, options, closers, reported, seed, clock)
    live = live_cameras(manifest, cameras, intrinsics, sources, cfg.port, options.size_px)
"""

from __future__ import annotations

import time

from .ports import open_scene, world_scheme

FIRST_FRAME_TIMEOUT_S = 5.0  # a camera that delivers nothing in this long cannot feed the policy


def load_camera_intrinsics(values, camera_names) -> dict:
    """{camera name: (file, CameraIntrinsics)} from `--camera-intrinsics` values (run's and train's); ValueError
    naming a bad value, CalibrationFileError naming a bad file."""
    from .calib.camera_intrinsics import load_intrinsics
    from .cameras import parse_intrinsics_args

    files = parse_intrinsics_args(list(values), list(camera_names))
    return {name: (path, load_intrinsics(path)) for name, path in files.items()}


def open_run_cameras(sources: dict, options, closers: list, reported, seed: int, clock) -> tuple[dict, object | None]:
    """({bundle camera name: camera}, the scene of a `--camera sim` rendered over the real arm, or None) from
    {bundle camera name: source} (cameras.parse_camera_args); each opened camera's close goes to `closers`."""
    from .cameras import open_cameras

    rendered = [(name, spec) for name, spec in sources.items() if world_scheme(spec) is not None]
    if len(rendered) > 1:
        raise ValueError(f"--camera {rendered[1][1]!r}: one simulated camera at most (it renders the one scene)")
    scene = None
    if rendered:
        name, spec = rendered[0]
        scene = open_scene(spec, name, options, reported, seed)
        closers.append(scene.close)
    cameras = open_cameras({n: s for n, s in sources.items() if world_scheme(s) is None}, clock=clock)
    closers.extend(c.close for c in cameras.values())
    if scene is not None:
        cameras[rendered[0][0]] = scene.camera
    return {n: cameras[n] for n in sources}, scene


def live_cameras(m, cameras: dict, intrinsics: dict, sources: dict | None, port: str, rendered_px: int) -> dict:
    """{bundle camera name: LiveCamera}. sources: {bundle camera name: `--camera` source}, or None when a
    simulated world (`port`) renders every camera. A camera's frames are looked at only when the bundle has something to compare
    them with (a training size, a crop, undistortion) or it was given intrinsics; rendered ones are squares of
    rendered_px (the worlds' conformance check holds them to it)."""
    from .camera_contract import LiveCamera
    from .cameras import CameraError, StaleFrame

    live = {}
    for c in m.cameras:
        source = None if sources is None else sources[c.name]
        rendered = source is None or world_scheme(source) is not None
        described = f"--port {port}" if source is None else f"--camera {source}"
        size_wh = None
        if rendered:
            size_wh = (rendered_px, rendered_px)
        elif c.captured_size or c.crop or c.undistort or c.name in intrinsics:
            try:
                size_wh = tuple(first_frame(cameras[c.name]).image.shape[1::-1])
            except StaleFrame as exc:
                raise CameraError(f"camera {c.name!r} ({described}) delivered no frame: {exc}") from None
        path, intr = intrinsics.get(c.name, (None, None))
        live[c.name] = LiveCamera(described, size_wh, intr, path, rendered)
    return live


def first_frame(cam, timeout_s: float = FIRST_FRAME_TIMEOUT_S):
    """The camera's first frame, waited for up to timeout_s (real time); StaleFrame when none came."""
    from .cameras.base import StaleFrame

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return cam.read()
        except StaleFrame:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
