"""`vla-lite view EPISODE --out ep.mp4` (or ep.png): one episode as a person reviewing a run would rather see it.

    vla-lite view runs/recorded/episode_000003 --out ep3.mp4     # a recorded episode, every tick
    vla-lite view runs/recorded/episode_000003 --out ep3.png     # a strip of frames over the same plots
    vla-lite view data/so101_pick --episode 4 --out ep4.mp4      # an episode of any dataset vla-lite reads

Top: every camera's frame side by side. Below: the state and the commanded actions per joint over time (dashed: the
policy's prediction before safety, when recorded). For a vla-lite recording, ticks where the arm held are shaded
(with the reason in the legend) and ticks where safety changed the command (a clamp: commanded != predicted) are
marked. The mp4 moves a cursor along the plots in time with the frames (H.264 via PyAV, at the episode's rate).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets.episode import DatasetError

USER_ERRORS = (DatasetError,)  # the CLI prints these as one line (vla_lite/cli.py)
STRIP_FRAMES = 8  # frames in a PNG strip


@dataclass
class Timeline:
    """What is drawn: (N,) times, (N, S) state, (N, D) commanded [and predicted], per-tick holds and clamps, and
    frame(camera, i) -> (H, W, 3) or None."""
    title: str
    t_s: np.ndarray
    state: np.ndarray
    state_names: list
    commanded: np.ndarray
    predicted: np.ndarray | None
    action_names: list
    held: np.ndarray
    reasons: list
    cameras: list
    frame: object
    fps: float

    @property
    def clamped(self) -> np.ndarray:
        """(N,) ticks where safety sent something other than the prediction."""
        if self.predicted is None:
            return np.zeros(len(self.t_s), bool)
        both = np.isfinite(self.predicted).all(axis=1) & np.isfinite(self.commanded).all(axis=1)
        return both & (np.abs(self.predicted - self.commanded).max(axis=1, initial=0) > 1e-9)


def from_recording(path: Path) -> Timeline:
    from vla_lite.recording import EpisodeCorrupt, read_episode

    try:
        rec = read_episode(path)
    except (EpisodeCorrupt, FileNotFoundError) as exc:
        raise DatasetError(f"{path}: {exc}") from None
    t, m = rec.ticks, rec.meta
    names = lambda sec, w: ((m.get(sec) or {}).get("names") or [f"{sec}_{i}" for i in range(w)])  # noqa: E731
    return Timeline(f"{path.name}: {rec.instructions[0]!r} (ended: {m.get('ended', 'partial')}, success: "
                    f"{m.get('success')})", t["t_s"] - t["t_s"][0], t["state"], names("state", t["state"].shape[1]),
                    t["commanded"], t["predicted"], names("action", t["commanded"].shape[1]), t["held"],
                    [r or "" for r in t["reason"]], list(rec.cameras),
                    lambda cam, i: rec.frame_for_tick(cam, i), float(m["rate_hz"]))


def from_dataset(path: str, index: int, options: dict) -> Timeline:
    from .datasets import open_dataset

    ep = open_dataset(path, **options).episode(index)
    n = len(ep)
    return Timeline(f"{Path(path).name} episode {ep.index}: {ep.instruction!r}", ep.timestamps, ep.state,
                    ep.meta.get("state_names") or [f"s{i}" for i in range(ep.state.shape[1])], ep.actions, None,
                    ep.meta.get("action_names") or [f"a{i}" for i in range(ep.actions.shape[1])], np.zeros(n, bool),
                    [""] * n, list(ep.frames), lambda cam, i: ep.frames[cam][i], ep.fps)


def _spans(mask: np.ndarray):
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return zip(edges[::2], edges[1::2])


def figure(tl: Timeline, strip: bool):
    """(fig, image axes per camera or per strip frame, plot axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = STRIP_FRAMES if strip else max(1, len(tl.cameras))
    fig = plt.figure(figsize=(max(8, 1.6 * cols), 7.5 if tl.cameras else 5), dpi=100)
    grid = fig.add_gridspec(3 if tl.cameras else 2, cols, height_ratios=[1.1, 1, 1][-(3 if tl.cameras else 2):])
    images = [fig.add_subplot(grid[0, c]) for c in range(cols)] if tl.cameras else []
    for ax in images:
        ax.set_axis_off()
    row = 1 if tl.cameras else 0
    plots = [fig.add_subplot(grid[row, :]), fig.add_subplot(grid[row + 1, :])]
    for ax, values, names, label in ((plots[0], tl.state, tl.state_names, "state"),
                                     (plots[1], tl.commanded, tl.action_names, "commanded")):
        for j in range(values.shape[1]):
            line, = ax.plot(tl.t_s, values[:, j], lw=1.2, label=str(names[j]) if j < len(names) else str(j))
            if label == "commanded" and tl.predicted is not None:
                ax.plot(tl.t_s, tl.predicted[:, j], lw=0.8, ls="--", color=line.get_color())
        ax.set_ylabel(label)
        for a, b in _spans(tl.held):
            ax.axvspan(tl.t_s[a], tl.t_s[min(b, len(tl.t_s) - 1)], color="tab:red", alpha=0.12, lw=0)
    clamped = tl.clamped
    if clamped.any():
        lo = plots[1].get_ylim()[0]
        plots[1].plot(tl.t_s[clamped], np.full(clamped.sum(), lo), "v", color="tab:orange", ms=5, label="clamped")
    held_why = Counter(r for r, h in zip(tl.reasons, tl.held) if h)
    if held_why:
        plots[0].plot([], [], color="tab:red", alpha=0.3, lw=6,
                      label="held: " + "; ".join(f"{r or '?'} x{n}" for r, n in held_why.most_common(2)))
    for ax in plots:
        ax.legend(loc="upper right", fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    plots[1].set_xlabel("time (s)")
    fig.suptitle(tl.title, fontsize=10)
    fig.tight_layout()
    return fig, images, plots


def _show(ax, image, label: str):
    ax.clear()
    ax.set_axis_off()
    if image is not None:
        ax.imshow(image)
    ax.set_title(label, fontsize=8)


def render_png(tl: Timeline, out: Path) -> None:
    fig, images, plots = figure(tl, strip=True)
    ticks = np.unique(np.linspace(0, len(tl.t_s) - 1, STRIP_FRAMES).round().astype(int))
    for ax, i in zip(images, ticks):
        frames = [tl.frame(c, int(i)) for c in tl.cameras]
        frames = [f for f in frames if f is not None]
        _show(ax, np.concatenate(frames, axis=1) if frames else None, f"t = {tl.t_s[i]:.2f} s")
        for p in plots:
            p.axvline(tl.t_s[i], color="k", lw=0.5, alpha=0.4)
    fig.savefig(out)


def render_mp4(tl: Timeline, out: Path, progress: bool) -> int:
    from vla_lite.progress import progress_bar

    from .datasets.video_encode import VideoCodec, encode_frames

    fig, images, plots = figure(tl, strip=False)
    cursors = [p.axvline(0.0, color="k", lw=1) for p in plots]
    bar = progress_bar(len(tl.t_s), progress, unit="frame", desc="rendering")

    def frames():
        for i in range(len(tl.t_s)):
            for ax, cam in zip(images, tl.cameras):
                _show(ax, tl.frame(cam, i), f"{cam}  t = {tl.t_s[i]:.2f} s" + ("  HELD" if tl.held[i] else ""))
            for c in cursors:
                c.set_xdata([tl.t_s[i]])
            fig.canvas.draw()
            rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
            if bar is not None:
                bar.update(1)
            yield rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]  # even sizes for yuv420p

    n = encode_frames(frames(), out, tl.fps, VideoCodec.H264)
    if bar is not None:
        bar.close()
    return n


def add_arguments(parser) -> None:
    from .datasets import add_dataset_arguments

    parser.add_argument("episode", help="a recorded episode folder (episode_NNNNNN), or a dataset with --episode")
    parser.add_argument("--episode", dest="index", type=int, help="episode position (0-based) in a dataset")
    parser.add_argument("--out", required=True, help="ep.mp4 (frames and a moving cursor) or ep.png (a strip)")
    add_dataset_arguments(parser)


def run(args) -> int:
    from vla_lite.recording.format import parse_episode_dir

    out, path = Path(args.out), Path(args.episode)
    if out.suffix not in (".mp4", ".png"):
        raise DatasetError(f"--out {out}: expected a .mp4 or .png file name")
    if args.index is None and parse_episode_dir(path.name) is not None and path.is_dir():
        tl = from_recording(path)
    else:
        from .datasets import dataset_options

        tl = from_dataset(args.episode, args.index or 0, dataset_options(args))
    if not len(tl.t_s):
        raise DatasetError(f"{args.episode}: the episode has no rows to show")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        render_png(tl, out)
    else:
        render_mp4(tl, out, progress=sys.stderr.isatty())
    print(f"{out}: {len(tl.t_s)} ticks, {int(tl.held.sum())} held, {int(tl.clamped.sum())} clamped")
    return 0
