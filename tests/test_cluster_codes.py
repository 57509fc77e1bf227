"""Prompt labels as integer codes: the same numbers as the labels read as text, faster."""
import numpy as np
import pandas as pd
import pytest

from core.stats.cluster_codes import factorize_labels, has_repeats, unique_inverse


def _as_text(labels):
    codes, uniques = pd.factorize(pd.Series(np.asarray(labels, dtype=object).ravel()).astype(str))
    return np.asarray(codes), len(uniques)


@pytest.mark.parametrize("labels", [
    np.array([7, 3, 7, 10, 3, 0]),  # integer codes (pd.factorize of item ids)
    np.array([7, 3, 7], dtype=np.uint16),
    np.array(["q2", "q1", "q2", "q10"], dtype=object),  # item ids as text (object)
    np.array(["q2", "q1", "q2"]),  # numpy text
    np.array([1, "1", 2.5, None, "a"], dtype=object),  # mixed: through text, 1 and "1" one prompt
    np.array([1.0, np.nan, 1.0]),  # floats: through text ('nan' is a label, as before)
    np.array([True, False, True]),
])
def test_factorize_labels_equals_factorize_of_text(labels):
    codes, k = factorize_labels(labels)
    want, want_k = _as_text(labels)
    assert k == want_k and np.array_equal(codes, want)


def test_has_repeats():
    assert has_repeats(np.array([1, 2, 1])) and has_repeats(np.array(["1", 1], dtype=object))
    assert not has_repeats(np.array([3, 1, 2])) and not has_repeats(np.array([], dtype=int))


@pytest.mark.parametrize("labels", [
    np.array([5, 3, 3, 9, 0]), np.arange(10)[::-1], np.array([2**40, 1]), np.array([-1, 4, -1]), np.array(["b", "a", "b"]),
    np.random.default_rng(0).integers(0, 50_000, 100_000),
])
def test_unique_inverse_equals_numpy(labels):
    book, inverse = unique_inverse(labels)
    want_book, want_inverse = np.unique(labels, return_inverse=True)
    assert np.array_equal(book, want_book) and np.array_equal(inverse, want_inverse)


@pytest.mark.parametrize(("labels", "numbered"), [
    (np.array([0, 1, 0, 2, 1, 3]), True),  # codes a caller numbered once already
    (np.array([0, 0, 1, 1, 2], dtype=np.uint8), True),
    (np.array([0, 2, 1]), False),  # 2 before 1: not in order of first appearance
    (np.array([1, 0, 1]), False),
    (np.array([0, -1, 0]), False),
    (np.array([0, 1, 1, 3]), False),  # a gap
    (np.array([], dtype=int), False),
])
def test_numbered_codes_come_back_unchanged_and_others_are_factorized(labels, numbered):
    from core.stats.cluster_codes import is_first_appearance_codes
    assert is_first_appearance_codes(labels) == numbered
    codes, k = factorize_labels(labels)
    want, want_k = _as_text(labels)
    assert k == want_k and np.array_equal(codes, want) and codes.dtype == np.intp
    assert codes is not labels  # a copy: the caller's array is never handed back to be changed
