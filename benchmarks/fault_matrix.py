"""Long-run fault matrix: the `vla-lite run --port sim` runtime at 50 Hz while drop / corrupt / delay / junk bursts
on the real link and a camera stall cycle (vla_lite.fault_matrix), checking every tick that no command was computed
from bad data.

    python benchmarks/fault_matrix.py                 # 30 min (the issue's long run)
    python benchmarks/fault_matrix.py --seconds 60    # the CI version (one full cycle of phases)

Prints ticks, overruns, holds by reason, faults, commands lost, RSS growth and the bad-data counts, writes
benchmarks/results/fault_matrix.json (or --out) and a PNG beside it, and ends with a verdict line: PASS when no
command came from bad data, every kind of fault had an effect (so the check was exercised), the hold lines were
said, and RSS grew at most --max-rss-growth-mb after the first cycle. Exit status 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1800.0)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--phase-s", type=float, default=5.0, help="length of each phase (10 phases per cycle)")
    ap.add_argument("--max-rss-growth-mb", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=RESULTS / "fault_matrix.json")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from vla_lite.fault_matrix import FaultMatrix
    from vla_lite.progress import progress_bar
    from vla_lite.report import build_report
    from vla_lite.runtime import RunConfig, Runtime
    from vla_lite.session import Session

    said: list[str] = []
    rt = Runtime.open(RunConfig(port="sim", rate_hz=args.rate))
    try:
        session = Session(rt, verbose=False, log=said.append)
        notes = session.prepare()
        matrix = FaultMatrix(rt, phase_s=args.phase_s, seed=args.seed)
        bar = progress_bar(int(args.seconds), unit="s", desc="fault matrix")
        shown = [0]

        def watch(tick):
            matrix.watch(tick)
            if bar is not None and tick.step % int(args.rate) == 0:
                elapsed = int(time.monotonic() - matrix.t0_s)
                bar.update(max(0, min(elapsed, int(args.seconds)) - shown[0]))
                shown[0] = max(shown[0], elapsed)

        t0 = time.perf_counter()
        pacer = session.run(duration_s=args.seconds, watch=watch)
        wall_s = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        status = rt.loop.ledger.exit_status()
        report = build_report(pacer.report(), rt.loop.report(), backend=rt.backend, notes=rt.notes + notes,
                              outcome=status.name.lower(), exit_status=int(status), **session.report())
        host_decoder = vars(rt.link.decoder.stats)
    finally:
        rt.close()
    result = summarize(args, report, matrix.report(), host_decoder, said, wall_s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, allow_nan=True))
    plot(result, args.out.with_suffix(".png"))
    print_summary(result)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0 if result["verdict"]["pass"] else 1


def summarize(args, report: dict, matrix: dict, host_decoder: dict, said: list[str], wall_s: float) -> dict:
    holds, faults, link = report["holds"], report["faults"], report["link"]
    bad = matrix["commands_from_bad_data"]
    growth = matrix["rss_mb"]["growth_after_one_cycle"]
    rejected = matrix["phase_frames_rejected"]
    exercised = {  # each injected fault must have shown up, or the bad-data check proved nothing
        **{f"{ph}: host refused frames": rejected[ph] > 0 for ph in ("drop", "corrupt", "junk")},
        "camera stall: held on stale frames": any(k.startswith("stale camera") for k in holds),
        "delay: late replies": (link["rtt_ms"]["p99"] or 0) > 20.0,
        "holds said on stderr": any("holding at tick" in line for line in said),
    }
    checks = {"no command from bad data": sum(bad.values()) == 0, **exercised,
              f"RSS growth <= {args.max_rss_growth_mb:g} MB after one cycle": growth is not None
              and growth <= args.max_rss_growth_mb}
    return {"seconds": args.seconds, "wall_s": round(wall_s, 1), "rate_hz": args.rate,
            "ticks": report["ticks"], "achieved_hz": report["achieved_hz"], "overruns": report["overruns"],
            "jitter_ms": report["jitter_ms"], "holds": holds, "hold_details": report["hold_details"],
            "faults": faults, "fault_details": report["fault_details"], "commands_sent": link["commands_sent"],
            "commands_lost": link["commands_lost"], "reply_latency_ms": link["rtt_ms"], "host_decoder": host_decoder,
            "lines_said": len(said), "first_lines_said": said[:20], "episodes": report.get("episodes"),
            "successes": report.get("successes"), "matrix": matrix,
            "verdict": {"pass": all(checks.values()), "checks": checks}}


def print_summary(r: dict) -> None:
    print(f"fault matrix: {r['ticks']} ticks in {r['seconds']:g} s at {r['rate_hz']:g} Hz (achieved "
          f"{r['achieved_hz']} Hz), {r['overruns']} overruns; {r['commands_sent']} commands, "
          f"{r['commands_lost']} lost; {r['lines_said']} hold/fault lines said")
    print("  holds (ticks): " + ", ".join(f"{k} x{v}" for k, v in sorted(r["holds"].items(), key=lambda kv: -kv[1])))
    print("  faults: " + (", ".join(f"{k} x{v}" for k, v in r["faults"].items()) or "none"))
    m = r["matrix"]
    print("  held ticks by phase: " + ", ".join(f"{ph} {m['phase_held'][ph]}/{n}"
                                               for ph, n in m["phase_ticks"].items()))
    print("  frames refused by the host / commands lost, by phase: " + ", ".join(
        f"{ph} {m['phase_frames_rejected'][ph]}/{m['phase_commands_lost'][ph]}" for ph in m["phase_ticks"]))
    print(f"  commands from bad data: {m['commands_from_bad_data']}; faults cleared by the operator "
          f"{m['faults_cleared_by_operator']}; RSS {m['rss_mb']}")
    for name, ok in r["verdict"]["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    print(f"verdict: {'PASS' if r['verdict']['pass'] else 'FAIL'}")


def plot(r: dict, path: Path) -> None:
    """RSS over the run, and ticks per phase split into commanded and held."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2))
    series = r["matrix"]["rss_series"]
    a.plot([t / 60 for t, _ in series], [mb for _, mb in series])
    a.set_xlabel("minutes")
    a.set_ylabel("resident MB")
    a.set_title(f"RSS: growth after one cycle {r['matrix']['rss_mb']['growth_after_one_cycle']} MB")
    holds = sorted(r["holds"].items(), key=lambda kv: -kv[1])
    b.barh([k for k, _ in holds], [v for _, v in holds])
    b.set_xlabel(f"ticks held (of {r['ticks']})")
    b.set_title("holds by reason")
    fig.suptitle(f"fault matrix, {r['seconds'] / 60:g} min at {r['rate_hz']:g} Hz: "
                 f"{'PASS' if r['verdict']['pass'] else 'FAIL'}, commands from bad data "
                 f"{sum(r['matrix']['commands_from_bad_data'].values())}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
