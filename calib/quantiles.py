"""Per-dimension quantiles of a stream in bounded memory, mergeable across chunks or workers.

Exact while at most `exact_limit` rows have been seen: the rows are kept and `np.quantile` (its default
'linear' method) answers. Beyond that, each dimension is a histogram on a grid of bins of width w = 2**k anchored
at 0, with at most `max_bins` bins; when the data's range outgrows the bins, k increases and pairs of bins merge
(exactly, since the grids nest). Two sketches merge by coarsening to the larger k and adding counts.

Error bound of the estimate: each order statistic is placed inside the bin that holds it (by its rank, spread
uniformly within the bin, the outermost bins clipped to the exact min/max), so it is off by less than w; the
quantile interpolates two order statistics as numpy does, so |estimate - np.quantile(x, q)| < w, where
w <= 2 * (max - min) / (max_bins - 1) per dimension. With 4096 bins over a 6 rad joint range: < 0.003 rad.
Memory: max_bins int64 counts per dimension (32 KiB for 4096).
"""

from __future__ import annotations

import math

import numpy as np


class QuantileSketch:
    def __init__(self, dim: int, exact_limit: int = 250_000, max_bins: int = 4096):
        if dim < 1 or exact_limit < 0 or max_bins < 2:
            raise ValueError(f"QuantileSketch needs dim >= 1, exact_limit >= 0, max_bins >= 2; got {dim}, "
                             f"{exact_limit}, {max_bins}")
        self.dim, self.exact_limit, self.max_bins = dim, exact_limit, max_bins
        self.n = 0
        self.min = np.full(dim, np.inf)
        self.max = np.full(dim, -np.inf)
        self._rows: list[np.ndarray] | None = []  # exact mode: the rows seen; None once histograms took over
        self._k = np.full(dim, -1075, np.int64)  # bin width 2**k per dimension (-1075: no data yet)
        self._lo = np.zeros(dim, np.int64)  # grid index of counts[d][0]
        self._counts: list[np.ndarray] = [np.zeros(0, np.int64) for _ in range(dim)]

    @property
    def exact(self) -> bool:
        return self._rows is not None

    def update(self, x: np.ndarray) -> None:
        """x: (n, dim) finite values."""
        x = np.asarray(x, np.float64).reshape(-1, self.dim)
        if not len(x):
            return
        if not np.isfinite(x).all():
            raise ValueError("QuantileSketch.update got NaN/inf values; expected finite numbers")
        self.n += len(x)
        np.minimum(self.min, x.min(axis=0), out=self.min)
        np.maximum(self.max, x.max(axis=0), out=self.max)
        if self._rows is not None:
            self._rows.append(x.copy())
            if self.n <= self.exact_limit:
                return
            x, self._rows = np.concatenate(self._rows), None  # switch to histograms, with everything seen so far
        for d in range(self.dim):
            self._add(d, x[:, d])

    def merge(self, other: "QuantileSketch") -> "QuantileSketch":
        """Adds other's data to self (other is unchanged); returns self."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge a {other.dim}-d sketch into a {self.dim}-d one")
        if other.n == 0:
            return self
        if self._rows is not None and other._rows is not None and self.n + other.n <= self.exact_limit:
            self._rows += [r.copy() for r in other._rows]
            self.n += other.n
            np.minimum(self.min, other.min, out=self.min)
            np.maximum(self.max, other.max, out=self.max)
            return self
        if other._rows is not None:  # other is exact: stream its rows in (this switches self if needed)
            for r in other._rows:
                self.update(r)
            return self
        if self._rows is not None:
            rows, self._rows = self._rows, None
            for d in range(self.dim):
                for r in rows:
                    self._add(d, r[:, d])
        self.n += other.n
        np.minimum(self.min, other.min, out=self.min)
        np.maximum(self.max, other.max, out=self.max)
        for d in range(self.dim):
            if other._counts[d].size:
                self._rebin(d, max(int(other._k[d]), self._needed_k(d)))
                theirs = _coarsen(other._counts[d], int(other._lo[d]), int(self._k[d] - other._k[d]))
                self._place(d, *theirs)
        return self

    def quantile(self, q: float) -> np.ndarray:
        """(dim,) q-quantile, q in [0, 1]; exact, or within error_bound() (module docstring)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q!r}")
        if self.n == 0:
            raise ValueError("no data: the sketch is empty")
        if self._rows is not None:
            return np.quantile(np.concatenate(self._rows), q, axis=0)
        h = (self.n - 1) * q
        lo, hi = math.floor(h), math.ceil(h)
        out = np.empty(self.dim)
        for d in range(self.dim):
            a, b = self._order_stat(d, lo), self._order_stat(d, hi)
            out[d] = a + (h - lo) * (b - a)
        return out

    def error_bound(self) -> np.ndarray:
        """(dim,) upper bound of |quantile(q) - np.quantile(data, q)|: 0 while exact, else the bin width."""
        if self._rows is not None:
            return np.zeros(self.dim)
        return np.ldexp(1.0, self._k.astype(int))

    # --- histograms ----------------------------------------------------------------------------------------

    def _needed_k(self, d: int) -> int:
        """Smallest k such that [min, max] fits in max_bins bins of width 2**k and grid indices stay < 2**52."""
        k = int(self._k[d])
        span = self.max[d] - self.min[d]
        if span > 0:
            k = max(k, math.ceil(math.log2(span / (self.max_bins - 1))))
        biggest = max(abs(self.min[d]), abs(self.max[d]))
        if biggest > 0:
            k = max(k, math.floor(math.log2(biggest)) - 50)
        return max(k, -1074)

    def _add(self, d: int, v: np.ndarray) -> None:
        self._rebin(d, self._needed_k(d))  # min/max already include v
        idx = np.floor(np.ldexp(v, -int(self._k[d]))).astype(np.int64)  # exact: division by a power of two
        lo = int(idx.min())
        self._place(d, np.bincount(idx - lo), lo)

    def _rebin(self, d: int, k: int) -> None:
        if k > self._k[d] and self._counts[d].size:
            self._counts[d], self._lo[d] = _coarsen(self._counts[d], int(self._lo[d]), int(k - self._k[d]))
        self._k[d] = max(k, int(self._k[d]))

    def _place(self, d: int, counts: np.ndarray, lo: int) -> None:
        """Add counts (grid indices lo, lo+1, ...) at the current k into dimension d's histogram."""
        mine, my_lo = self._counts[d], int(self._lo[d])
        if not mine.size:
            self._counts[d], self._lo[d] = counts.astype(np.int64), lo
            return
        start = min(lo, my_lo)
        end = max(lo + len(counts), my_lo + len(mine))
        merged = np.zeros(end - start, np.int64)
        merged[my_lo - start:my_lo - start + len(mine)] += mine
        merged[lo - start:lo - start + len(counts)] += counts
        self._counts[d], self._lo[d] = merged, start

    def _order_stat(self, d: int, r: int) -> float:
        """Estimate of the r-th smallest value (0-based) in dimension d."""
        if r == 0:
            return float(self.min[d])
        if r == self.n - 1:
            return float(self.max[d])
        c = self._counts[d]
        cum = np.cumsum(c)
        j = int(np.searchsorted(cum, r, side="right"))  # first bin whose cumulative count exceeds r
        before = int(cum[j - 1]) if j else 0
        w = math.ldexp(1.0, int(self._k[d]))
        a = max((int(self._lo[d]) + j) * w, float(self.min[d]))
        b = min((int(self._lo[d]) + j + 1) * w, float(self.max[d]))
        return a + (r - before + 0.5) / int(c[j]) * (b - a)


def _coarsen(counts: np.ndarray, lo: int, shift: int) -> tuple[np.ndarray, int]:
    """Merge bins: grid index i -> i >> shift (floor division by 2**shift, negatives included)."""
    if shift <= 0:
        return counts, lo
    idx = (np.arange(len(counts), dtype=np.int64) + lo) >> shift
    new_lo = int(idx[0])
    return np.bincount(idx - new_lo, weights=counts, minlength=int(idx[-1]) - new_lo + 1).astype(np.int64), new_lo
