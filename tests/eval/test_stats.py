"""The shared latency percentiles."""

from __future__ import annotations

import math

import pytest

from eval.stats import p50_p95, percentile


def test_p50_p95_interpolate_like_numpy_and_name_their_keys() -> None:
    assert p50_p95([4.0, 1.0, 3.0, 2.0]) == {"p50": 2.5, "p95": pytest.approx(3.85)}
    assert set(p50_p95([1.0], "search_{}_ms")) == {"search_p50_ms", "search_p95_ms"}
    assert math.isnan(percentile([], 50))
