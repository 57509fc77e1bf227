"""The human-rating rows of a run's KPI table (issue 14): the mean blind rating (0-10) per model
with its interval clustered by prompt, from core.rating_stats, when the run has ratings."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core.analysis.kpi_definitions import RATING_DEF
from core.queries import ratings as rq
from core.rating_stats import RESAMPLES, human_ratings, rating_kpi_rows
from core.store import Store


def rating_rows(store: Store, run_id: str, models: Sequence[str], *, intervals: bool, confidence: float,
                n_resamples: int | None, seed: int) -> pd.DataFrame | None:
    """KPI rows (kpi 'human_rating', section 'quality', overall category) of the models in `models`
    that have absolute ratings; None when the run has no rating at all."""
    if not rq.has_ratings(store, run_id):
        return None
    hr = human_ratings(store, run_id, confidence=confidence, n_resamples=n_resamples or RESAMPLES, seed=seed)
    rows = rating_kpi_rows(hr)
    rows = rows[rows["model"].isin(list(models))].assign(section=RATING_DEF.section, unit=RATING_DEF.unit)
    if not intervals:
        rows = rows.assign(low=None, high=None, method=None, confidence=None, n_resamples=None, seed=None)
    return rows
