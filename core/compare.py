"""Model comparisons: two models on one metric, all pairs with adjusted p-values. What one
comparison found and its sentence (Comparison, verdict, factor_text) are core.verdicts, re-exported here.

Builds on the intervals, tests, effect sizes, multiplicity, equivalence and power of the
core.stats package (which never imports this module); `core.stats.METHODS` describes the
methods of both.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from core.stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    BootCache,
    Interval,
    adjust_pvalues,
    cliffs_delta,
    cohens_d,
    cohens_dz,
    finite_or_none,
    finite_pairs,
    finite_values,
    fisher_test,
    mcnemar_test,
    mean_difference_ci,
    metric_info,
    minimum_detectable_effect,
    newcombe_diff_ci,
    paired_test,
    rank_biserial_paired,
    ratio_of_medians_ci,
    ratio_of_medians_cluster_ci,
    tost_paired,
    tost_unpaired,
    unpaired_test,
)
from core.stats import large_sample
from core.stats.basics import default_resamples
from core.stats.multiplier_batch import multiplier_quantiles
from core.stats.significance import signed_rank_sums
from core.verdicts import (  # noqa: F401 - Comparison, verdict, TEST_LABELS, RATIO_STATISTIC, factor_text: this module's public names
    RATIO_STATISTIC,
    TEST_LABELS,
    Comparison,
    direction_of,
    factor_text,
    primary_effect,
    verdict,
)

def compare_arrays(
    a: object,
    b: object,
    *,
    paired: bool,
    metric: str = "value",
    model_a: str = "a",
    model_b: str = "b",
    pairing: str = "",
    test: Literal["auto", "wilcoxon", "t", "mcnemar", "mann-whitney", "welch", "fisher"] = "auto",
    margin: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    single_runs: bool = True,
    _cache: BootCache | None = None,
    _ratio: Interval | None = None,
) -> Comparison:
    """Compare per-prompt values of two models (aligned by prompt when paired).

    single_runs: every prompt has one run per model (so 0/1 values are pass/fail, not rates).
    _ratio: the ratio of medians when computed over every run (repeats), not over these values.
    """
    info = metric_info(metric)
    margin = info.margin if margin is None else margin
    if paired:
        x, y = finite_pairs(a, b)
        n_a = n_b = x.size
    else:
        x, y = finite_values(a), finite_values(b)
        n_a, n_b = x.size, y.size
    binary = info.binary and single_runs and bool(np.isin(np.concatenate([x, y]), (0.0, 1.0)).all())
    chosen = _choose_test(test, paired, binary)
    notes: list[str] = []
    if paired:
        ranks = signed_rank_sums(x - y)  # Wilcoxon and the rank-biserial share one ranking
        if chosen == "mcnemar":
            result = mcnemar_test(x, y)
        else:
            result = paired_test(x, y, "t" if chosen == "t" else "wilcoxon", _ranks=ranks)
        diff = mean_difference_ci(x, y, paired=True, confidence=confidence)
        d_sd = float(np.std(x - y, ddof=1)) if x.size > 1 else None
        pw = minimum_detectable_effect(d_sd, x.size, alpha=alpha) if x.size > 1 else None
        eff_d, rb = cohens_dz(x, y), rank_biserial_paired(x, y, _ranks=ranks)
        eq = tost_paired(x, y, margin, alpha) if margin else None
    else:
        if chosen == "fisher":
            ka, kb = int(x.sum()), int(y.sum())
            result = fisher_test(ka, x.size, kb, y.size)
            diff = newcombe_diff_ci(ka, x.size, kb, y.size, confidence)
        else:
            result = unpaired_test(x, y, "welch" if chosen == "welch" else "mann-whitney")
            diff = mean_difference_ci(x, y, paired=False, confidence=confidence)
        pw = None
        eff_d, rb = cohens_d(x, y), cliffs_delta(x, y)
        eq = tost_unpaired(x, y, margin, alpha) if margin else None
    cliff = rb if not paired else cliffs_delta(x, y)
    ratio = _ratio
    if info.effect == "ratio" and ratio is None:
        ka = (model_a, metric, "paired") if paired else None
        kb = (model_b, metric, "paired") if paired else None
        keys = (ka, kb) if _cache is not None and paired else None
        ratio = ratio_of_medians_ci(x, y, paired=paired, confidence=confidence, n_resamples=n_resamples, seed=seed, _cache=_cache, _keys=keys)
    if ratio is not None and ratio.note:
        notes.append(f"ratio: {ratio.note}")
    if result.note:
        notes.append(result.note)
    c = Comparison(
        metric, model_a, model_b, paired, pairing, result, n_a, n_b, x.size if paired else None,
        diff, ratio, eff_d, cliff, rb, eq, pw, "unknown", confidence=confidence, notes=tuple(notes),
    )
    return replace(c, direction=direction_of(*primary_effect(c)))


_SAME_FAMILY = {  # the requested test's counterpart when the data turn out (un)paired
    True: {"welch": "t", "mann-whitney": "wilcoxon", "fisher": "mcnemar"},
    False: {"t": "welch", "wilcoxon": "mann-whitney", "mcnemar": "fisher"},
}


def _choose_test(test: str, paired: bool, binary: bool) -> str:
    """auto: McNemar / Fisher for single-run pass/fail, else Wilcoxon / Mann-Whitney.
    An explicit test is kept within its family (t <-> Welch, Wilcoxon <-> Mann-Whitney)."""
    if test == "auto":
        if binary:
            return "mcnemar" if paired else "fisher"
        return "wilcoxon" if paired else "mann-whitney"
    chosen = _SAME_FAMILY[paired].get(test, test)
    valid = {"wilcoxon", "t", "mcnemar"} if paired else {"mann-whitney", "welch", "fisher"}
    if chosen not in valid:
        raise ValueError(f"unknown test {test!r}; use auto, t, wilcoxon, mcnemar, welch, mann-whitney or fisher")
    if chosen in ("mcnemar", "fisher") and not binary:
        raise ValueError(f"{test} needs pass/fail values with one run per prompt; use auto, t or wilcoxon")
    return chosen


# --------------------------------------------------------------------------- from the samples table


@dataclass(frozen=True, eq=False)
class _Codes:
    """The samples' status, prompts and models as integer codes: computed once, read for every metric."""

    ok: np.ndarray  # bool per row: status 'ok' (every row when there is no status column)
    item: np.ndarray | None  # prompt code per row (-1: no prompt); None: no item_id column (each row its own prompt)
    model: np.ndarray  # model code per row (-1: no model)
    models: tuple[str, ...]  # model of each code


def _codes(df: pd.DataFrame) -> _Codes:
    ok = (df["status"] == "ok").to_numpy(dtype=bool, na_value=False) if "status" in df.columns else np.ones(len(df), bool)
    item = pd.factorize(df["item_id"])[0] if "item_id" in df.columns else None
    model, names = pd.factorize(df["model"])
    return _Codes(ok, item, model, tuple(map(str, names)))


@dataclass(frozen=True, eq=False)
class _ItemTable:
    """One metric's ok, finite values: per-prompt means over repeats (prompts in order of first
    appearance, a column per model) and, for ratios over repeats, every run with its prompt."""

    values: np.ndarray  # prompt x model: per-prompt mean over repeats (NaN: no run)
    counts: np.ndarray  # prompt x model: runs per prompt
    models: tuple[str, ...]  # the model of each column
    runs_by_model: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None  # every run's value and prompt (row)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_col", {m: i for i, m in enumerate(self.models)})
        object.__setattr__(self, "_memo", {})

    @property
    def rows(self) -> Mapping[str, tuple[np.ndarray, np.ndarray]] | None:
        return self.runs_by_model

    def runs(self, model: str, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every run's value of the model on the prompts where `items` (a mask over rows) is set,
        with each run's prompt (its row number)."""
        values, item = (self.runs_by_model or {}).get(model, (np.zeros(0), np.zeros(0, int)))
        keep = items[item]
        return values[keep], item[keep]

    def coded_runs(self, model: str, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """runs(), each run's prompt as its position among the prompts where `items` is set (the
        codes ratio_of_medians_cluster_ci gives row numbers that every model holds)."""
        values, row = self.runs(model, items)
        return values, (np.cumsum(items) - 1)[row]

    def column(self, model: str) -> np.ndarray:
        i = self._col.get(model)  # type: ignore[attr-defined]
        return self.values[:, i] if i is not None else np.full(self.values.shape[0], np.nan)

    def single_run(self, model: str) -> bool:
        """Every prompt has at most one run of the model."""
        i = self._col.get(model)  # type: ignore[attr-defined]
        return True if i is None else bool((self.counts[:, i] <= 1).all())

    def memo(self, key: tuple, make: object) -> object:
        """A value computed once per table (sorted columns, shared across the pairs of models)."""
        memo = self._memo  # type: ignore[attr-defined]
        if key not in memo:
            memo[key] = make()  # type: ignore[operator]
        return memo[key]


def _item_table(df: pd.DataFrame, metric: str, codes: _Codes | None = None) -> _ItemTable:
    """Group the ok, finite values of `metric` by prompt and model on integer codes: the same
    means (pandas' grouped mean) and prompt order (first appearance) as grouping the text labels."""
    if metric not in df.columns:
        raise ValueError(f"no column {metric!r} in the samples; available: {', '.join(map(str, df.columns))}")
    c = codes or _codes(df)
    v = pd.to_numeric(df[metric].astype("float64"), errors="coerce").to_numpy(float, na_value=np.nan)
    keep = c.ok & np.isfinite(v) & (c.model >= 0)
    if c.item is not None:
        keep &= c.item >= 0
    v, mc = v[keep], c.model[keep]
    item = c.item[keep] if c.item is not None else np.arange(v.size)
    row = _first_appearance(item)
    n_models = len(c.models)
    n_rows = int(row.max(initial=-1)) + 1
    values, counts = _cell_means(v, row * n_models + mc, n_rows * n_models)
    values, counts = values.reshape(n_rows, n_models), counts.reshape(n_rows, n_models)
    runs = None
    if metric_info(metric).effect == "ratio" and bool((counts > 1).any()):  # repeats: ratios use every run
        order = np.argsort(mc, kind="stable")
        bounds = np.searchsorted(mc[order], np.arange(n_models + 1))
        runs = {c.models[j]: (v[order[bounds[j]:bounds[j + 1]]], row[order[bounds[j]:bounds[j + 1]]])
                for j in range(n_models) if bounds[j + 1] > bounds[j]}
    present = counts.sum(axis=0) > 0
    cols = np.flatnonzero(present)
    return _ItemTable(values[:, cols], counts[:, cols], tuple(c.models[j] for j in cols), runs)


def _cell_means(v: np.ndarray, cell: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of v per cell 0..n_cells-1 (NaN, 0 where empty): pandas' grouped mean, so
    the same compensated sums in row order, grouped by the codes themselves (a categorical over
    the cell numbers) instead of factorizing a million keys first (about twice as fast)."""
    cat = pd.Categorical.from_codes(cell, categories=pd.RangeIndex(n_cells))
    means = pd.Series(v).groupby(cat, observed=False, sort=True).mean().to_numpy(float)
    return means, np.bincount(cell, minlength=n_cells).astype(float)


def _first_appearance(codes: np.ndarray) -> np.ndarray:
    """Renumber integer codes 0.. in the order each first appears."""
    if codes.size == 0:
        return codes.astype(np.int64)
    first = np.full(int(codes.max()) + 1, codes.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(codes.size))
    seen = np.flatnonzero(first < codes.size)
    new = np.empty(first.size, dtype=np.int64)
    new[seen[np.argsort(first[seen], kind="stable")]] = np.arange(seen.size)
    return new[codes]


def _pairing(t: _ItemTable, a: str, b: str, min_overlap: float) -> tuple[bool, str, np.ndarray, np.ndarray]:
    """Decide pairing; returns (paired, reason, values_a, values_b)."""
    col_a, col_b = t.column(a), t.column(b)
    has_a, has_b = ~np.isnan(col_a), ~np.isnan(col_b)
    both = has_a & has_b
    na, nb, nc = int(has_a.sum()), int(has_b.sum()), int(both.sum())
    need = max(3, math.ceil(min_overlap * max(na, nb)))
    if nc >= need:
        dropped = max(na, nb) - nc
        why = f"paired by prompt on {nc} shared prompts"
        if dropped:
            why += f" ({na - nc} of {a}'s and {nb - nc} of {b}'s prompts have no counterpart and are left out)"
        return True, why, col_a[both], col_b[both]
    why = (
        f"unpaired: only {nc} of {max(na, nb)} prompts are shared (pairing needs at least {need}); "
        "differences in prompt difficulty are not controlled"
    )
    return False, why, col_a[has_a], col_b[has_b]


def compare_models(
    df: pd.DataFrame,
    metric: str,
    model_a: str,
    model_b: str,
    *,
    test: Literal["auto", "wilcoxon", "t", "mcnemar", "mann-whitney", "welch", "fisher"] = "auto",
    margin: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    min_overlap: float = 0.5,
) -> Comparison:
    """Compare two models on one metric from the samples table (ok rows; prompt = unit)."""
    known = set(map(str, pd.unique(df["model"])))
    for m in (model_a, model_b):
        if m not in known:
            raise ValueError(f"model {m!r} is not in the samples; models: {', '.join(sorted(known))}")
    return _compare_from_table(_item_table(df, metric), metric, model_a, model_b, test, margin, alpha, confidence, n_resamples, seed, min_overlap, None)


def _compare_from_table(
    t: _ItemTable, metric: str, a: str, b: str, test: str, margin: float | None, alpha: float,
    confidence: float, n_resamples: int | None, seed: int, min_overlap: float, cache: BootCache | None,
) -> Comparison:
    paired, why, x, y = _pairing(t, a, b, min_overlap)
    single = t.single_run(a) and t.single_run(b)
    has_a, has_b = ~np.isnan(t.column(a)), ~np.isnan(t.column(b))
    if paired and cache is not None:
        # bootstrap medians can be shared only between comparisons on the very same prompts
        cache_k: BootCache | None = _KeyedCache(cache, (has_a & has_b).tobytes())
    else:
        cache_k = None
    ratio = None
    if t.rows is not None and not single:  # repeats: the ratio of the medians of every run, as the KPI table's
        keys = ((a, metric, "runs"), (b, metric, "runs")) if cache_k is not None else None
        if paired:  # both hold every shared prompt: coded here once (the codes the interval would compute)
            both = has_a & has_b
            ratio = ratio_of_medians_cluster_ci(*t.coded_runs(a, both), *t.coded_runs(b, both), paired=True,
                                                confidence=confidence, n_resamples=n_resamples, seed=seed,
                                                _cache=cache_k, _keys=keys, _k=int(both.sum()))
        else:
            ratio = ratio_of_medians_cluster_ci(*t.runs(a, has_a), *t.runs(b, has_b), paired=False, confidence=confidence,
                                                n_resamples=n_resamples, seed=seed, _cache=cache_k, _keys=keys)
    return compare_arrays(
        x, y, paired=paired, metric=metric, model_a=a, model_b=b, pairing=why, test=test,  # type: ignore[arg-type]
        margin=margin, alpha=alpha, confidence=confidence, n_resamples=n_resamples, seed=seed,
        single_runs=single, _cache=cache_k, _ratio=ratio,
    )


class _KeyedCache(BootCache):
    """A view of a BootCache whose keys also carry the prompt set."""

    def __init__(self, base: BootCache, prompts_key: bytes) -> None:
        self._base, self._key = base, prompts_key

    def medians(self, key: tuple | None, x: np.ndarray, n_resamples: int, seed: int,  # noqa: D102
                clusters: tuple[np.ndarray, int] | None = None) -> np.ndarray:
        return self._base.medians(None if key is None else (*key, self._key), x, n_resamples, seed, clusters)

    def median(self, key: tuple | None, x: np.ndarray) -> float:  # noqa: D102
        return self._base.median(None if key is None else (*key, self._key), x)


def _prefetch_run_medians(t: _ItemTable, metric: str, pairs: Sequence[tuple[str, str]], cache: BootCache,
                          n_resamples: int | None, seed: int, min_overlap: float) -> None:
    """Large runs with repeats: the multiplier-bootstrap medians of every run of each model, for
    all models paired on the same prompts drawn together from their exact joint Gaussian
    distribution (core.stats.multiplier_batch: no k-wide weight matrix), stored where the
    comparisons' ratio_of_medians_cluster_ci reads them. Equal in distribution to the per-pair
    draw, not draw for draw: a pair's interval may differ from compare_models' by Monte Carlo error."""
    if t.rows is None:
        return
    groups: dict[tuple[bytes, int], tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]] = {}
    for a, b in pairs:
        if t.single_run(a) and t.single_run(b):
            continue
        paired, _, _, _ = _pairing(t, a, b, min_overlap)
        mask = ~np.isnan(t.column(a)) & ~np.isnan(t.column(b))
        if not paired or not large_sample.is_large(int(mask.sum())):
            continue
        runs = {m: t.runs(m, mask) for m in (a, b)}
        B = n_resamples or default_resamples(max(v.size for v, _ in runs.values()))
        groups.setdefault((mask.tobytes(), B), (mask, {}))[1].update(runs)
    for (prompts, B), (mask, runs) in groups.items():
        k, code = int(mask.sum()), np.cumsum(mask) - 1  # a run's prompt code: its row among the shared prompts
        todo = [m for m, (v, _) in runs.items() if v.size >= 2 and (_memo_key(m, metric, prompts), B, seed, True) not in cache]
        meds = multiplier_quantiles([(runs[m][0], code[runs[m][1]]) for m in todo], k, 0.5,
                                    lambda z, B=B: large_sample.group_draws(z, seed, B))  # type: ignore[misc]
        for m, med in zip(todo, meds):
            cache.put_medians(_memo_key(m, metric, prompts), B, seed, True, med)


def _memo_key(model: str, metric: str, prompts: bytes) -> tuple:
    """The key _KeyedCache gives the medians of every run of a model on these prompts."""
    return (model, metric, "runs", prompts)


def pairwise(
    df: pd.DataFrame,
    metrics: Sequence[str] = ("latency_ms",),
    *,
    baseline: str | None = None,
    correction: Literal["holm", "bh", "none"] = "holm",
    family: Literal["metric", "all"] = "metric",
    test: Literal["auto", "wilcoxon", "t", "mann-whitney", "welch"] = "auto",
    margins: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    min_overlap: float = 0.5,
) -> tuple[Comparison, ...]:
    """All pairs of models (or each model vs `baseline`) per metric, p-values adjusted.

    family='metric' (default) adjusts within each metric; 'all' across every comparison.
    """
    models = [str(m) for m in pd.unique(df["model"])]
    if baseline is not None and baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not among the models: {', '.join(models)}")
    pairs = [(m, baseline) for m in models if m != baseline] if baseline else [
        (models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))
    ]
    cache = BootCache()
    out: list[Comparison] = []
    groups: list[list[int]] = []
    codes = _codes(df)
    for metric in metrics:
        table = _item_table(df, metric, codes)
        _prefetch_run_medians(table, metric, pairs, cache, n_resamples, seed, min_overlap)
        margin = (margins or {}).get(metric)
        start = len(out)
        for a, b in pairs:
            out.append(_compare_from_table(table, metric, a, b, test, margin, alpha, confidence, n_resamples, seed, min_overlap, cache))
        groups.append(list(range(start, len(out))))
    if family == "all":
        groups = [list(range(len(out)))]
    for idx in groups:
        adj = adjust_pvalues([out[i].p_value for i in idx], correction)
        for i, p in zip(idx, adj):
            out[i] = replace(out[i], p_adjusted=finite_or_none(p), correction=None if correction == "none" else correction)
    return tuple(out)


def comparisons_frame(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """One row per comparison, for tables and exports."""
    rows = []
    for c in comparisons:
        rows.append({
            "metric": c.metric, "model_a": c.model_a, "model_b": c.model_b, "paired": c.paired,
            "test": c.test.test, "n_a": c.n_a, "n_b": c.n_b, "statistic": c.statistic, "p": c.p_value,
            "p_adjusted": c.p_adjusted, "correction": c.correction,
            "difference": c.difference.estimate, "difference_low": c.difference.low, "difference_high": c.difference.high,
            "ratio": c.ratio.estimate if c.ratio else None, "ratio_low": c.ratio.low if c.ratio else None,
            "ratio_high": c.ratio.high if c.ratio else None, "cohen_d": c.cohen_d, "cliffs_delta": c.cliffs_delta,
            "direction": c.direction, "verdict": verdict(c),
        })
    return pd.DataFrame(rows)
