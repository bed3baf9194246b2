"""The router's six labels (UniversalRAG's set), in their one fixed order: the trained model's
columns, the CLI's choices and the evaluations all read them from here.

Kept free of heavy imports (no numpy, no torch) so `mmrag --help` can list them.
"""

from __future__ import annotations

from numbers import Integral
from typing import Literal, get_args

Label = Literal["no", "paragraph", "document", "image", "clip", "video"]
LABELS: tuple[Label, ...] = get_args(Label)
RETRIEVAL_LABELS: tuple[Label, ...] = LABELS[1:]  # every label but `no` names a granularity


def label_name(label: int | str) -> Label:
    """The label for an int 0-5, a digit string, or a name (any case): datasets use all three."""
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label)
    # Integral: numpy's integers too, without importing numpy.
    if isinstance(label, Integral) and not isinstance(label, bool) and 0 <= label < len(LABELS):
        return LABELS[int(label)]
    if isinstance(label, str) and (name := label.strip().lower()) in LABELS:
        return LABELS[LABELS.index(name)]
    raise ValueError(f"unknown routing label {label!r}: expected 0-5 or one of {LABELS}")
