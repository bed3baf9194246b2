"""The latency percentiles every evaluation and benchmark reports, computed one way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (numpy's linear interpolation), NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def p50_p95(values: Sequence[float], key: str = "{}") -> dict[str, float]:
    """p50 and p95 of `values`, keyed `key` with `{}` as p50/p95 (e.g. "search_{}_ms")."""
    return {key.format(name): percentile(values, q) for name, q in (("p50", 50), ("p95", 95))}
