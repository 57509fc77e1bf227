"""Render helpers for the Results, Compare and Costs pages (Streamlit; statistics from core.analysis).

User text (prompts, references, outputs) goes to st.dataframe or st.code only.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core import charts
from core.analysis import costs as C
from core.analysis.kpi_definitions import KPI_DEFS
from core.compare import TEST_LABELS, verdict
from core import queries
from core.queries import explore, planned_models
from core.stats import Interval, metric_info
from core.textfmt import effect_text, fmt_p, signed
from ui import format as fmt
from ui import state


@dataclass(frozen=True)
class ResultMetric:
    label: str
    column: str  # samples column the distribution draws ("cost" is derived from latency)
    kpi: str  # KPI whose interval is drawn as whiskers
    stat: str  # what that KPI is (median / mean)
    scale: float = 1.0  # values and whiskers are multiplied by this (cost: per 1,000 requests)


def _result_metric(name: str) -> ResultMetric:
    """A metric of the registry as the Results page draws it: heading, column, summary KPI."""
    info = metric_info(name)
    return ResultMetric(info.heading, info.name, info.summary_kpi, info.summary_stat)


RESULT_METRICS = {
    m.label: m
    for m in (
        *map(_result_metric, ("latency_ms", "ttft_ms", "decode_tps", "mem_added_mb", "peak_rss_mb")),
        ResultMetric("Local cost per 1,000 requests (USD)", "cost", "local_cost_per_request", "mean", 1000.0),
        _result_metric("quality"),
    )
}

USD_PER_1K = "usd per 1k"  # KPI_COLUMNS format: a USD-per-request KPI shown per 1,000 requests, as text
# KPI table columns: (kpi, format); headers are the KPI definitions' (core.analysis.kpi_definitions);
# intervals shown for the first group
KPI_COLUMNS = (
    ("ok", "%d"), ("error_rate", "percent"), ("latency_ms_p50", "%.1f"), ("latency_ms_p90", "%.1f"), ("ttft_ms_p50", "%.1f"),
    ("tokens_per_s", "%.1f"), ("model_footprint_mb", "%.1f"), ("mem_added_mb_max", "%.2f"), ("peak_rss_mb_max", "%.0f"),
    ("quality_mean", "%.2f"), ("pass_rate", "percent"), ("local_cost_per_request", USD_PER_1K),
    ("human_rating", "%.2f"),  # only when the run has ratings (Rate page)
)


def kpi_header(kpi: str, f: str) -> str:
    """'Median latency (ms)': the KPI's heading; a USD-per-request KPI shown per 1,000 requests says so."""
    d = KPI_DEFS[kpi]
    return d.title_text.replace("/ request", "/ 1,000 requests") if f == USD_PER_1K else d.heading


WITH_INTERVALS = {"latency_ms_p50", "quality_mean", "pass_rate", "tokens_per_s", "local_cost_per_request", "human_rating"}


# --------------------------------------------------------------------------- pickers


def finished_runs(with_sweeps: bool = False) -> pd.DataFrame:
    """The runs with samples; with_sweeps: and after them the runs holding only a throughput sweep
    (core.throughput), last so that a page's default stays a run with samples."""
    df = state.runs()
    if df.empty or not with_sweeps:
        return df[df["done"] > 0] if not df.empty else df
    swept = (df["done"] == 0) & df["run_id"].isin(queries.sweep_run_ids(state.store()))
    return pd.concat([df[df["done"] > 0], df[swept]])


def finished_runs_or_stop(empty_message: str, with_sweeps: bool = False) -> pd.DataFrame:
    """The runs with samples (with_sweeps: and sweep-only runs); with none, the page's empty state
    (what to do instead) and stop."""
    runs = finished_runs(with_sweeps)
    if runs.empty:
        st.info(empty_message, icon=":material/info:")
        st.stop()
    return runs


def run_label(r: pd.Series) -> str:
    return fmt.run_label(r)


def pick_runs(df: pd.DataFrame, key: str, multi: bool, prefer_several_models: bool = False,
              default: str | None = None) -> list[str]:
    """Run picker; the default is `default` when given, else the newest run (with
    prefer_several_models: the newest with 2+ models)."""
    labels = {r["run_id"]: run_label(r) for _, r in df.iterrows()}
    ids = list(labels)
    first = 0
    if default in labels:
        first = ids.index(default)
    elif prefer_several_models:
        first = next((i for i, rid in enumerate(ids) if len(run_models(df, [rid])) > 1), 0)
    if multi:
        return st.multiselect("Runs", ids, default=ids[first:first + 1], format_func=labels.get, key=key)
    return [st.selectbox("Run", ids, index=first, format_func=labels.get, key=key)]


def run_models(df: pd.DataFrame, run_ids: Sequence[str]) -> list[str]:
    """Models of the runs, in the order each run planned them."""
    out: list[str] = []
    for spec in df[df["run_id"].isin(run_ids)]["spec"]:
        out += planned_models(spec)
    return list(dict.fromkeys(out))


def interval_toggle(key: str) -> bool:
    """Bootstrap intervals: on at every run size (from 5,000 prompts they come from the large-sample
    multiplier bootstrap, core.stats.large_sample: seconds at a million samples); off only by choice."""
    return st.toggle("Confidence intervals", value=True, key=key,
                     help="Intervals over prompts; the method is shown under each chart.")


def methods_caption(tables: Sequence) -> None:
    methods = list(dict.fromkeys(m for t in tables for m in t.methods()))
    if methods:
        st.caption("Intervals: " + "; ".join(methods) + ".")
    else:
        st.caption("No intervals shown (switched off, or not enough data).")


# --------------------------------------------------------------------------- results


def kpi_tables(runs: pd.DataFrame, run_ids: Sequence[str], models: Sequence[str], with_ci: bool) -> dict[str, object]:
    """One KPI table per run (cached). Small runs get the per-category rows in the same pass; on
    large runs those cost another aggregate over every sample, so they are computed on request."""
    out = {}
    for rid in run_ids:
        out[rid] = state.kpis(rid, _model_subset(runs, rid, models), by_category=not is_heavy(runs, rid),
                              intervals=with_ci)
    return out


def _model_subset(runs: pd.DataFrame, run_id: str, models: Sequence[str]) -> tuple[str, ...]:
    """The run's models among `models`, or () when that is every model of the run (state.kpis's 'all')."""
    mine = run_models(runs, [run_id])
    chosen = tuple(m for m in mine if m in models)
    return () if set(chosen) == set(mine) else chosen


def is_heavy(runs: pd.DataFrame, run_id: str) -> bool:
    row = runs[runs["run_id"] == run_id]
    return not row.empty and int(row["done"].iloc[0]) > state.HEAVY_SAMPLES


def distribution(tables: dict[str, object], models: Sequence[str], metric: ResultMetric, kind: str, with_ci: bool,
                 colors: dict[str, str]) -> None:
    run_ids = list(tables)
    column = "latency_ms" if metric.column == "cost" else metric.column
    values = state.values(tuple(run_ids), tuple(models), column)
    if values.empty:
        st.info(f"No successful samples with {metric.label.lower()} for this selection.")
        return
    order = {m: i for i, m in enumerate(models)}
    values = values.sort_values(["run_id", "model"], key=lambda c: c.map(order) if c.name == "model" else c, kind="stable")
    if metric.column == "cost":
        values = values.assign(value=[_cost(v, m, tables[r]) * metric.scale
                                      for v, m, r in zip(values["value"], values["model"], values["run_id"], strict=True)])
    multi = len(run_ids) > 1
    values = values.assign(series=values["model"] + (" · " + values["run_id"] if multi else ""))
    ivs: dict[str, Interval | None] = {}
    if with_ci:
        for (r, m), _ in values.groupby(["run_id", "model"], sort=False):
            ivs[m + (f" · {r}" if multi else "")] = _scaled(tables[r].interval(m, metric.kpi), metric.scale)
    log = log_toggle(values, kind)
    st.plotly_chart(charts.distribution(values, kind.lower(), metric.label, colors, intervals=ivs or None, stat=metric.stat,
                                    money=metric.column == "cost", log=log), key="results.dist")
    n_total = sum(int(t.value(m, "ok") or 0) for t in tables.values() for m in models if m in t.models)
    shown = len(values)
    st.caption(f"{shown:,} of {n_total:,} successful samples drawn" + (" (a seeded random subset per model)" if shown < n_total else "")
               + (f"; whiskers: {metric.stat} with its interval." if ivs else "."))
    methods_caption(list(tables.values()))


LOG_SPREAD = 10.0  # the log scale is on by default when one series' median is this many times another's


def log_toggle(values: pd.DataFrame, kind: str) -> bool:
    """A log value axis for box, violin and ECDF (on by default when the medians are LOG_SPREAD apart,
    where a linear axis flattens the fast model); offered only when every value is above 0."""
    v = values["value"].astype(float)
    usable = kind != "Histogram" and bool((v > 0).all())
    med = values.groupby("series")["value"].median().astype(float)
    wide = usable and len(med) > 1 and float(med.max() / med.min()) >= LOG_SPREAD
    on = st.toggle("Log scale", value=wide, key="results.log", disabled=not usable,
                   help="A logarithmic value axis, so a fast model is not flattened against a slow one. "
                        "Needs every value above 0; not for histograms.")
    return on and usable


def _scaled(iv: Interval | None, k: float) -> Interval | None:
    if iv is None or k == 1:
        return iv
    return dataclasses.replace(iv, **{f: None if getattr(iv, f) is None else getattr(iv, f) * k for f in ("estimate", "low", "high")})


def _cost(latency_ms: float, model: str, table) -> float:  # noqa: ANN001 - KpiTable
    """One request's local cost under the table's cost model (dedicated: the model's mean
    request time decides the machines, so every request carries the same hardware share)."""
    watts = table.power.get(model, {}).get("watts", 0.0)
    mean_ms = table.value(model, "latency_ms_mean")
    e, a = C.local_cost_per_request(latency_ms / 1000.0, watts, table.settings,
                                    mean_seconds=mean_ms / 1000.0 if mean_ms is not None else None)
    return float(e + a)


def kpi_table(tables: dict[str, object], with_ci: bool) -> None:
    frames = []
    for rid, t in tables.items():
        w = t.wide()
        w = w[w["category"] == "(all)"].drop(columns=["category"]).copy()
        w.insert(0, "run", rid)
        frames.append(w)
    wide = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    cols, config = ["run", "model"], {"run": "Run", "model": "Model"}
    defs = next(iter(tables.values())).definitions if tables else {}
    for kpi, f in KPI_COLUMNS:
        if kpi not in wide:
            continue
        cols.append(kpi)
        column = _column(f)
        config[kpi] = column(kpi_header(kpi, f), help=defs[kpi].description if kpi in defs else None)
        if f == USD_PER_1K:  # dollars per 1,000 requests written by ui.format (never "0.000000"), as text
            for c in (kpi, f"{kpi}_low", f"{kpi}_high"):
                if c in wide:
                    wide[c] = [fmt.usd(v * 1000) if v is not None and v == v else "" for v in wide[c]]
        if with_ci and kpi in WITH_INTERVALS and f"{kpi}_low" in wide:
            cols += [f"{kpi}_low", f"{kpi}_high"]
            config[f"{kpi}_low"] = column("low")
            config[f"{kpi}_high"] = column("high")
    st.dataframe(wide[cols], hide_index=True, column_config=config)
    long = pd.concat([t.frame.assign(run_id=rid) for rid, t in tables.items()], ignore_index=True)
    st.download_button("Download every KPI (CSV, with intervals and methods)", long.to_csv(index=False).encode(),
                       file_name="kpis.csv", mime="text/csv", icon=":material/download:", key="results.csv")


def _column(f: str):  # noqa: ANN202 - a column_config factory
    if f == USD_PER_1K:
        return st.column_config.TextColumn
    return lambda header, **kw: st.column_config.NumberColumn(header, format=f, **kw)


def by_category(runs: pd.DataFrame, run_id: str, table, models: Sequence[str], with_ci: bool,  # noqa: ANN001 - KpiTable
                colors: dict[str, str]) -> None:
    if not table.by_category:
        n = int(runs[runs["run_id"] == run_id]["done"].iloc[0])
        if not st.toggle("Compute the per-category breakdown", key="results.cat_go",
                         help=f"{n:,} samples: one more pass over every sample (cached)."):
            return
        table = state.kpis(run_id, _model_subset(runs, run_id, models), by_category=True, intervals=with_ci)
    t = table
    if not t.categories or len(t.categories) < 2:
        st.caption("This run's prompts have a single category.")
        return
    options = {metric_info(m).summary_heading: metric_info(m).summary_kpi for m in ("quality", "passed", "latency_ms", "error_rate")}
    options[KPI_DEFS["tokens_per_s"].heading] = "tokens_per_s"
    label = st.selectbox("KPI by category", list(options), key="results.cat_kpi")
    st.plotly_chart(charts.category_bars(t.wide(), options[label], label, colors), key="results.cat")


def explorer(run_id: str, models: Sequence[str]) -> None:
    cats = state.categories(run_id)
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    category = c1.selectbox("Category", ["(all)", *cats], key="results.x_cat")
    failures = c2.selectbox("Show", list(explore.SHOW), format_func=explore.SHOW.get, key="results.x_show",
                            help=explore.SHOW_HELP)
    disagree = c3.checkbox("Models disagree", key="results.x_disagree",
                           help="Pass/fail differs, one failed while another succeeded, or scores span 2+ points.")
    page_size = 25
    rows, total = state.explorer(run_id, tuple(models), None if category == "(all)" else category, failures, disagree,
                                 page_size, 0)
    pages = max(1, -(-total // page_size))
    page = c4.number_input("Page", 1, pages, 1, key="results.x_page") if pages > 1 else 1
    if page > 1:
        rows, total = state.explorer(run_id, tuple(models), None if category == "(all)" else category, failures,
                                     disagree, page_size, (page - 1) * page_size)
    if rows.empty:
        st.info("No prompt matches these filters.")
        return
    st.caption(f"{fmt.count_of(total, 'prompt')} {'matches' if total == 1 else 'match'}; page {page} of {pages} "
               "(first repeat of each prompt).")
    items = state.prompt_items(run_id)
    grid = _grid(rows, items, models)
    st.dataframe(grid, hide_index=True, height=min(600, 38 + 35 * len(grid)))
    chosen = st.selectbox("Compare one prompt side by side", list(grid["item"]), key="results.x_item")
    prompt, reference = items.get(chosen, ("(prompt text unavailable: no copy of the prompt-set version this run used is stored)", None))
    c1, c2 = st.columns(2)
    c1.caption("Prompt")
    c1.code(prompt, language=None, wrap_lines=True)
    c2.caption("Reference")
    c2.code(reference or "(none)", language=None, wrap_lines=True)
    cols = st.columns(max(1, len(models)))
    sub = rows[rows["item_id"] == chosen].set_index("model")
    for col, m in zip(cols, models, strict=False):
        col.caption(m)
        if m not in sub.index:
            col.text("(no sample)")
            continue
        r = sub.loc[m]
        col.code(r["output_text"] if isinstance(r["output_text"], str) else f"({r['status']}: {r['error_message']})",
                 language=None, wrap_lines=True)
        col.text(f"{explore.outcome_text(r['status'], r['passed'])} · quality {fmt.quality(r['quality'])} · "
                 f"{fmt.ms(r['latency_ms'])}")
        detail = explore.scores_text(r["scores"])
        if detail:
            col.caption(f"Scorers (0-1): {detail}")


def _grid(rows: pd.DataFrame, items: dict[str, tuple[str, str | None]], models: Sequence[str]) -> pd.DataFrame:
    """One row per prompt: prompt, reference, then each model's output and quality side by side."""
    base = rows.groupby("item_id", sort=True)["category"].first()
    ids = list(base.index)
    out = pd.DataFrame({
        "item": ids,
        "category": base.to_numpy(),
        "prompt": [items.get(i, ("", None))[0] for i in ids],
        "reference": [items.get(i, ("", None))[1] or "" for i in ids],
    })
    ok = rows["status"] == "ok"
    text = rows["output_text"].where(ok & rows["output_text"].notna(), "")
    text = text.where(ok, "[" + rows["status"].astype(str) + ": " + rows["error_kind"].fillna("").astype(str) + "]")
    cells = rows.assign(text=text).drop_duplicates(["item_id", "model"]).set_index(["item_id", "model"])
    for m in models:
        out[f"{m}: output"] = [cells["text"].get((i, m), "") for i in ids]
        out[f"{m}: quality"] = [cells["quality"].get((i, m)) for i in ids]
        out[f"{m}: result"] = [explore.outcome_text(cells["status"].get((i, m)), cells["passed"].get((i, m)))
                               if (i, m) in cells.index else "" for i in ids]
    return out


# --------------------------------------------------------------------------- compare


def comparison_rows(comp) -> pd.DataFrame:  # noqa: ANN001 - analysis.RunComparison
    """'Every comparison' as a reader sees it: labels instead of column names, p-values as the CLI
    and reports write them ('<0.001'), each effect with its statistic, '—' where there is none."""
    corr = _CORRECTION_LABELS.get(comp.correction, comp.correction)
    conf = f"{comp.confidence:.0%} CI"
    rows = []
    for c in comp.comparisons:
        effect, kind = effect_text(c)
        rows.append({
            "Metric": metric_info(c.metric).label, "Model A": c.model_a, "Model B": c.model_b,
            "Prompts compared": f"{fmt.count(c.n_pairs)} (paired)" if c.paired else f"{fmt.count(c.n_a)} vs {fmt.count(c.n_b)} (unpaired)",
            "Test": TEST_LABELS.get(c.test.test, c.test.test), "p": fmt_p(c.p_value),
            f"p ({corr})": fmt_p(c.p_final), f"Effect A vs B [{conf}]": effect, "Effect is the": kind,
            "Cliff's δ": signed(c.cliffs_delta, 2, "f"),
            "Significantly better": c.better(comp.alpha) or fmt.DASH, "Verdict": verdict(c, comp.alpha),
        })
    return pd.DataFrame(rows)


_CORRECTION_LABELS = {"holm": "after Holm correction", "bh": "after Benjamini-Hochberg correction", "none": "uncorrected"}


def verdicts_and_tests(comp, names: Sequence[str], column_names: dict[str, str], *, key: str,  # noqa: ANN001
                       caption: str) -> None:
    """The verdicts, the p-value heatmap of one metric and the table of every comparison of a
    RunComparison (a run's models or arms across runs; `names` in the heatmap's order)."""
    st.subheader("Verdicts")
    for v in comp.verdicts():
        st.markdown("- " + fmt.md_escape(v))
    frame = comp.frame()
    if frame.empty:
        return
    shown = st.selectbox("Heatmap metric", list(dict.fromkeys(frame["metric"])), key=f"{key}.heat",
                         format_func=lambda c: column_names.get(c, c))
    st.plotly_chart(charts.pvalue_heatmap(frame[frame["metric"] == shown], list(names), column_names.get(shown, shown).lower()),
                    key=f"{key}.heatmap")
    st.caption(f"{caption}Tests: {', '.join(sorted(set(frame['test'])))}; correction: {comp.correction}; "
               f"alpha {comp.alpha:g}. Effect of the row against the column: ratio of medians (row / column, over every "
               "sample of the prompts both ran) or difference of means (row − column); Cliff's delta where defined.")
    with st.expander("Every comparison (table)"):
        comparison_table(comp)


def comparison_table(comp) -> None:  # noqa: ANN001 - analysis.RunComparison
    st.dataframe(comparison_rows(comp), hide_index=True)
    st.download_button("Download every comparison (CSV, with unrounded values)", comp.frame().to_csv(index=False).encode(),
                       file_name="comparisons.csv", mime="text/csv", icon=":material/download:", key="compare.csv")


# --------------------------------------------------------------------------- costs


def cost_assumptions() -> C.CostSettings:
    """The assumptions panel; every change updates every chart on the Costs (and Results) page."""
    cur = state.cost_settings()
    profiles = C.power_profiles(C.load_pricing())
    with st.expander("Assumptions", expanded=True, icon=":material/tune:"):
        model = st.radio("Cost model", list(C.COST_MODELS), index=list(C.COST_MODELS).index(cur.cost_model),
                         format_func=COST_MODEL_LABELS.get, horizontal=True, key="costs.model_kind",
                         help="Dedicated: the machine is bought for this workload and its whole write-off is paid whatever the "
                              "volume. Shared: it also serves other work, so this workload pays only the machine time it uses, "
                              "the hardware spread over the utilisation.")
        c1, c2, c3, c4 = st.columns(4)
        kwh = c1.number_input("Electricity (USD per kWh)", 0.0, 5.0, float(cur.electricity_price_per_kwh), 0.01, key="costs.kwh")
        hw = c2.number_input("Hardware price (USD)", 0.0, 1e7, float(cur.hardware_price_usd), 100.0, key="costs.hw")
        life = c3.number_input("Lifetime (years)", 0.25, 20.0, float(cur.lifetime_years), 0.25, key="costs.life")
        util = c4.slider("Utilisation (shared model)", 0.05, 1.0, float(cur.utilisation), 0.05, key="costs.util",
                         disabled=model != "shared",
                         help="Share of its lifetime the hardware is busy serving requests; only the shared cost model uses it.")
        c1, c2, c3 = st.columns([1, 1, 2])
        names = sorted(profiles)
        profile = c1.selectbox("Power profile", names, index=names.index(cur.power_profile) if cur.power_profile in names else 0,
                               format_func=lambda n: f"{n} ({profiles[n].watts:g} W)", key="costs.profile")
        watts = c2.number_input("Or power draw (W, 0 = profile)", 0.0, 5000.0, float(cur.power_watts or 0.0), 5.0, key="costs.watts")
        cloud = c3.multiselect("Cloud models", sorted({*CLOUD_CHOICES, *cur.cloud_models}), default=list(cur.cloud_models),
                               key="costs.cloud", help="Prices from the genai-prices snapshot, or data/pricing.yaml.")
    volume = st.select_slider("Requests per month", VOLUMES, value=cur.volume_per_month if cur.volume_per_month in VOLUMES else 100_000,
                              format_func=lambda v: f"{v:,}", key="costs.volume")
    settings = C.CostSettings(electricity_price_per_kwh=kwh, hardware_price_usd=hw, lifetime_years=life, utilisation=util,
                              power_profile=profile, power_watts=watts or None, cloud_models=tuple(cloud),
                              volume_per_month=int(volume), cost_model=model)
    st.session_state[state.Keys.cost_settings] = settings
    return settings


def projection_table(report, models: Sequence[str]) -> None:  # noqa: ANN001 - analysis.CostReport
    """Every (model, cloud model) projection; savings and break-even written as on the rest of
    the page (core.analysis.costs.savings_text / break_even_text), so a figure reads the same everywhere."""
    money = ("local / month", "cloud / month", "local / year", "cloud / year")
    rows = [
        {"model": c.model, "cloud model": c.cloud_model, "local / month": c.projection.local_monthly.estimate,
         "cloud / month": c.projection.cloud_monthly.estimate, "local / year": c.projection.local_annual.estimate,
         "cloud / year": c.projection.cloud_annual.estimate, "local vs cloud": C.savings_text(c.projection.savings_pct),
         "break-even (requests / month)": C.break_even_text(c.projection.break_even_per_month, short=True),
         "machines": c.projection.machines}
        for c in report.cloud if c.model in models
    ]
    config = {k: st.column_config.NumberColumn(k, format="dollar") for k in money}
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=config)
    methods = sorted({c.projection.savings_pct.method for c in report.cloud})
    resamples = sorted({c.projection.savings_pct.n_resamples for c in report.cloud if c.projection.savings_pct.n_resamples})
    st.caption(f"Savings intervals: {', '.join(methods)}" + (f" ({', '.join(map(str, resamples))} resamples)" if resamples else "")
               + "; empty break-even: the cloud is cheaper at any volume.")


COST_MODEL_LABELS = {"dedicated": "Dedicated machine", "shared": "Shared machine (by utilisation)"}
CLOUD_CHOICES = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "o3-mini", "claude-3-5-haiku", "claude-3-5-sonnet",
                 "claude-3-7-sonnet", "gemini-1.5-flash", "gemini-2.0-flash")
VOLUMES = (1_000, 5_000, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000, 10_000_000)


def iv_text(iv: Interval | None, money: bool = False, pct: bool = False) -> str:
    """'$12.30 (95% CI $11.90 to $12.80)' in plain words."""
    if iv is None or iv.estimate is None:
        return "n/a" + (f" ({iv.note})" if iv is not None and iv.note else "")
    f = fmt.usd if money else ((lambda v: f"{v:,.1f}%") if pct else (lambda v: f"{v:,.3g}"))
    if not iv.is_defined:
        return f(iv.estimate)
    return f"{f(iv.estimate)} ({iv.confidence:.0%} CI {f(iv.low)} to {f(iv.high)})"
