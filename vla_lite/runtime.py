"""Wire a bundle, an arm link, cameras, an executor and the safety filter into a ControlLoop.

`RunConfig` is everything `vla-lite run` takes from the command line (what belongs to the model — shapes, joint
order, units, rate, chunk, normalisation — comes from the bundle). `Runtime.open(cfg)` builds and checks every
part in order (bundle, link + compatibility, backend, text encoder, cameras, executor, safety) and closes what it
already opened if a later part fails. Vendors embedding vla-lite can build the same parts themselves; see README.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from .bundle import check_compatible, load_bundle
from .firmware_bridge import protocol as p
from .firmware_bridge.link import ArmLink
from .loop import ControlLoop, LoopConfig
from .models import DEMO_BUNDLE, resolve  # noqa: F401 (DEMO_BUNDLE: re-exported, the README imports it here)
from .ports import PortKind, open_world, parse_port
from .safety import DEFAULT_RAMP_S
from .text.grounding import MIN_SIMILARITY
from .worlds.base import World, WorldOptions



@dataclass(frozen=True)
class RunConfig:
    port: str  # a serial device / pyserial URL, or a simulated world's port (vla_lite.ports)
    model: str | None = None  # a .vla path or a shipped model's name (vla_lite.models); None: the demo model
    cameras: tuple[str, ...] = ()  # --camera values ("0", "front=/dev/video2", "clip.mp4", ...)
    camera_intrinsics: tuple[str, ...] = ()  # --camera-intrinsics values ("cam.json", "front=cam.json")
    rate_hz: float | None = None  # None: the bundle's control.rate_hz; else an integer multiple (interpolated)
    runtime: str = "onnx"
    precision: str | None = None  # None: int8 if the bundle has it, else fp32
    threads: int = 1
    execution: str = "replan"  # replan | refill | ensemble
    refill_threshold: float = 0.5
    blend: tuple[float, float] | None = None
    ensemble_coeff: float = 0.01
    async_inference: bool = False
    max_frame_age_s: float = 0.5
    speed_scale: float = 1.0
    ramp_s: float = DEFAULT_RAMP_S
    clear_faults: bool = False
    baudrate: int | None = None  # None: 1 Mbps to a vla-lite controller, the arm profile's on a servo bus
    arm: str | None = None  # a servo bus's arm profile (so100, so101, koch or a JSON file): --port is that bus
    calibration: str | None = None  # the servo arm's calibration file; None: the arm's default (calib.user_files)
    on_exit: str = "hold"  # servo arm: torque on exit, SIGTERM and link loss (vla_lite.servo_arm.TorquePolicy)
    record_dir: str | None = None
    seed: int = 0
    sim_camera_fps: float | None = 30.0  # None: render on demand in read() (lockstep evaluation)
    sim_size_px: int | None = None  # None: the bundle camera's size
    sim_split: str = "train"  # phrasings of simulated episodes: "train", "paraphrase" or "heldout"
    episode_timeout_s: float = 10.0  # simulated episodes end as failures after this
    instruction_grounding: bool = True  # snap to the bundle's nearest trained phrasing (vla_lite.text.grounding)
    min_instruction_similarity: float = MIN_SIMILARITY  # cosine below which an instruction is refused

    def bundle_path(self) -> Path:
        return resolve(self.model)


def tick_rate(bundle_rate_hz: float, requested_hz: float | None) -> tuple[float, int]:
    """(loop rate, interpolation factor). The loop may run at an integer multiple of the policy's rate; commands
    in between are interpolated (never extrapolated)."""
    if requested_hz is None:
        return bundle_rate_hz, 1
    if not 0 < requested_hz <= 1000:
        raise ValueError(f"--rate must be in (0, 1000] Hz, got {requested_hz!r}")
    factor = requested_hz / bundle_rate_hz
    k = round(factor)
    if k < 1 or abs(factor - k) > 1e-6:
        raise ValueError(f"--rate {requested_hz:g} Hz is not an integer multiple of the bundle's {bundle_rate_hz:g} "
                         f"Hz (the rate the policy was trained at); use {bundle_rate_hz:g}, "
                         f"{2 * bundle_rate_hz:g}, {3 * bundle_rate_hz:g} ... (commands are interpolated)")
    return float(requested_hz), k


@dataclass
class Runtime:
    config: RunConfig
    bundle: object
    link: ArmLink
    loop: ControlLoop
    factor: int  # loop ticks per policy step (commands in between are interpolated)
    backend: str
    rig: World | None = None  # the simulated world the port names (vla_lite.ports), None for a real arm
    scene: object | None = None  # `--camera sim` on a real port: the rendered scene, told each instruction
    closers: list = field(default_factory=list)  # close() callables, in opening order
    notes: list = field(default_factory=list)

    @property
    def rate_hz(self) -> float:
        """The loop's rate (its config holds it)."""
        return self.loop.config.rate_hz

    @classmethod
    def open(cls, cfg: RunConfig, clock=time.monotonic) -> "Runtime":
        closers: list = []
        try:
            return cls._open(cfg, clock, closers)
        except BaseException:
            for close in reversed(closers):
                _quietly(close)
            raise

    @classmethod
    def _open(cls, cfg: RunConfig, clock, closers: list) -> "Runtime":
        from .backends import open_backend
        from .camera_contract import camera_preprocessors, check_cameras
        from .cameras import parse_camera_args
        from .runtime_cameras import live_cameras, load_camera_intrinsics, open_run_cameras

        port = parse_port(cfg.port, arm=cfg.arm)  # a bad port string is named before anything is loaded
        arm = _arm_profile(cfg) if port.kind is PortKind.BUS else None  # and so is a bad --arm file
        bundle = load_bundle(cfg.bundle_path())
        m = bundle.manifest
        notes = [] if m.trained else [f"UNTRAINED bundle {m.name!r}: random weights, the arm will not do the task"]
        rate_hz, factor = tick_rate(m.rate_hz, cfg.rate_hz)
        loop_config = LoopConfig(rate_hz, max_frame_age_s=cfg.max_frame_age_s)
        intrinsics = load_camera_intrinsics(cfg.camera_intrinsics, [c.name for c in m.cameras])  # a bad file is named before any camera opens
        options = world_options(cfg, m.cameras, clock)
        rig = None
        if port.kind is PortKind.WORLD:
            rig = open_world(port, options)
            closers.append(rig.close)
        precision = cfg.precision or ("int8" if (cfg.runtime, "int8") in bundle.available() else "fp32")
        policy = open_backend(bundle, cfg.runtime, precision, threads=cfg.threads)
        encode = _encoder(cfg, bundle, notes)
        reported = _ReportedPositions()
        # {bundle camera name: --camera source}; None when a simulated world renders every camera
        sources = None if rig is not None else parse_camera_args(list(cfg.cameras), [c.name for c in m.cameras])
        cameras, scene = (dict(rig.cameras), None) if rig is not None else \
            open_run_cameras(sources, options, closers, reported, cfg.seed, clock)
        live = live_cameras(m, cameras, intrinsics, sources, cfg.port, options.size_px)
        notes += check_cameras(m, live)  # before the arm: a camera that cannot feed the policy is refused first
        preprocessors = camera_preprocessors(m, live)
        # The link last: HELLO does not arm the controller's watchdog, the loop's first command does, so slow
        # start-up work above can never trip it.
        if port.kind is PortKind.BUS:
            link = _open_servo_arm(cfg, port, arm, m, clock, notes)
        elif rig is not None and rig.bus_profile is not None:
            link = _open_world_servo_arm(cfg, rig, m, clock, notes)
        else:
            link = ArmLink.open(rig.port if rig is not None else port.arg, timeout_s=2.0,
                                baudrate=cfg.baudrate or 1_000_000, clock=clock)
        closers.append(link.close)
        reported.link = link
        check_compatible(m, link.info)
        notes += _faults_at_start(link, cfg.clear_faults)
        worker = None
        if cfg.async_inference:
            from .inference_worker import InferenceWorker

            worker = InferenceWorker(policy).start()
            closers.append(worker.close)
        recorder = None
        if cfg.record_dir:
            recorder = _recorder(cfg, m, link, cameras, rate_hz, clock)
            closers.append(recorder.close)
        loop = ControlLoop(bundle=bundle, policy=policy, link=link, cameras=cameras, preprocessors=preprocessors,
                           executor=_executor(cfg, m, factor), safety=_safety(cfg, m, link, loop_config.period_s),
                           encoder=encode, recorder=recorder, worker=worker, clock=clock, config=loop_config)
        return cls(cfg, bundle, link, loop, factor, f"{cfg.runtime}-{precision}", rig, scene, closers, notes)

    def close(self) -> None:
        """Reverse opening order. Safe to call twice."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            _quietly(close)


def world_options(cfg: RunConfig, cameras, clock) -> WorldOptions:
    """What a simulated world is opened with: it renders the bundle's cameras (manifest CameraSpecs), by name."""
    return WorldOptions(camera_names=tuple(c.name for c in cameras), size_px=cfg.sim_size_px or cameras[0].height,
                        camera_fps=cfg.sim_camera_fps, max_frame_age_s=cfg.max_frame_age_s, split=cfg.sim_split,
                        episode_timeout_s=cfg.episode_timeout_s, clock=clock)


def _arm_profile(cfg: RunConfig):
    """--arm (a built-in name or a profile file) as the bridge's profile, read as calibrate and doctor read it."""
    from .calib.arm_profiles import load_arm_profile

    return load_arm_profile(cfg.arm).bus


def _open_servo_arm(cfg: RunConfig, port, profile, m, clock, notes: list):
    """A servo bus (vla_lite.servo_arm) through its registered connector, after the calibration is found (the
    file used goes to the notes) and checked against the bundle (vla_lite.calibration_contract)."""
    from .calib.user_files import find_calibration
    from .calibration_contract import check_calibration
    from .ports import opener

    cal, path = find_calibration(profile.name, cfg.calibration, port.arg)
    notes.append(f"calibration {path}" + ("" if cfg.calibration else f" (the {profile.name} default)"))
    notes += check_calibration(m, cal, f"calibration {str(path)!r}")
    return opener(port)(port.arg, profile, cal, baudrate=cfg.baudrate, on_exit=cfg.on_exit, clock=clock)


def _open_world_servo_arm(cfg: RunConfig, rig, m, clock, notes: list):
    """A simulated arm behind a servo bus (so101-sim): the same ServoArm as a real bus, on the rig's pty, with the
    calibration that matches its virtual servos (a user's --calibration is for a real arm, so it is refused). In
    lockstep (evaluation) the bus waits for the simulated servos' answers with a liveness timeout only, as the
    evaluator waits for a vla-lite controller's, so results do not depend on the machine's load."""
    from .calibration_contract import check_calibration
    from .servo_arm import ServoArm

    if cfg.calibration:
        raise ValueError(f"--calibration {cfg.calibration!r} is for a real arm; the simulated {rig.bus_profile} "
                         "brings the calibration of its own servos (drop --calibration)")
    notes += check_calibration(m, rig.calibration, f"the simulated {rig.bus_profile}'s calibration")
    return ServoArm.open(rig.port, rig.bus_profile, rig.calibration, baudrate=cfg.baudrate, on_exit=cfg.on_exit,
                         clock=clock, lockstep=rig.lockstep_peer)


def _encoder(cfg: RunConfig, bundle, notes: list):
    """The instruction encoder: the bundle's, grounded in its trained phrasings unless turned off."""
    from .text import InstructionGrounding, TextEncoder

    encoder = TextEncoder.from_bundle(bundle, threads=1)
    known = bundle.manifest.instruction.known
    if cfg.instruction_grounding and not known:
        notes.append(f"instruction grounding is OFF: bundle {bundle.manifest.name!r} lists no trained phrasings "
                     "(instruction.known), so an instruction unlike them is passed to the policy, not refused")
    if not (cfg.instruction_grounding and known):
        return encoder.encode
    notes.append(f"instructions are grounded in the {len(known)} phrasings the model was trained on "
                 f"(nearest by cosine, refused below {cfg.min_instruction_similarity:.2f}; "
                 "--no-instruction-grounding passes them through)")
    return InstructionGrounding(encoder.encode, known, cfg.min_instruction_similarity)


class _ReportedPositions:
    """The joints the controller reports (the link's newest STATE), for a scene rendered over a real arm; None
    until the link is open and has one."""

    link: ArmLink | None = None

    def __call__(self) -> tuple | None:
        st = self.link.latest_state if self.link is not None else None
        return None if st is None else st.position


def _faults_at_start(link: ArmLink, clear: bool) -> list[str]:
    """Notes on faults the controller reports in the STATE that follows HELLO_ACK (a servo arm names each servo and
    condition); cleared when asked to."""
    from .observation import NamesFaults

    st = link.latest_state
    if st is None or not st.faults:
        return []
    named = link.named_faults() if isinstance(link, NamesFaults) else []
    if named:
        what = "servo faults " + "; ".join(f"{subject} ({detail})" for subject, detail in named)
    else:
        what = "controller faults " + "|".join(f.name for f in p.Fault if st.faults & f)
    if not clear:
        return [f"{what} latched: the arm holds until they are cleared (--clear-faults clears them at start)"]
    link.request(p.ClearFault())
    return [f"{what} cleared at start (--clear-faults)"]


def _executor(cfg: RunConfig, m, factor: int):
    from .execution import make_executor

    opts = {"interpolate": factor}
    if cfg.execution == "refill":
        opts.update(threshold=cfg.refill_threshold, blend=cfg.blend)
    elif cfg.execution == "ensemble":
        opts.update(coeff=cfg.ensemble_coeff)
    return make_executor(cfg.execution, m.chunk.length, m.chunk.replan_every, **opts)


def _safety(cfg: RunConfig, m, link: ArmLink, period_s: float):
    from .safety import SafetyFilter, SafetyLimits

    limits = SafetyLimits.from_bundle_and_arm(m, link.info, period_s, speed_scale=cfg.speed_scale)
    return SafetyFilter(limits, period_s, ramp_s=cfg.ramp_s)


def _recorder(cfg: RunConfig, m, link: ArmLink, cameras: dict, rate_hz: float, clock):
    from .calib.calibration_compare import calibration_fingerprint
    from .calibration_contract import PROVENANCE_KEY
    from .recording import EpisodeRecorder
    from .runtime_cameras import first_frame

    sizes = {name: first_frame(cam).image.shape[:2] for name, cam in cameras.items()}  # recorded as captured
    meta = {"bundle": m.name, "bundle_members": dict(m.members), "controller": link.info.name, "port": cfg.port,
            "action_mode": m.action.mode}
    cal = getattr(link, "calibration", None)  # a servo arm's (vla_lite.servo_arm): its joint angles depend on it
    if cal is not None:  # a bundle trained on these episodes records it (provenance.arm_calibration)
        meta[PROVENANCE_KEY] = calibration_fingerprint(cal)
    return EpisodeRecorder(
        cfg.record_dir, cameras=sizes, state_names=list(m.state.names), action_names=list(m.action.names),
        state_units=list(m.state.units), action_units=list(m.action.units), rate_hz=rate_hz,
        measured_names=list(link.info.joint_names), meta=meta, clock=clock)


def _quietly(close) -> None:
    try:
        close()
    except Exception:  # closing is best effort: one part failing to close must not leave the others open
        pass


def replace(cfg: RunConfig, **changes) -> RunConfig:
    return dataclasses.replace(cfg, **changes)
