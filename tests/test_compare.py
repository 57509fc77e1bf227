"""core.compare at scale: the per-prompt table on integer codes equals grouping the text labels,
the batched large-sample medians keep the pairs paired and agree with the per-pair draw, and the
shared signed ranks give the same tests and effects."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core.compare as CMP
from core.stats import large_sample, ok_rows, paired_test, rank_biserial_paired
from core.stats.significance import signed_rank_sums


def _reference_table(df: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The former implementation: group the text labels with pandas."""
    ok = ok_rows(df, metric)
    if "item_id" not in ok.columns:
        ok = ok.assign(item_id=np.arange(len(ok)).astype(str))
    g = ok.groupby(["item_id", "model"], sort=False, observed=True)["_value"].agg(["mean", "count"])
    return g["mean"].unstack("model"), g["count"].unstack("model").fillna(0)


def _samples(seed: int, categorical: bool, with_items: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(m, f"item-{i:03d}", r) for m in ("m-b", "m-a", "m-c") for i in rng.permutation(40) for r in range(3)]
    df = pd.DataFrame(rows, columns=["model", "item_id", "repeat"]).sample(frac=1, random_state=seed).reset_index(drop=True)
    df["seq"] = np.arange(len(df))
    df["status"] = np.where(rng.random(len(df)) < 0.1, "error", "ok")
    df["latency_ms"] = np.round(rng.gamma(2.0, 50.0, len(df)), 1)  # rounded: ties
    df.loc[rng.random(len(df)) < 0.05, "latency_ms"] = np.nan
    df.loc[(df["model"] == "m-c") & (df["item_id"] < "item-010"), "latency_ms"] = np.nan  # m-c lacks prompts
    df["quality"] = rng.integers(0, 11, len(df)).astype(float)
    if categorical:
        for c in ("model", "item_id", "status"):
            df[c] = pd.Categorical(df[c], categories=sorted(df[c].unique(), reverse=True))
    return df if with_items else df.drop(columns=["item_id"])


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("metric", ["latency_ms", "quality"])
def test_item_table_on_codes_equals_grouping_the_labels(categorical, metric):
    df = _samples(3, categorical)
    means, counts = _reference_table(df, metric)
    t = CMP._item_table(df, metric)
    assert t.values.shape == means.shape
    for m in means.columns:  # the same prompts in the same order (first appearance), the same means bit for bit
        np.testing.assert_array_equal(t.column(str(m)), means[m].to_numpy(float))
        assert t.single_run(str(m)) == bool((counts[m] <= 1).all())
    assert np.isnan(t.column("no-such-model")).all()


def test_item_table_without_prompts_takes_each_row_as_its_own_prompt():
    df = _samples(4, False, with_items=False)
    means, _ = _reference_table(df, "quality")
    t = CMP._item_table(df, "quality")
    for m in means.columns:
        np.testing.assert_array_equal(t.column(str(m)), means[m].to_numpy(float))


def test_item_table_names_a_missing_column():
    with pytest.raises(ValueError, match="no column 'ttft_ms'"):
        CMP._item_table(_samples(5, False), "ttft_ms")


def test_shared_signed_ranks_give_the_same_test_and_effect():
    rng = np.random.default_rng(7)
    for n in (12, 60, 500):
        x, y = np.round(rng.normal(10, 2, n), 1), np.round(rng.normal(10.3, 2, n), 1)
        ranks = signed_rank_sums(x - y)
        assert paired_test(x, y, _ranks=ranks) == paired_test(x, y)
        assert rank_biserial_paired(x, y, _ranks=ranks) == rank_biserial_paired(x, y)


def _large(n_items: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    models, repeats = ("a", "b", "c"), 2
    scale = {"a": 100.0, "b": 110.0, "c": 100.0}
    item = np.tile(np.repeat(np.arange(n_items), repeats), len(models))
    model = np.repeat(models, n_items * repeats)
    difficulty = rng.gamma(4.0, 0.25, n_items)[item]
    lat = np.array([scale[m] for m in model]) * difficulty * rng.gamma(20.0, 0.05, item.size)
    return pd.DataFrame({"model": model, "item_id": [f"p{i}" for i in item], "seq": np.arange(item.size),
                         "status": "ok", "latency_ms": lat})


def test_pairwise_on_a_large_run_draws_every_model_together_and_agrees_with_one_pair():
    """From LARGE_CLUSTERS prompts the all-pairs comparison draws every model's bootstrap medians
    at once (core.stats.multiplier_batch); each pair's ratio interval then agrees with the pair
    compared alone (the per-pair draw) within Monte Carlo error (15% of its width; 8% here), and the pairing holds: the
    interval of b/a (10% slower, prompts shared) is far narrower than unpaired resampling gives."""
    df = _large(large_sample.LARGE_CLUSTERS)
    comps = {(c.model_a, c.model_b): c for c in CMP.pairwise(df, ["latency_ms"], correction="none")}
    for (a, b), c in comps.items():
        alone = CMP.compare_models(df, "latency_ms", a, b)
        assert c.ratio.estimate == alone.ratio.estimate
        width = alone.ratio.high - alone.ratio.low
        assert abs(c.ratio.low - alone.ratio.low) < 0.15 * width and abs(c.ratio.high - alone.ratio.high) < 0.15 * width
        assert c.ratio.method == alone.ratio.method == large_sample.METHOD
        assert (c.p_value, c.cliffs_delta, c.rank_biserial) == (alone.p_value, alone.cliffs_delta, alone.rank_biserial)
    ab = comps[("a", "b")].ratio
    assert ab.low < 100 / 110 < ab.high and ab.high - ab.low < 0.05


# ---------------------------------------------------------------- fast exact paths (issue 15: Compare at 1M samples)


def test_item_table_cell_means_equal_pandas_grouped_means():
    """The per-prompt means grouped on integer codes equal pandas' grouped mean of the labels
    (compensated sums in row order), empty cells NaN."""
    from core.compare import _cell_means
    rng = np.random.default_rng(2)
    cell = rng.integers(0, 500, 20_000)
    cell[cell == 7] = 8  # an empty cell
    v = rng.lognormal(3, 2, cell.size) * 1e3
    means, counts = _cell_means(v, cell, 600)
    g = pd.Series(v).groupby(cell).agg(["mean", "count"])
    assert np.array_equal(means[g.index], g["mean"].to_numpy()) and np.array_equal(counts[g.index], g["count"].to_numpy())
    assert np.isnan(means[7]) and counts[7] == 0 and np.isnan(means[500:]).all()


def test_paired_ratio_from_coded_runs_equals_labelled_prompts():
    """compare.py hands ratio_of_medians_cluster_ci prompt codes it computed (_k): the same interval
    as from the labels, including on prompts one model lacks."""
    from core.compare import _item_table
    from core.stats import ratio_of_medians_cluster_ci
    rng = np.random.default_rng(4)
    rows = [("a", f"p{i}", r, rng.lognormal(3, .3)) for i in range(60) for r in range(3)]
    rows += [("b", f"p{i}", r, rng.lognormal(3.2, .3)) for i in range(5, 60) for r in range(3)]
    df = pd.DataFrame(rows, columns=["model", "item_id", "repeat", "latency_ms"]).assign(status="ok")
    t = _item_table(df, "latency_ms")
    both = ~np.isnan(t.column("a")) & ~np.isnan(t.column("b"))
    coded = ratio_of_medians_cluster_ci(*t.coded_runs("a", both), *t.coded_runs("b", both), paired=True, _k=int(both.sum()))
    labelled = ratio_of_medians_cluster_ci(*t.runs("a", both), *t.runs("b", both), paired=True)
    assert coded == labelled and coded.n == 330
