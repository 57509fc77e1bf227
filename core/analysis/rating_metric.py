"""The blind human rating as an ordinary per-sample metric (issue 14): comparisons, verdicts, gates, reports.

The samples column `human_rating` is fetched with the other sample columns (core.queries.aggregate.fetch
joins core.queries.ratings.SAMPLE_JOIN): per answer, the mean over raters of each rater's latest
absolute rating, NaN where nobody rated it. Comparisons drop the unrated answers as missing, like
unscored quality; this module says how many were rated, and which metrics a report compares.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core.queries import ratings as rq
from core.store import Store
from core.textfmt import count

HUMAN_RATING = rq.HUMAN_RATING


def rated_note(ok: pd.DataFrame, models: Sequence[str]) -> str | None:
    """'human rating: rated answers per model ...' for the successful samples `ok` (with a human_rating
    column) of `models`; None when the column is absent."""
    if HUMAN_RATING not in ok.columns:
        return None
    rated = ok[HUMAN_RATING].notna()
    parts = [f"{m} {count(int(rated[ok['model'] == m].sum()))} of {count(int((ok['model'] == m).sum()))}" for m in models]
    return ("human rating: answers rated per model (" + ", ".join(parts) + "); unrated answers are left out, so each "
            "comparison is over the prompts rated for both models")


def with_human_rating(store: Store, run_ids: Sequence[str], metrics: Sequence[str]) -> tuple[str, ...]:
    """`metrics` plus human_rating when any of the runs has absolute ratings (what a report compares)."""
    metrics = tuple(metrics)
    if HUMAN_RATING in metrics or not any(rq.has_ratings(store, r, "absolute") for r in dict.fromkeys(run_ids)):
        return metrics
    return (*metrics, HUMAN_RATING)
