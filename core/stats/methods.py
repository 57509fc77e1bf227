"""`METHODS`: the statistical methods of core.stats and core.compare, in prose (shown in
reports and the CLI's JSON)."""
from __future__ import annotations


METHODS = """\
Methods used by core.stats

Unit of analysis. A prompt (item) is the unit. When a prompt was run several times
(repeats), the repeats are not independent observations: intervals then use a cluster
bootstrap that resamples prompts with all their repeats, and model comparisons average the
repeats of each prompt first, then pair the two models prompt by prompt (tests, differences;
the ratio of medians keeps every repeat and resamples prompts).

Intervals (95% by default).
- Mean: Student t interval (scipy.stats.t) when each prompt has one value; cluster
  bootstrap otherwise.
- Percentiles (p50, p90, p95, p99): bootstrap, BCa (bias-corrected and accelerated) by
  default. Resampling is vectorised numpy (one index matrix rng.integers(0, n, (B, n)) from
  numpy.random.default_rng(seed), drawn once per (seed, n, B) and reused; order statistics
  from a row sort of 16-bit ranks (radix) or np.partition) and the BCa
  acceleration uses the closed-form jackknife of a sample quantile. This reproduces
  scipy.stats.bootstrap(method="BCa", rng=default_rng(seed)) on the same data (tested)
  at a fraction of the cost. When BCa is undefined (constant jackknife, bootstrap
  distribution on one side of the estimate) the percentile interval is used and the note
  says so.
- Resamples: 2000 by default; 1000 when there are more than 1000 observations. This is a
  speed trade-off (summary and all pairwise comparisons of 10 models x 3000 samples in a
  few seconds): the Monte Carlo error of each endpoint grows by about 1.4x, which is small
  beside the sampling error it estimates.
- Proportions (pass rate, error rate): Wilson score interval; Newcombe's hybrid score
  interval for a difference of two independent proportions.
- Cluster bootstrap (repeats): prompts are drawn with replacement (B x K index matrix),
  each resample's statistic is computed exactly as numpy.mean / numpy.percentile (linear
  interpolation) of the expanded resample (equal or nearly equal repeat counts: the
  resample's ranks sorted; very unequal counts: weighted order statistics); percentile
  interval. Used automatically when any prompt has more than one value.
- Ratio of medians: the headline of "how much slower / faster" for a pair of models:
  median(a) / median(b), the medians of every successful sample (repeats included) on the
  prompts both ran, so with a complete run it is the ratio of the summary's medians.
  Bootstrap over prompts: BCa over pairs (paired) or over each sample independently
  (unpaired) with one run per prompt; with repeats, a percentile cluster bootstrap that
  draws prompts with all their repeats (the same prompts for both models when paired).

Comparisons of two models on one metric.
- Paired when both models ran the same prompts (at least half of the larger item set is
  shared): Wilcoxon signed-rank test on per-prompt differences (default; robust to the
  skew and outliers of latency; zero differences dropped; p-value as scipy.stats.wilcoxon
  computes it: exact null distribution for n <= 50 pairs without ties or zero differences;
  with ties or zeros, an exact permutation p-value (all 2^n sign flips) for n <= 13 and the
  tie-corrected normal approximation without continuity correction above; above 50 pairs,
  always that normal approximation), paired t
  test on request; McNemar for pass/fail with one run per prompt (exact binomial when
  fewer than 25 discordant pairs, else chi-square with continuity correction).
- Unpaired fallback when prompts do not match: Mann-Whitney U (default) or Welch t; for
  pass/fail, Fisher's exact test. The comparison states which test was used and why.
- Effect sizes: mean difference (a - b) with a t interval (paired t or Welch), ratio of
  medians (a / b) with a bootstrap interval, Cohen's d (dz on differences when paired),
  Cliff's delta, rank-biserial correlation (matched-pairs when paired).
- Multiple comparisons: Holm (default; controls the family-wise error rate) or
  Benjamini-Hochberg (controls the false discovery rate) over the family of comparisons
  (by default, all pairs of one metric).
- Equivalence: two one-sided t tests (TOST) against a margin +/- m in the metric's unit;
  equivalent when the TOST p-value is below alpha.
- Power: paired t test on the SD of per-prompt differences (noncentral t): the smallest
  difference detectable with 80% power at alpha 0.05 at the current n, and the n needed
  for a target difference.
- Verdicts claim a difference only when the (adjusted) p-value is below alpha and the
  effect interval excludes no-difference; otherwise they say there is no significant
  difference (or that the size is uncertain).

Drift. Kendall tau (the Mann-Kendall trend test) and Spearman rho of latency against sample
order (Spearman's p: exact permutation distribution up to 9 samples, the t approximation
above), Theil-Sen slope with its interval (above 500 samples: on 500 medians of blocks of
consecutive samples, as Theil-Sen is quadratic in n); flagged when the trend is significant
and the slope exceeds 1% of the median per 100 samples. Cold start: first sample against the
median of the rest.
"""
