"""The report's tables and charts made from the analysis results: the summary's savings and key
verdicts, the KPI tables and distributions, the pairwise comparison table and the Pareto chart,
the cost tables and charts. Every number arrives formatted (core.textfmt).
"""
from __future__ import annotations

from collections.abc import Sequence


from core import analysis
from core import charts as ch
from core.analysis import costs as C
from core import queries
from core.compare import verdict
from core.stats import Interval, by_alias, metric_info
from core.store import Store
from core.reports.model import (
    COMPARE_METRICS,
    KPI_GROUPS,
    GROUP_NOTES,
    DISTRIBUTIONS,
)
from core.reports.table import Table
from core.textfmt import DASH, count, effect_text, fmt_interval, fmt_p, fmt_value, signed


# =========================================================================== summary


def savings_lines(costs: analysis.CostReport, model: str | None) -> tuple[str, ...]:
    out = []
    for line in (x for x in costs.cloud if x.model == model):
        p = line.projection
        s = p.savings_pct
        if s.estimate is None:
            out.append(f"{model} vs {line.cloud_model}: savings not computable ({s.note or p.note or 'no data'})")
            continue
        gist = C.savings_text(s).replace("local costs", "the local model costs", 1)
        be = p.break_even_per_month
        be_text = ("break-even " + C.break_even_text(be) if be.estimate else
                   "cheaper locally " + C.break_even_text(be) if be.estimate == 0 else f"no break-even ({be.note})" if be.note else "")
        out.append(f"At {count(p.volume_per_month)} requests/month, running {model} here costs "
                   f"{_iv(p.local_monthly, 'USD')}/month against {_iv(p.cloud_monthly, 'USD')}/month on {line.cloud_model}: "
                   f"{gist}" + (f"; {be_text}" if be_text else "") + ".")
    warning = next((w for w in costs.quality_warnings if w.startswith(f"Quality is not free: {model} passed ")), None)
    return tuple(out) + ((warning,) if out and warning else ())


def key_verdicts(comp: analysis.RunComparison, limit: int = 8) -> tuple[str, ...]:
    """Significant differences first (quality, pass rate, latency, then the rest), at most `limit`."""
    rank = {by_alias(m).name: i for i, m in enumerate(COMPARE_METRICS)}  # type: ignore[union-attr]
    comps = sorted(comp.comparisons, key=lambda c: (not c.significant(comp.alpha), rank.get(c.metric, 99)))
    picked = [verdict(c, comp.alpha) for c in comps if c.significant(comp.alpha)][:limit]
    if not picked and comp.comparisons:
        return (f"no significant differences in {len(comp.comparisons)} comparisons at alpha {comp.alpha:g}",)
    n_sig = sum(c.significant(comp.alpha) for c in comp.comparisons)
    if n_sig > len(picked):
        picked.append(f"... and {n_sig - len(picked)} more significant differences (see the pairwise comparisons)")
    return tuple(picked)


def _iv(iv: Interval | None, unit: str = "") -> str:
    return DASH if iv is None else fmt_interval(iv.estimate, iv.low, iv.high, unit)


# =========================================================================== KPI tables + charts


def kpi_tables(kpi: analysis.KpiTable) -> tuple[Table, ...]:
    tables = []
    for title, kpis in KPI_GROUPS:
        present = [(k, kpi.definitions[k].title) for k in kpis if k in kpi.definitions
                   and any(kpi.value(m, k) is not None for m in kpi.models)]
        if not present:
            continue
        rows = []
        for m in kpi.models:
            cells = [m]
            for k, _ in present:
                iv, unit = kpi.interval(m, k), kpi.definitions[k].unit
                cells.append(fmt_interval(iv.estimate, iv.low, iv.high, unit) if iv is not None
                             else fmt_value(kpi.value(m, k), unit))
            rows.append(tuple(cells))
        has_iv = any(kpi.definitions[k].has_interval for k, _ in present)
        ci = f"[low, high]: {kpi.confidence:.0%} confidence interval" if has_iv and kpi.intervals else ""
        tables.append(Table(("Model", *(label for _, label in present)), tuple(rows), title,
                            " ".join(x for x in (ci, GROUP_NOTES.get(title, "")) if x),
                            (False, *(True for _ in present))))
    return tuple(tables)


def distribution_charts(store: Store, run_id: str, kpi: analysis.KpiTable, colors: dict[str, str]) -> list[ch.BoxChart]:
    """Box plots from exact quartiles and Tukey fences computed in SQL (bounded size at any n)."""
    out = []
    for col, label, kpi_name, stat in DISTRIBUTIONS:
        df = queries.box_stats(store, run_id, col)
        models = [m for m in kpi.models if m in df.index]
        if not models:
            continue
        series = tuple(
            ch.BoxSeries(m, int(r["n"]), float(r["q1"]), float(r["med"]), float(r["q3"]), float(r["lo"]), float(r["hi"]),
                         float(r["mean"]), int(r["outliers"]), kpi.interval(m, kpi_name), colors.get(m))
            for m, r in ((m, df.loc[m]) for m in models)
        )
        n_out = sum(s.outliers for s in series)
        log = col in LOG_WHEN_SPREAD and _spread(series) >= LOG_SPREAD
        out.append(ch.BoxChart(
            f"dist_{col}", f"{label.split(' (')[0]} per model", label, series, stat, log_y=log,
            caption=(f"{'Log scale (the medians differ ' + format(_spread(series), '.0f') + 'x). ' if log else ''}"
                     f"Boxes: quartiles of every successful sample; whiskers: the most extreme values within 1.5 IQR "
                     f"({count(n_out)} values beyond them are not drawn); diamonds: the {stat} with its "
                     f"{kpi.confidence:.0%} confidence interval."),
        ))
    return out


LOG_WHEN_SPREAD = ("latency_ms", "ttft_ms")  # drawn on a log axis when the largest median is LOG_SPREAD x the smallest
LOG_SPREAD = 10.0


def _spread(series: Sequence[ch.BoxSeries]) -> float:
    """Largest median / smallest (1 when a median is not positive: no log axis)."""
    meds = [s.median for s in series]
    return max(meds) / min(meds) if meds and min(meds) > 0 and all(s.low > 0 for s in series) else 1.0


# =========================================================================== comparisons


def comparison_table(comp: analysis.RunComparison) -> Table:
    corr = {"holm": "Holm", "bh": "BH", "none": "raw"}.get(comp.correction, comp.correction)
    rows = []
    for c in comp.comparisons:
        info = metric_info(c.metric)
        effect, kind = effect_text(c)
        effect = f"{effect} ({kind})"
        rows.append((info.label, c.model_a, c.model_b, c.test.test, fmt_value(c.n_pairs if c.paired else min(c.n_a, c.n_b), "count"),
                     fmt_p(c.p_value), fmt_p(c.p_final), effect, _num(c.cliffs_delta), _num(c.cohen_d), c.better(comp.alpha) or DASH))
    how = f"each model vs {comp.baseline}" if comp.baseline else "all pairs"
    return Table(
        ("Metric", "A", "B", "Test", "n", "p", f"p ({corr})", "Effect A vs B [CI]", "Cliff's δ", "Cohen's d", "Better"),
        tuple(rows), f"Pairwise tests: {how}",
        f"{comp.confidence:.0%} intervals; p ({corr}): adjusted for multiple comparisons per metric; significant when "
        f"below alpha = {comp.alpha:g}. Effect: ratio of medians (A / B) or difference of means (A - B).",
        (False, False, False, False, True, True, True, True, True, True, False),
    )


def _num(x: float | None) -> str:
    return signed(x, 2, "f")


def pareto_chart(comp: analysis.RunComparison, kpi: analysis.KpiTable, colors: dict[str, str]) -> ch.ScatterChart | None:
    t = comp.pareto_table.dropna(subset=["quality", "latency_ms"]) if not comp.pareto_table.empty else comp.pareto_table
    if t.empty:
        return None
    eff = {p.model: p.efficient for p in comp.pareto}
    pts = tuple(ch.Point(str(r.model), float(r.latency_ms), float(r.quality), kpi.interval(str(r.model), "latency_ms_p50"),
                         kpi.interval(str(r.model), "quality_mean"), colors.get(str(r.model)), eff.get(str(r.model), False))
                for r in t.itertuples())
    front = tuple(sorted((p.x, p.y) for p in pts if p.highlight))
    return ch.latency_pareto_chart(pts, front,
                           caption="Pareto-efficient: no other model is at least as good on quality, latency, cost and "
                                   "memory needed (model footprint + largest peak added per generation) and better on "
                                   "one. Whiskers: confidence intervals.")


# =========================================================================== costs


def cost_tables(costs: analysis.CostReport) -> tuple[Table, ...]:
    local = Table(
        ("Model", "Requests", "Seconds / request", "Cost / request", "Cost / 1k output tokens", "Energy / request", "Power"),
        tuple((x.model, fmt_value(x.n_requests, "count"), _iv(x.seconds_per_request, "s"), _iv(x.cost_per_request, "USD"),
               _iv(x.cost_per_1k_output_tokens, "USD"), _iv(x.energy_wh_per_request, "Wh"),
               f"{x.power_watts:g} W ({x.power_source})") for x in costs.local),
        f"Local cost on this machine ({costs.settings.currency})", "",
        (False, True, True, True, True, True, False),
    )

    def be(p: C.Projection) -> str:
        b = p.break_even_per_month
        return _iv(b, "count") if b.estimate else C.break_even_text(b, short=True) or (b.note or DASH)

    cloud = Table(
        ("Model", "Cloud model", "Cloud / request", "Local / month", "Cloud / month", "Local vs cloud", "Break-even (requests/month)"),
        tuple((x.model, x.cloud_model, _iv(x.cost_per_request, "USD"), _iv(x.projection.local_monthly, "USD"),
               _iv(x.projection.cloud_monthly, "USD"), C.savings_text(x.projection.savings_pct), be(x.projection))
              for x in costs.cloud),
        f"Projection at {count(costs.settings.volume_per_month)} requests/month (same token counts in the cloud)",
        "Local vs cloud: savings = (cloud - local) / cloud, or how much more the local model costs.",
        (False, False, True, True, True, True, True),
    )
    prices = Table(
        ("Cloud model", "Input / 1M tokens", "Output / 1M tokens", "Source", "Snapshot", "Price date"),
        tuple((m, fmt_value(p.input_per_mtok, "USD"), fmt_value(p.output_per_mtok, "USD"), p.source, p.snapshot,
               p.price_date or DASH) for m, p in costs.prices.items()),
        "Cloud prices used", "", (False, True, True, False, False, False),
    )
    return tuple(t for t in (local, cloud, prices) if t.rows)


def cost_charts(costs: analysis.CostReport, focus: str | None, colors: dict[str, str]) -> tuple[ch.Chart, ...]:
    local = [x for x in costs.local if x.n_requests > 0]
    if not local:
        return ()
    out: list[ch.Chart] = [ch.cost_per_1k_chart(local, costs.cloud, colors)]  # the Costs page draws the same chart
    mine = next((x for x in local if x.model == focus), None)
    if mine is not None:
        lines = [c for c in costs.cloud if c.model == focus and c.cost_per_request.estimate is not None]
        cap = lines[0].projection.capacity_per_month.estimate if lines else None
        fixed, per_request = C.monthly_cost_terms(costs.settings, mine.energy_cost_per_request.estimate or 0.0,
                                                  mine.amortisation_per_request.estimate or 0.0)
        out.append(ch.break_even_chart(
            focus, fixed, per_request, cap, {c.cloud_model: c.cost_per_request.estimate for c in lines},  # type: ignore[misc]
            costs.settings.volume_per_month, colors.get(focus), costs.settings.cost_model))  # type: ignore[arg-type]
    return tuple(out)
