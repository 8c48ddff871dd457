"""The PyTorch eager baseline `vla-lite bench --torch CHECKPOINT` measures beside the exported graphs.

Offline (needs torch): vla_lite.bench loads this module only when --torch is given, through
vla_lite.extras.import_optional, so the robot side never imports the offline path.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from vla_lite.bench import latency_stats, random_inputs

from .checkpoint import load_checkpoint


def measure_torch(checkpoint, manifest, threads: int, iters: int, warmup: int) -> dict:
    """The same policy in PyTorch eager (no_grad, eval mode), same inputs and thread count: the baseline."""
    torch.set_num_threads(threads)
    model = load_checkpoint(checkpoint).model.eval()
    images, state, instruction = random_inputs(manifest)
    kwargs = {c.input_name: torch.from_numpy(images[c.name]) for c in manifest.cameras}
    kwargs.update(state=torch.from_numpy(state), instruction=torch.from_numpy(instruction))
    samples_s = np.empty(iters)
    with torch.no_grad():
        for _ in range(warmup):
            model(**kwargs)
        for i in range(iters):
            t0 = time.perf_counter()
            model(**kwargs)
            samples_s[i] = time.perf_counter() - t0
    return {"runtime": "torch-eager", "precision": "fp32", "checkpoint": str(checkpoint), "torch": torch.__version__,
            **latency_stats(samples_s)}
