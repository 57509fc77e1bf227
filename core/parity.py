"""Device and backend parity: one model through two paths on the same prompts, greedy.

The two paths are two catalog entries of the same weights: local transformers and an HTTP
server serving them, or the same directory on CPU and on CUDA/MPS (an entry per device).
Entries of different weights are refused (that is a comparison of two models: `compare`);
where the run cannot tell (an HTTP entry serves whatever its server loaded) the report says
that it compares paths. The report gives the share of identical outputs, the quality
difference (B - A) with a paired t interval, and the latency ratio of medians (median B /
median A, the headline statistic of core.compare) with a paired bootstrap interval over
prompts (core.stats: the method, confidence level, resample count and seed travel with
each interval).

    python -m core parity --models demo-small,demo-small-http --prompt-set business-core --limit 10
    python -m core parity RUN_ID --a demo-small --b demo-small-http
"""
from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.queries.aggregate import fetch
from core.stats import Interval, mean_difference_ci, ratio_of_medians_ci, ratio_of_medians_cluster_ci

REPLACEMENT_CHAR = "\ufffd"
PATHS_NOT_MODELS = ("The run cannot confirm that {a} and {b} load the same weights (an HTTP entry serves whatever its "
                    "server loaded): these numbers compare two paths, not two models.")


@dataclass(slots=True)  # not frozen: a large run builds 100,000 of them, and a frozen init costs 3x
class ParityPair:
    item_id: str
    repeat: int
    outcome: str  # identical | decode_only | different | failed
    a_text: str | None
    b_text: str | None
    a_latency_ms: float | None
    b_latency_ms: float | None
    a_quality: float | None
    b_quality: float | None


@dataclass(frozen=True)
class ParityReport:
    run_id: str
    model_a: str
    model_b: str
    greedy: bool
    n_pairs: int
    n_compared: int  # pairs where both samples succeeded
    identical_share: float | None
    decode_only: int  # outputs equal once undecodable bytes (U+FFFD) are set aside
    quality_diff: Interval | None
    latency_ratio: Interval | None  # ratio of medians, B / A
    pairs: tuple[ParityPair, ...]
    same_weights: bool | None = None  # None: the run cannot tell (an HTTP entry, or no entries recorded)

    def summary(self) -> dict:
        q, r = self.quality_diff, self.latency_ratio
        return {
            "model_a": self.model_a,
            "model_b": self.model_b,
            "greedy": self.greedy,
            "same_weights": self.same_weights,
            "pairs": self.n_pairs,
            "compared": self.n_compared,
            "identical_share": self.identical_share,
            "decode_only": self.decode_only,
            "quality_diff": q.estimate if q else None,
            "quality_diff_low": q.low if q else None,
            "quality_diff_high": q.high if q else None,
            "latency_ratio": r.estimate if r else None,
            "latency_ratio_low": r.low if r else None,
            "latency_ratio_high": r.high if r else None,
            "quality_diff_ci": q.format() if q else None,
            "latency_ratio_ci": r.format(unit="x") if r else None,
        }

    def mismatches(self) -> list[ParityPair]:
        return [p for p in self.pairs if p.outcome != "identical"]

    def to_dict(self) -> dict:
        return asdict(self)

    def mismatch_frame(self, chars: int = 200):  # noqa: ANN201 - pandas.DataFrame
        """The pairs that differ (or failed), outputs cut to `chars`: for tables in the CLI and the dashboard."""
        import pandas as pd

        def cut(text: object) -> str:  # a failed sample's output is missing (None, or NaN from a frame)
            return text[:chars] if isinstance(text, str) else ""

        return pd.DataFrame([{"item_id": p.item_id, "repeat": p.repeat, "outcome": p.outcome, "a": cut(p.a_text),
                              "b": cut(p.b_text)} for p in self.mismatches()],
                            columns=["item_id", "repeat", "outcome", "a", "b"])


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, eq=False)
class _Joined:
    """The two models' samples paired by (item, repeat), ordered by repeat then item, as columns."""

    both: object  # pandas.DataFrame: item_id, repeat, status/output_text/latency_ms/quality with _a and _b
    outcome: np.ndarray  # identical | decode_only | different | failed, per row


def _join(df, model_a: str, model_b: str) -> _Joined:  # noqa: ANN001 - the two models' sample rows
    """Pair the samples and classify each pair, vectorised (a million-sample run pairs 100,000 rows
    or more); only the outputs that differ exactly are compared again with undecodable bytes set aside."""
    cols = ["status", "output_text", "latency_ms", "quality"]
    df = df.assign(item_id=df["item_id"].astype(str), repeat=df["repeat"].astype("int64"))
    a = df[df["model"] == model_a].set_index(["item_id", "repeat"])[cols]
    b = df[df["model"] == model_b].set_index(["item_id", "repeat"])[cols]
    both = a.join(b, how="outer", lsuffix="_a", rsuffix="_b").reset_index()
    both = both.sort_values(["repeat", "item_id"], kind="stable")
    ok = (both["status_a"] == "ok").to_numpy(bool) & (both["status_b"] == "ok").to_numpy(bool)
    ta, tb = both["output_text_a"].fillna("").astype(str), both["output_text_b"].fillna("").astype(str)
    same = (ta == tb).to_numpy(bool)
    loose = same.copy()
    if not same.all():
        ca, cb = ta[~same], tb[~same]
        loose[~same] = (ca.str.replace(REPLACEMENT_CHAR, "").str.strip() == cb.str.replace(REPLACEMENT_CHAR, "").str.strip()).to_numpy(bool)
    outcome = np.where(~ok, "failed", np.where(same, "identical", np.where(loose, "decode_only", "different")))
    return _Joined(both, outcome)


def _pair_objects(j: _Joined, rows: np.ndarray | None = None) -> list[ParityPair]:
    """ParityPair objects of the joined rows (all, or the positions in `rows`)."""
    both = j.both if rows is None else j.both.iloc[rows]  # type: ignore[attr-defined]
    outcome = j.outcome if rows is None else j.outcome[rows]

    def values(col: str, kind: type) -> list:  # missing (NaN, NA, None) -> None
        v = both[col]
        return [None if missing else kind(x) for x, missing in zip(v.to_numpy(dtype=object), v.isna().to_numpy(bool))]

    cols = [both["item_id"].tolist(), both["repeat"].tolist(), outcome.tolist(),
            values("output_text_a", str), values("output_text_b", str), values("latency_ms_a", float),
            values("latency_ms_b", float), values("quality_a", float), values("quality_b", float)]
    return list(itertools.starmap(ParityPair, zip(*cols, strict=True)))


def _pairs(df, model_a: str, model_b: str) -> list[ParityPair]:  # noqa: ANN001 - the two models' sample rows
    """The two models' samples paired by (item, repeat), ordered by repeat then item."""
    return _pair_objects(_join(df, model_a, model_b))


def same_weights(manifest: dict, model_a: str, model_b: str) -> bool | None:
    """Whether a run's entries a and b load the same weights: the same source and revision, or a
    local directory with the same content hash. None when the run cannot tell: an HTTP entry
    serves whatever its server loaded, or the run recorded no catalog entries."""
    entries, versions = manifest.get("models") or {}, manifest.get("model_versions") or {}
    a, b = entries.get(model_a), entries.get(model_b)
    if not a or not b or "http" in (a.get("kind"), b.get("kind")):
        return None
    if (a.get("source"), a.get("revision")) == (b.get("source"), b.get("revision")):
        return True
    va = versions.get(model_a)
    return bool(va) and va == versions.get(model_b) and not str(va).startswith("unavailable:")


def path_pairs(manifest: dict, models: list[str]) -> list[tuple[str, str]]:
    """The pairs of a run's models that parity applies to: the same weights, or weights it cannot
    tell apart (an HTTP entry). Different models are left out."""
    return [(a, b) for i, a in enumerate(models) for b in models[i + 1:] if same_weights(manifest, a, b) is not False]


def _refuse_different(manifest: dict, model_a: str, model_b: str, where: str) -> bool | None:
    same = same_weights(manifest, model_a, model_b)
    if same is False:
        raise ValueError(f"{model_a} and {model_b} are different models (different source, revision or weights){where}: "
                         "parity compares one model through two paths (local vs HTTP, CPU vs CUDA/MPS); compare two "
                         "models with `python -m core compare RUN_ID`")
    return same


def parity_report(store, run_id: str, model_a: str, model_b: str, confidence: float = 0.95,  # noqa: ANN001
                  n_resamples: int = 2000, seed: int = 0, *, keep: Literal["all", "mismatches"] = "all") -> ParityReport:
    """Pair the two models' samples of one run by (item, repeat) and compare them.
    Refuses entries of different weights (ValueError). keep='mismatches': `pairs` holds only the
    pairs that differ or failed (what a panel lists; a large run has 100,000 identical ones), the
    statistics are still over every pair."""
    run = store.get_run(run_id)
    # text columns arrive as Categoricals (a third of the time of 200,000 Python strings); outputs as text
    df = fetch(store, run_id, models=[model_a, model_b],
               columns=["model", "item_id", "repeat", "status", "output_text", "latency_ms", "quality"])
    df = df.assign(output_text=df["output_text"].astype(object))
    for m in (model_a, model_b):
        if not (df["model"] == m).any():
            raise ValueError(f"run {run_id} has no samples of model {m!r}; models in it: {', '.join(run.spec.models)}")
    same = _refuse_different(run.manifest, model_a, model_b, f" in run {run_id}")
    j = _join(df, model_a, model_b)
    compared = j.outcome != "failed"
    n_compared = int(compared.sum())
    pairs = _pair_objects(j, None if keep == "all" else np.flatnonzero(j.outcome != "identical"))
    return ParityReport(
        run_id=run_id,
        model_a=model_a,
        model_b=model_b,
        greedy=run.spec.generation.greedy,
        n_pairs=len(j.outcome),
        n_compared=n_compared,
        identical_share=int((j.outcome == "identical").sum()) / n_compared if n_compared else None,
        decode_only=int((j.outcome == "decode_only").sum()),
        quality_diff=_quality_diff(j, compared, confidence),
        latency_ratio=_latency_ratio(j, compared, confidence, n_resamples, seed),
        pairs=tuple(pairs),
        same_weights=same,
    )


def _column(j: _Joined, col: str, rows: np.ndarray) -> np.ndarray:
    return j.both[col].to_numpy(dtype=float, na_value=np.nan)[rows]  # type: ignore[attr-defined]


def _quality_diff(j: _Joined, compared: np.ndarray, confidence: float) -> Interval | None:
    """Mean quality B - A with a paired t interval, over the compared pairs that both scored."""
    qa, qb = _column(j, "quality_a", compared), _column(j, "quality_b", compared)
    scored = ~np.isnan(qa) & ~np.isnan(qb)
    if not scored.any():
        return None
    return mean_difference_ci(qb[scored], qa[scored], paired=True, confidence=confidence)


def _latency_ratio(j: _Joined, compared: np.ndarray, confidence: float, n_resamples: int, seed: int) -> Interval | None:
    """median B / median A over the pairs both timed (a latency, not 0); with repeats, prompts are
    resampled with their repeats."""
    la, lb = _column(j, "latency_ms_a", compared), _column(j, "latency_ms_b", compared)
    timed = ~np.isnan(la) & (la != 0) & ~np.isnan(lb) & (lb != 0)
    if not timed.any():
        return None
    a, b = la[timed], lb[timed]
    # prompts as integer codes in the order of their labels: the codes the interval gives the labels
    codes, labels = pd.factorize(j.both["item_id"].to_numpy(dtype=object)[compared][timed], sort=True)  # type: ignore[attr-defined]
    if len(labels) < codes.size:
        return ratio_of_medians_cluster_ci(b, codes, a, codes, paired=True, confidence=confidence,
                                           n_resamples=n_resamples, seed=seed)
    return ratio_of_medians_ci(b, a, paired=True, confidence=confidence, n_resamples=n_resamples, seed=seed)


def run_parity(store, model_a: str, model_b: str, prompt_set: str, *, limit: int | None = None,  # noqa: ANN001
               max_new_tokens: int = 64, device: str = "auto", timeout_s: float = 60.0, runner_kwargs: dict | None = None,
               seed: int = 0) -> ParityReport:
    """Run both models greedily on the same prompts in one run, then compare them."""
    from core.runner import Runner
    from core.schemas import GenerationParams, RunSpec

    if model_a == model_b:
        raise ValueError("parity needs two different catalog entries (e.g. a local model and an HTTP entry serving it)")
    _refuse_different(_entries_manifest(store, (model_a, model_b)), model_a, model_b, " in the catalog")
    spec = RunSpec(models=(model_a, model_b), prompt_set=prompt_set, limit=limit, device=device, timeout_s=timeout_s,
                   generation=GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0), seed=seed,
                   name=f"parity {model_a} vs {model_b}")
    runner = Runner(store, **(runner_kwargs or {}))
    run_id = runner.create(spec)
    runner.execute(run_id)
    return parity_report(store, run_id, model_a, model_b, seed=seed)


def _entries_manifest(store, names: tuple[str, ...]) -> dict:  # noqa: ANN001
    """The catalog entries and weight versions a run of these models would record."""
    from core import catalog

    specs = {n: catalog.get_spec(n, store) for n in names}
    versions = {}
    for n, spec in specs.items():
        try:
            versions[n] = catalog.model_version(spec)
        except catalog.ModelUnavailableError:
            versions[n] = f"unavailable:{n}"
    return {"models": {n: json.loads(s.to_json()) for n, s in specs.items()}, "model_versions": versions}
