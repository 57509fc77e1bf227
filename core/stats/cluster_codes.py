"""Prompt labels as integer codes, without turning a million labels into text first.

The cluster statistics number prompts by their labels read as text (so 1 and "1" are one
prompt), in order of first appearance. For integer labels, or labels that are all text
already, the codes of the labels themselves are the same numbers: integers and their
decimal text correspond one to one. Other labels (mixed types, floats) go through text.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def factorize_labels(labels: object) -> tuple[np.ndarray, int]:
    """(codes, k): each label's prompt number in order of first appearance, and how many
    prompts; equal to pd.factorize(pd.Series(labels).astype(str))."""
    a = np.asarray(labels)
    a = a.ravel() if a.ndim else a.reshape(1)
    if is_first_appearance_codes(a):  # already numbered (a caller passing codes on): nothing to hash
        return np.array(a, dtype=np.intp), int(a.max()) + 1  # a copy, as pd.factorize gives
    if a.dtype.kind in "iu" or a.dtype.kind == "U" or (
            a.dtype == object and pd.api.types.infer_dtype(a, skipna=False) == "string"):
        codes, uniques = pd.factorize(a)
    else:
        codes, uniques = pd.factorize(pd.Series(a, dtype=object).astype(str))
    return np.asarray(codes), len(uniques)


def is_first_appearance_codes(a: np.ndarray) -> bool:
    """Whether integer labels are already 0..k-1 in order of first appearance (what
    factorize_labels returns), so factorizing them again would give them back unchanged.

    A caller that numbered its prompts once (core.analysis.kpi_intervals) passes the codes to
    several statistics, each of which factorizes its labels: this check (one pass, no hash
    table) lets them skip the work. Labels qualify when each value is at most one more than
    the largest before it and the first is 0: then every new value is the next number."""
    if a.dtype.kind not in "iu" or a.size == 0 or a[0] != 0:
        return False
    running_max = np.maximum.accumulate(a)
    return bool(a.min() >= 0 and (np.diff(running_max) <= 1).all())


def has_repeats(labels: object) -> bool:
    """Whether any prompt holds more than one value."""
    codes, k = factorize_labels(labels)
    return bool(k and np.bincount(codes, minlength=k).max() > 1)


def unique_inverse(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(labels, return_inverse=True) (sorted labels, each label's position among them);
    for small non-negative integers (row numbers) by counting instead of sorting."""
    a = np.asarray(labels).ravel()
    if a.dtype.kind not in "iu" or a.size == 0 or a.min() < 0 or a.max() > 4 * a.size + 1024:
        return np.unique(a, return_inverse=True)
    present = np.zeros(int(a.max()) + 1, dtype=bool)
    present[a] = True
    book = np.flatnonzero(present).astype(a.dtype)
    position = np.cumsum(present) - 1
    return book, position[a]
