"""The Compare page's parity panel: one model through two paths (local vs HTTP, CPU vs CUDA/MPS).

Kept in its own module so the page gains two lines; the statistics live in core.parity.
"""
from __future__ import annotations

import streamlit as st

from core import parity
from core.compare import RATIO_STATISTIC, factor_text
from ui import format as fmt
from ui import state


@st.cache_data(ttl=3600, show_spinner="Checking parity…", max_entries=32)
def _report(path: str, run_id: str, version: tuple, model_a: str, model_b: str) -> parity.ParityReport:
    """The report with only the pairs that differ or failed (what the panel lists): the cache pickles
    every pair it keeps, and a large run has 100,000 identical ones (nor are they built)."""
    from core import analysis_cache  # a large run's report is kept on disk by data version

    return analysis_cache.parity(state._store(path), run_id, model_a, model_b, version=version)


def report(run_id: str, model_a: str, model_b: str) -> parity.ParityReport:
    return _report(str(state.db_path()), run_id, state.run_version(run_id), model_a, model_b)


@st.cache_data(ttl=3600, max_entries=32)
def _pairs(path: str, run_id: str, version: tuple, models: tuple[str, ...]) -> list[tuple[str, str]]:
    return parity.path_pairs(state._store(path).get_run(run_id).manifest, list(models))


SHOWN_MISMATCHES = 1_000  # rows of differing pairs sent to the page (a large run can have 100,000)


def section(run_id: str, models: list[str]) -> None:
    """Pick two entries of the same weights; show identical share, quality difference and latency ratio with intervals."""
    st.subheader("Parity: one model through two paths")
    st.caption("For two entries of the same weights (local transformers and an HTTP server serving them, or CPU and "
               "CUDA/MPS) run greedily on the same prompts: the share of identical outputs, the quality difference and "
               "the latency ratio of medians.")
    pairs = _pairs(str(state.db_path()), run_id, state.run_version(run_id), tuple(models))
    if not pairs:
        st.info("No two entries of this run load the same weights: parity applies to one model through two paths, not to "
                "different models (compare those with the verdicts above).")
        return
    firsts = list(dict.fromkeys(m for pair in pairs for m in pair))
    c1, c2 = st.columns(2)
    path_a = c1.selectbox("Path A", firsts, index=0, key="compare.parity_a")
    partners = [b if a == path_a else a for a, b in pairs if path_a in (a, b)]
    path_b = c2.selectbox("Path B", partners, index=0, key="compare.parity_b",
                          help="Only entries of the same weights as path A (or an HTTP entry, whose weights the run cannot check).")
    rep = report(run_id, path_a, path_b)
    if rep.same_weights is None:
        st.warning(parity.PATHS_NOT_MODELS.format(a=fmt.md_escape(path_a), b=fmt.md_escape(path_b)))
    q, r = rep.quality_diff, rep.latency_ratio
    c1, c2, c3 = st.columns(3)
    c1.metric("Identical outputs", fmt.pct(rep.identical_share, 0),
              help=f"{rep.n_compared} of {rep.n_pairs} pairs compared (both samples succeeded); "
                   f"{rep.decode_only} differ only in undecodable bytes")
    c2.metric("Quality difference (B − A)", fmt.DASH if q is None or q.estimate is None else f"{fmt.signed(q.estimate, 2, 'f')} points",
              help="Difference of mean quality (0-10), B minus A, over the pairs compared.")
    c3.metric(f"Latency, {RATIO_STATISTIC} (B / A)", fmt.DASH if r is None else factor_text(r.estimate),
              help="Median latency of B over median latency of A: the statistic of the verdicts and the heatmap above.")
    st.caption(f"Quality difference: {q.format() if q else 'n/a'}. Latency {RATIO_STATISTIC}: {r.format(unit='x') if r else 'n/a'}.")
    if not rep.greedy:
        st.warning("This run sampled (temperature > 0): identical outputs are not expected.")
    bad = rep.mismatch_frame()
    if not bad.empty:
        shown = f" (the first {SHOWN_MISMATCHES:,} shown)" if len(bad) > SHOWN_MISMATCHES else ""
        st.caption(f"{len(bad):,} pair(s) differ or failed{shown}:")
        st.dataframe(bad.head(SHOWN_MISMATCHES), hide_index=True)  # user text: shown as data, never as HTML
