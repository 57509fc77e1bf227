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
  interval. Used automatically when any prompt has more than one value. From 20,000
  values on, a resample's quantile is located in a window of sorted values around the
  sample quantile (two standard deviations of the resampled count below it) plus each
  resample's count below the window; the window is checked for every resample and widened
  where a target falls outside, so the values are exactly those of the full sort, from the
  same draws (tested), at about a tenth of the cost.
- Large samples (from 5,000 prompts, core.stats.large_sample): resampling prompts is replaced
  by a Gaussian multiplier (wild) bootstrap over prompts: each resample weights every prompt's
  total by w_c ~ N(0, 1), so a mean (or a ratio of totals) is resampled as
  (T + sum w_c (t_c - mean t)) / (N + sum w_c (n_c - mean n)), the with-replacement
  bootstrap's variance to first order; a quantile by Woodruff's method: the share of values at
  or below the sample quantile, resampled the same way, mapped back through the sample's
  quantile function. Percentile intervals. For one model's statistics the weighted sums are
  drawn from their exact distribution (normal, covariance Z'Z of the centred per-prompt
  totals); two models compared on the same prompts (the ratio of medians) share one weight
  matrix per (seed, prompts, resamples), so paired comparisons stay paired; the all-pairs
  comparison (core.compare.pairwise) draws every model on the same prompts together, from the
  exact joint normal of their stacked per-prompt columns (core.stats.multiplier_batch), so every
  pair stays paired without the k-wide weights (a pair's interval then differs from the pair
  compared alone by Monte Carlo error: within 15% of its width, tests/test_compare.py). With thousands of
  prompts the normal approximation behind it is exact to a few percent of the interval's
  width (checked against the cluster bootstrap at 6,000 prompts, and for coverage by
  simulation: tests/test_large_sample.py). A column with values on fewer than 5,000 prompts
  keeps the cluster bootstrap.
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

Agreement between raters (human ratings and judges). A unit is one rated sample (absolute
ratings) or one (prompt, pair of answers) (pairwise preferences); when a rater rated a unit
twice, the later rating counts. Every interval is a percentile bootstrap (2000 resamples,
seed 0) over units, or over prompts with all their units when several units share a prompt.
- Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"):
  1 - (n - 1) D_o / D_e from the coincidence matrix of pairable values, so missing ratings
  are allowed (units rated once are left out); interval metric (squared difference) for 0-10
  ratings, nominal for categories (ordinal and ratio also available). Reproduces the paper's
  worked example (nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797; tested).
- Cohen's kappa for two raters on the units both rated; weighted kappa with linear or
  quadratic disagreement weights on the categories' values (|i - j| / range, squared).
- Fleiss' kappa for many raters on categories (pairwise verdicts A, B, tie); a unit rated by
  fewer than two raters is left out, and with unequal numbers of raters each unit's agreement
  uses its own count. Reproduces Fleiss (1971) as worked on Wikipedia (0.210; tested).
- A judge against the raters, on the units the judge and at least one rater rated: Spearman's
  rho between the judge's score and the raters' mean rating (ratings only); kappa between the
  judge and each rater, averaged over raters (quadratic-weighted for ratings, unweighted for
  preferences), and the same kappa averaged over pairs of raters; all from one bootstrap, so
  the difference (judge-rater minus rater-rater kappa) has its own interval.
- Can the judge stand in for the raters? Yes when (1) the lower 95% bound of the judge-rater
  kappa is at least 0.6 ("substantial", Landis and Koch 1977) and (2) the interval of the
  difference above does not lie entirely below 0 (the judge does not agree with the raters
  clearly less than they agree with each other). With one rater only (1) is checked, and the
  sentence says a second rater is needed to check (2).

Rankings from pairwise preferences.
- Bradley-Terry with ties (Davidson 1970): P(i beats j) = pi_i / D, P(tie) =
  nu sqrt(pi_i pi_j) / D, D = pi_i + pi_j + nu sqrt(pi_i pi_j); maximum likelihood by Newton's
  method (the log-likelihood is concave in log-strengths and log nu), log-strengths identified
  by sum-to-zero (a difference of 1 is a factor e in the odds of winning). A weak ridge
  (1e-4 times the squared parameters) keeps strengths finite when a model wins or loses every
  comparison (no maximum-likelihood estimate exists then, and the result says so). Without
  ties in the data, or with ties "split" (half a win each), it is the plain Bradley-Terry model.
- Intervals: percentile bootstrap over prompts (each prompt drawn with all its preferences),
  2000 resamples, seed 0; the leaderboard shows each strength's interval and the middle 95% of
  the model's bootstrap ranks.
- Distinguishable pairs: for each pair, the bootstrap p-value 2 min(P*(d <= 0), P*(d >= 0))
  (with the +1 correction) of the strength difference d, Holm-adjusted over all pairs
  (family-wise error 5%); a pair is distinguishable when the adjusted p-value is below 0.05.
  The difference's interval shown is unadjusted.
- Win-rate matrix: the row model's share of its comparisons with the column model that it
  won, a tie counting half (observed, not modelled).
- Position bias: a judge's pairwise verdicts are asked in both orders; a pair whose two
  verdicts differ (a tie in one order included) is order-dependent and counts as a tie. The
  share of order-dependent pairs is reported with a Wilson interval; pairs judged in one order
  only are left out and counted.
"""
