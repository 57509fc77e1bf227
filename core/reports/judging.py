"""The report's "Human ratings and judges" section (issue 14): mean blind ratings, agreement between
raters, the judge against the raters (with the plain stand-in sentence), Bradley-Terry leaderboards
with intervals, win-rate heatmaps, distinguishable pairs and the judge's position bias.

Built from core.rating_stats only when the run has ratings or pairwise judgements; numbers are
written by core.textfmt, names kept raw (each renderer escapes them).
"""
from __future__ import annotations

from dataclasses import dataclass

from core import rating_stats as RS
from core.charts.rankings import RankingChart
from core.queries import judgements as jq
from core.queries import ratings as rq
from core.reports.table import Table
from core.stats import Interval
from core.stats.bradley_terry import BradleyTerry
from core.stats.judge_agreement import JudgeAgreement
from core.store import Store
from core.textfmt import DASH, count, fmt_interval, fmt_p, number

TITLE = "Human ratings and judges"


@dataclass(frozen=True)
class JudgingSection:
    tables: tuple[Table, ...]
    sentences: tuple[str, ...]  # the judge against the raters (stand-in), position bias
    charts: tuple[RankingChart, ...]
    notes: tuple[str, ...] = ()


def has_judging(store: Store, run_id: str) -> bool:
    """Whether the run has human ratings or pairwise judge verdicts (then the report has the section)."""
    if rq.has_ratings(store, run_id):
        return True
    j = jq.pairwise_judgements(store, run_id)
    return bool(len(j)) and bool((j["status"] == "ok").any())


def judging_section(store: Store, run_id: str, *, confidence: float, n_resamples: int | None, seed: int) -> JudgingSection | None:
    """None when the run has neither ratings nor pairwise judgements."""
    if not has_judging(store, run_id):
        return None
    iv = dict(confidence=confidence, n_resamples=n_resamples or RS.RESAMPLES, seed=seed)
    hr = RS.human_ratings(store, run_id, **iv)
    jp = RS.judge_preferences(store, run_id, **iv)
    level = f"{confidence:.0%}"
    tables: list[Table] = []
    if hr.models:
        tables.append(Table(("Model", "Mean human rating (0-10)", "Ratings", "Raters", "Prompts"),
                            tuple((m.model, _iv(m.interval, "points 0-10"), count(m.ratings), count(m.raters), count(m.prompts))
                                  for m in hr.models),
                            "Mean blind rating per model",
                            f"The latest rating of each rater per answer; [low, high]: {level} interval, bootstrap over prompts.",
                            (False, True, True, True, True)))
    agree = [(mode, a) for mode, a in (("absolute (0-10)", hr.absolute_agreement), ("pairwise (A, B, tie)", hr.pairwise_agreement)) if a]
    if agree:
        tables.append(Table(("Ratings", "Statistic", "Agreement", "Raters"),
                            tuple((mode, a.statistic, _iv(a.interval), count(a.raters)) for mode, a in agree),
                            "Agreement between raters",
                            f"1 = perfect agreement, 0 = what chance gives; [low, high]: {level} interval, bootstrap over prompts.",
                            (False, False, True, True)))
    judges = [(mode, j) for mode, j in (("absolute", hr.judge_absolute), ("pairwise", hr.judge_pairwise)) if j]
    if judges:
        tables.append(_judge_table(judges, level))
    sentences = [f"Judge vs raters ({mode}): {j.sentence}" for mode, j in judges]
    charts: list[RankingChart] = []
    for source, key, bt in (("human preferences", "human", hr.ranking), ("judge preferences", "judge", jp.ranking if jp else None)):
        if bt is None:
            continue
        tables += [_leaderboard(bt, source, level), _pairs(bt, source, level)]
        charts += [RankingChart(f"bt-{key}", bt, "leaderboard", source, _leaderboard_caption(bt, level)),
                   RankingChart(f"winrate-{key}", bt, "heatmap", source, "A blank cell: the pair was never compared.")]
    if jp is not None:
        sentences.append(_bias_sentence(jp.bias, level))
    notes = tuple(n for n in (hr.ranking_note if hr.counts["pairwise"][0] else "",) if n)
    return JudgingSection(tuple(tables), tuple(sentences), tuple(charts), notes)


def _iv(i: Interval | None, unit: str = "number") -> str:
    return DASH if i is None else fmt_interval(i.estimate, i.low, i.high, unit)


def _judge_table(judges: list[tuple[str, JudgeAgreement]], level: str) -> Table:
    rows = tuple((mode, count(j.n_units), count(j.n_raters), _iv(j.judge_kappa), _iv(j.human_kappa), _iv(j.spearman),
                  "yes" if j.stands_in else "no") for mode, j in judges)
    return Table(("Ratings", "Answers rated by both", "Raters", "Kappa, judge vs raters", "Kappa, raters vs each other",
                  "Spearman, judge vs mean rating", "Judge can stand in"), rows, "The LLM judge against the raters",
                 f"Kappa: Cohen's kappa averaged over raters (weighted for 0-10 scores); Spearman: rank correlation of the "
                 f"judge's score with the raters' mean (absolute ratings only); [low, high]: {level} interval, bootstrap over prompts.",
                 (False, True, True, True, True, True, False))


def _leaderboard(bt: BradleyTerry, source: str, level: str) -> Table:
    rows = tuple((str(r.rank), r.model, _iv(r.strength), f"{r.rank_low}-{r.rank_high}", number(r.wins), number(r.losses),
                  number(r.ties)) for r in bt.leaderboard)
    return Table(("Rank", "Model", "Strength (log-odds)", "Bootstrap ranks", "Won", "Lost", "Tied"), rows,
                 f"Bradley-Terry leaderboard from {source}",
                 f"Strength: Bradley-Terry log-odds, the mean model = 0 (ties: {bt.ties}); [low, high]: {level} interval, "
                 f"bootstrap over {count(bt.n_prompts)} prompts; {count(bt.n_comparisons)} comparisons." + (f" {bt.note}" if bt.note else ""),
                 (True, False, True, True, True, True, True))


def _pairs(bt: BradleyTerry, source: str, level: str) -> Table:
    rows = tuple((p.model_a, p.model_b, _iv(p.difference), fmt_p(p.p_adjusted), "yes" if p.distinguishable else "no")
                 for p in bt.pairs)
    return Table(("Model", "Against", "Strength difference", "p (adjusted)", "Distinguishable"), rows,
                 f"Which pairs are distinguishable ({source})",
                 f"Difference of Bradley-Terry strengths; p adjusted for {len(bt.pairs)} pairs ({bt.correction}); "
                 f"distinguishable: adjusted p below {bt.alpha:g}; [low, high]: {level} interval.",
                 (False, False, True, True, False))


def _leaderboard_caption(bt: BradleyTerry, level: str) -> str:
    return f"Dots: Bradley-Terry strength; bars: {level} interval from a bootstrap over prompts."


def _bias_sentence(bias: RS.PositionBias, level: str) -> str:
    if not bias.n_pairs:
        return (f"Position bias of the judge: no pair was judged in both orders yet ({count(bias.n_incomplete)} in one "
                "order only); run `python -m core judge RUN_ID --pairwise A B` again to finish them.")
    s = bias.share
    return (f"Position bias of the judge: its verdict depended on which answer was shown first on "
            f"{count(bias.n_order_dependent)} of {count(bias.n_pairs)} pairs asked in both orders "
            f"(share {fmt_interval(s.estimate, s.low, s.high, 'fraction')}, {level} Wilson interval; "
            f"{count(bias.favoured_first)} favoured the first answer, {count(bias.favoured_second)} the second). "
            "Those pairs count as ties in the judge's ranking.")
