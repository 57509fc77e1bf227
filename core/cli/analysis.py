"""Commands over core.analysis: summary, compare, cost, sample-size.

`--format json` prints the result's `to_dict()` (schemas in docs/cli-json.md); the table
format is for people: intervals as "412 ms [398, 430]", the methods line under each table.
"""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from core.cli.common import CliError, command, open_store
from core.textfmt import DASH, count, effect_text, fmt_interval, fmt_p, fmt_value

# =========================================================================== parsers


def _cost_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cost settings (defaults: core.analysis.costs.CostSettings)")
    g.add_argument("--volume", type=int, help="requests per month for projections (default 100000)")
    g.add_argument("--cloud", help="comma-separated cloud models to price the same tokens on, e.g. gpt-4o-mini,gpt-4o")
    g.add_argument("--electricity-price", type=float, help="USD per kWh (default 0.15)")
    g.add_argument("--hardware-price", type=float, help="USD for the machine or accelerator (default 2000)")
    g.add_argument("--lifetime-years", type=float, help="write-off period in years (default 3)")
    g.add_argument("--cost-model", choices=["dedicated", "shared"],
                   help="dedicated (default): the whole machine's write-off, whatever the volume; shared: only the machine time "
                        "used, the hardware spread over --utilisation")
    g.add_argument("--utilisation", type=float,
                   help="shared cost model: share of the lifetime the hardware serves requests, 0-1 (default 0.5)")
    g.add_argument("--power-profile", help="assumed power draw when none is measured (default generic-cpu)")
    g.add_argument("--power-watts", type=float, help="explicit power draw in W; overrides the profile")


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    s = add("summary", "KPIs per model with confidence intervals (optionally per category)")
    s.add_argument("run_id")
    s.add_argument("--by-category", action="store_true", help="also one table per prompt category")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table", help="csv: one row per model (and category)")
    s.add_argument("--models", help="comma-separated subset of the run's models")
    s.add_argument("--no-intervals", action="store_true", help="SQL aggregates only (fast on very large runs)")
    _stat_flags(s)
    _cost_flags(s)

    c = add("compare", "pairwise tests with adjusted p-values, effect sizes, intervals and verdicts "
                       "(the models of one run, or arms RUN:MODEL of different runs with --arm)")
    c.add_argument("run_id", nargs="?", help="the run whose models are compared (leave out with --arm)")
    c.add_argument("--arm", action="append", default=[], metavar="RUN:MODEL",
                   help="compare arms across runs instead: a run id, a colon and a model of that run (two or more; "
                        "paired by prompt when the runs' prompt-set versions agree)")
    c.add_argument("--baseline", help="compare every model with this one (default: the champion when it is in the run, else "
                                      "all pairs); with --arm, one of the arms as RUN:MODEL")
    c.add_argument("--all-pairs", action="store_true", help="compare every pair even when a champion is set")
    c.add_argument("--metrics", default="latency,ttft,tokens_per_s,quality,passed,mem_added",
                   help="comma-separated: " + _metric_names() + " (cost: at the default cost settings)")
    c.add_argument("--correction", choices=["holm", "bh"], default="holm", help="multiple-comparison correction per metric")
    c.add_argument("--margin", action="append", default=[], metavar="METRIC=VALUE",
                   help="equivalence margin in the metric's unit, e.g. latency=20 or quality=0.5 (repeatable, or comma-separated)")
    c.add_argument("--alpha", type=float, default=0.05)
    c.add_argument("--models", help="comma-separated subset of the run's models")
    c.add_argument("--format", choices=["table", "json"], default="table")
    _stat_flags(c, confidence_only=True)

    k = add("cost", "local cost per request vs cloud prices for the same tokens, projections and break-even")
    k.add_argument("run_id")
    k.add_argument("--models", help="comma-separated subset of the run's models")
    k.add_argument("--format", choices=["table", "json"], default="table")
    _cost_flags(k)
    _stat_flags(k)

    z = add("sample-size", "prompts needed to detect a difference of a given size, from this run's variability")
    z.add_argument("run_id")
    z.add_argument("--metric", required=True, help=_metric_names())
    z.add_argument("--effect", required=True, type=float,
                   help="difference to detect in the metric's unit (ms; quality points; pass rate as a fraction, 0.05 = 5 points)")
    z.add_argument("--baseline", help="compare every model with this one (default: all pairs)")
    z.add_argument("--power", type=float, default=0.8)
    z.add_argument("--alpha", type=float, default=0.05)
    z.add_argument("--format", choices=["table", "json"], default="table")


def _metric_names() -> str:
    """'latency (ms), ttft (time to first token, ms), ...': the registry's per-sample metrics."""
    from core.stats.metric_registry import sample_metrics

    def what(m) -> str:  # noqa: ANN001 - MetricInfo
        label = m.label if m.label.replace(" ", "_") != m.alias else ""
        parts = [p for p in (label, m.unit if m.unit not in m.label else "") if p]
        return f"{m.alias} ({', '.join(parts)})" if parts else m.alias

    return ", ".join(what(m) for m in sample_metrics())


def _stat_flags(p: argparse.ArgumentParser, confidence_only: bool = False) -> None:
    p.add_argument("--confidence", type=float, default=0.95, help="interval confidence level (default 0.95)")
    if not confidence_only:
        p.add_argument("--resamples", type=int, help="bootstrap resamples (default 2000; 1000 above 1000 samples)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


# =========================================================================== helpers


def _list(text: str | None) -> list[str] | None:
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None


def _settings(args: argparse.Namespace):  # noqa: ANN202 - core.analysis.costs.CostSettings
    from core.analysis import costs as C

    fields = {
        "volume_per_month": args.volume, "electricity_price_per_kwh": args.electricity_price,
        "hardware_price_usd": args.hardware_price, "lifetime_years": args.lifetime_years,
        "utilisation": args.utilisation, "power_profile": args.power_profile, "power_watts": args.power_watts,
        "cost_model": getattr(args, "cost_model", None),
        "cloud_models": tuple(_list(args.cloud) or ()) or None,
    }
    settings = C.CostSettings(**{k: v for k, v in fields.items() if v is not None})
    overrides = C.load_pricing()
    C.assumed_power(settings, overrides)  # unknown profile: ValueError with the known names
    for cm in settings.cloud_models:
        try:
            C.cloud_price(cm, overrides)
        except LookupError as exc:
            raise CliError(str(exc.args[0] if exc.args else exc)) from None
    return settings


def _check_confidence(args: argparse.Namespace) -> None:
    if not 0 < args.confidence < 1:
        raise CliError(f"--confidence must be between 0 and 1 (got {args.confidence}), e.g. 0.95")
    if getattr(args, "resamples", None) is not None and args.resamples < 100:
        raise CliError("--resamples must be at least 100")


def _print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, indent=2, allow_nan=False, default=str))


def _iv(d: Any, unit: str = "") -> str:
    """An Interval (object) as '412 ms [398, 430]'."""
    return DASH if d is None else fmt_interval(d.estimate, d.low, d.high, unit)


def _table(rows: Iterable[dict[str, Any]]) -> str:
    df = pd.DataFrame(list(rows))
    return df.to_string(index=False) if not df.empty else "(none)"


# =========================================================================== summary


@command("summary")
def cmd_summary(args: argparse.Namespace) -> int:
    from core.analysis import kpi_table, machine_load

    _check_confidence(args)
    store = open_store(args)
    t = kpi_table(store, args.run_id, by_category=args.by_category, settings=_settings(args),
                  models=_list(args.models), intervals=not args.no_intervals, confidence=args.confidence,
                  n_resamples=args.resamples, seed=args.seed)
    load = machine_load(store, args.run_id)
    if args.format == "json":
        _print_json({**t.to_dict(), "machine_load": load.to_dict()})
    elif args.format == "csv":
        print(t.wide().to_csv(index=False), end="")
    else:
        print(_summary_text(t) + "\n" + _load_text(load))
    return 0


def _load_text(load) -> str:  # noqa: ANN001 - core.analysis.MachineLoadReport
    """The busy-machine warning when flagged, and always the one-line 'Machine load:' note."""
    return (f"WARNING: {load.text}\n" if load.flagged else "") + load.note


def _summary_text(t) -> str:  # noqa: ANN001 - core.analysis.KpiTable
    parts = [f"run {t.run_id}: {len(t.models)} model(s)"]
    groups = [None, *t.categories] if t.by_category else [None]
    for cat in groups:
        f = t.frame[(t.frame["category"].isna()) if cat is None else (t.frame["category"] == cat)]
        if f.empty:
            continue
        parts.append("" if cat is None else f"\ncategory: {cat}")
        parts.append(_kpi_grid(f, t.models))
    parts.append("\nintervals: " + "; ".join(t.methods() or ["none"]))
    p = next(iter(t.power.values()), None)
    if p:
        parts.append(f"cost: {p['watts']:g} W {p['source']} ({p['profile']}); settings as in `python -m core cost --help`"
                     f"; savings at {count(t.settings.volume_per_month)} requests/month. {t.settings.cost_model_sentence}")
    parts += [f"note: {n}" for n in t.notes]
    return "\n".join(parts)


def _kpi_grid(f: pd.DataFrame, models: tuple[str, ...]) -> str:
    """KPIs down, models across; rows without a value for any model are left out."""
    rows = []
    skipped = 0
    for kpi, g in f.groupby("kpi", sort=False):
        if g["value"].isna().all() or (str(kpi).startswith("errors_") and (g["value"].fillna(0) == 0).all()):
            skipped += 1
            continue
        unit = g["unit"].iloc[0]
        row = {"kpi": kpi}
        for m in models:
            r = g[g["model"] == m]
            row[m] = "" if r.empty else fmt_interval(_num(r["value"].iloc[0]), _num(r["low"].iloc[0]), _num(r["high"].iloc[0]), unit)
        rows.append(row)
    text = _table(rows)
    if skipped:
        text += f"\n({skipped} KPIs without a value or with zero error counts not shown; --format json has all)"
    return text


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# =========================================================================== compare


def _margins(items: list[str]) -> dict[str, float]:
    out = {}
    for item in (p for text in items for p in text.split(",") if p.strip()):
        if "=" not in item:
            raise CliError(f"--margin takes METRIC=VALUE, e.g. latency=20 (got {item!r})")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise CliError(f"--margin {item!r}: {v!r} is not a number") from None
        if out[k.strip()] <= 0:
            raise CliError(f"--margin {item!r}: the margin must be positive")
    return out


@command("compare")
def cmd_compare(args: argparse.Namespace) -> int:
    from core.analysis import compare_arms, resolve_metric

    _check_confidence(args)
    metrics = _list(args.metrics) or []
    for m in metrics + list(_margins(args.margin)):
        resolve_metric(m)  # ValueError names the known metrics
    if args.arm:
        if args.run_id or args.models or args.all_pairs:
            raise CliError("--arm compares arms RUN:MODEL: give no RUN_ID, --models or --all-pairs with it")
        r = compare_arms(open_store(args), args.arm, metrics=metrics, baseline=args.baseline, correction=args.correction,
                         margins=_margins(args.margin), alpha=args.alpha, confidence=args.confidence, seed=args.seed)
    elif not args.run_id:
        raise CliError("compare needs a RUN_ID, or two or more --arm RUN:MODEL")
    else:
        r = _compare_one_run(args, metrics)
    if args.format == "json":
        _print_json(r.to_dict())
    else:
        print(_compare_text(r))
    return 0


def _compare_one_run(args: argparse.Namespace, metrics: list[str]):  # noqa: ANN202 - core.analysis.RunComparison
    from core.analysis import compare_run

    return compare_run(open_store(args), args.run_id, metrics=metrics, baseline=args.baseline, use_champion=not args.all_pairs,
                    correction=args.correction, margins=_margins(args.margin), alpha=args.alpha,
                    confidence=args.confidence, seed=args.seed, models=_list(args.models))


def _compare_text(r) -> str:  # noqa: ANN001 - core.analysis.RunComparison
    from core.stats import metric_info

    how = {"argument": f"each model vs {r.baseline}", "champion": f"each model vs the champion {r.baseline}",
           "all pairs": "all pairs"}[r.baseline_source]
    where = f"arms {', '.join(a.label for a in r.arms)}" if r.arms else f"run {r.run_id}"
    lines = [f"{where}: {how}; {r.correction} correction per metric; alpha {r.alpha:g}"]
    if r.pairing is not None:
        lines.append(r.pairing.note + (f" ({', '.join(r.pairing.changed[:10])}{', ...' if len(r.pairing.changed) > 10 else ''})"
                                       if r.pairing.changed else ""))
    rows = []
    for c in r.comparisons:
        info = metric_info(c.metric)
        effect, _ = effect_text(c)
        rows.append({"metric": info.label, "A": c.model_a, "B": c.model_b, "test": c.test.test,
                     "p": fmt_p(c.p_value), f"p ({c.correction or 'raw'})": fmt_p(c.p_final),
                     "effect (A vs B)": effect, "better": c.better(r.alpha) or DASH})
    lines += ["", _table(rows) if rows else "(no comparisons)", "", "verdicts:"]
    lines += [f"- {v}" for v in r.verdicts()] or ["- none"]
    eff = [p.model for p in r.pareto if p.efficient]
    dom = [f"{p.model} (by {', '.join(p.dominated_by)})" for p in r.pareto if not p.efficient]
    lines.append(f"\nPareto-efficient (quality up; latency, cost, memory needed = model footprint + largest peak added "
                 f"per generation down): {', '.join(eff) or 'none'}"
                 + (f"; dominated: {'; '.join(dom)}" if dom else ""))
    flagged = [f"{m} ({d.relative_per_100:+.1%} per 100 samples, Kendall p = {d.kendall_p:.2g})"
               for m, d in r.drift.items() if d.flagged and d.relative_per_100 is not None and d.kendall_p is not None]
    lines.append("latency drift: " + ("; ".join(flagged) if flagged else "none flagged"))
    cold = [f"{m} warm-up {fmt_value(c.warmup_latency_ms, 'ms')}, first {fmt_value(c.first.first, 'ms')} vs warm median "
            f"{fmt_value(c.first.warm_median, 'ms')}" for m, c in r.cold_start.items()]
    if cold:
        lines.append("cold start: " + "; ".join(cold))
    advice = [a.sentence for a in r.advice if not a.significant and a.prompts_needed]
    if advice:
        lines += ["sample size:"] + [f"- {a}" for a in advice]
    lines += [f"note: {n}" for n in r.notes if r.pairing is None or n != r.pairing.note]
    lines.append("methods: paired by prompt (repeats averaged); Wilcoxon signed-rank / McNemar when paired, Mann-Whitney / "
                 "Fisher otherwise; effect A vs B: ratio of medians (every sample; bootstrap over prompts), else mean "
                 "difference with a t interval; "
                 f"{int(r.confidence * 100)}% CIs (full text: core.stats.METHODS, or `methods` in --format json)")
    return "\n".join(lines)


# =========================================================================== cost


@command("cost")
def cmd_cost(args: argparse.Namespace) -> int:
    from core.analysis import cost_report

    _check_confidence(args)
    try:
        r = cost_report(open_store(args), args.run_id, _settings(args), models=_list(args.models),
                        confidence=args.confidence, n_resamples=args.resamples, seed=args.seed)
    except LookupError as exc:
        if isinstance(exc, KeyError):
            raise
        raise CliError(str(exc.args[0] if exc.args else exc)) from None
    if args.format == "json":
        _print_json(r.to_dict())
    else:
        print(_cost_text(r))
    return 0


def _cost_text(r) -> str:  # noqa: ANN001 - core.analysis.CostReport
    from core.analysis import costs as C

    local = [{"model": x.model, "requests": x.n_requests, "s/request": _iv(x.seconds_per_request, "s"),
              "cost/request": _iv(x.cost_per_request, "USD"), "cost/1k out tokens": _iv(x.cost_per_1k_output_tokens, "USD"),
              "energy/request": _iv(x.energy_wh_per_request, "Wh"), "power": f"{x.power_watts:g} W {x.power_source}"}
             for x in r.local]
    cloud = [{"model": x.model, "cloud": x.cloud_model, "cloud/request": _iv(x.cost_per_request, "USD"),
              "local/month": _iv(x.projection.local_monthly, "USD"), "cloud/month": _iv(x.projection.cloud_monthly, "USD"),
              "local vs cloud": C.savings_text(x.projection.savings_pct),
              "break-even req/month": C.break_even_text(x.projection.break_even_per_month, short=True) or "never"}
             for x in r.cloud]
    lines = [r.cost_model, "", f"run {r.run_id}: local cost ({r.settings.currency})", _table(local), "",
             f"cloud, same token counts, at {count(r.settings.volume_per_month)} requests/month", _table(cloud), ""]
    if any(x.projection.break_even_per_month.estimate is None for x in r.cloud):
        lines.append(f"break-even never: {C.NO_BREAK_EVEN}")
    lines += [f"warning: {w}" for w in r.quality_warnings]
    lines += [f"- {a}" for a in r.assumptions]
    ivs = [x.cost_per_request for x in r.local if x.cost_per_request.n_resamples]
    if ivs:
        i = ivs[0]
        lines.append(f"intervals: {i.confidence * 100:g}% {i.method.replace('-', ' ')} ({i.n_resamples} resamples, seed {i.seed}); "
                     "formulas: core.analysis.costs.COST_METHODS (or `methods` in --format json)")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


# =========================================================================== sample size


@command("sample-size")
def cmd_sample_size(args: argparse.Namespace) -> int:
    from core.analysis import sample_size

    if not 0 < args.power < 1 or not 0 < args.alpha < 1:
        raise CliError("--power and --alpha must be between 0 and 1")
    r = sample_size(open_store(args), args.run_id, args.metric, args.effect, baseline=args.baseline, alpha=args.alpha, power=args.power)
    if args.format == "json":
        _print_json(r.to_dict())
        return 0
    from core.stats import metric_info

    unit = metric_info(r.metric).unit
    rows = [{"A": x.model_a, "B": x.model_b or DASH, "prompts now": x.n_prompts, "SD of differences": fmt_value(x.sd_difference, unit),
             "detectable now": fmt_value(x.detectable_now, unit), "prompts needed": fmt_value(x.prompts_needed, "count")
             if x.prompts_needed is not None else DASH, "note": x.note} for x in r.rows]
    print(f"run {r.run_id}: {r.metric}, effect {args.effect:g}\n{_table(rows)}\n\n{r.sentence}\nmethod: {r.method}")
    return 0
