"""Reports (issue 5, part 2) on a real run of the demo models: HTML in headless chromium
(offline, every chart drawn, no console errors, hostile text inert), PDF text via pdftotext,
Markdown with its chart files, CSV/Parquet round trips, the CLI, and the dashboard's bytes.

One small dedicated run (demo-tiny and demo-small on six demo-qa prompts plus one hostile
prompt) is shared by the module; every report is written once into a module folder.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from core import config, prompts, reports
from core.cli import main as cli_main
from core.reports import SECTIONS, ReportOptions
from core.runner import Runner
from core.schemas import GenerationParams, RunSpec
from core.store import Store

MODELS = ("demo-tiny", "demo-small")
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
HOSTILE = f"Question: what is {XSS_SCRIPT} and {XSS_IMG}?\nAnswer:"
RUN_NAME = 'q3 <b onmouseover="alert(3)">eval</b>'
CHROMIUM = Path("/usr/bin/chromium")
PINNED = ReportOptions(generated_at="2026-01-02 03:04 UTC")

pytestmark = pytest.mark.skipif(
    not all((config.MODELS_DIR / m / "model.safetensors").is_file() for m in MODELS),
    reason="needs the trained demo models (python scripts/train_demo_models.py)")


@pytest.fixture(scope="module")
def run(tmp_path_factory, loader):
    """(store, run_id): six demo-qa items and one hostile prompt (sorted first, so it is in the
    appendix), both demo models, 8 new tokens each."""
    tmp = tmp_path_factory.mktemp("reports")
    store = Store(tmp / "reports.duckdb")
    items = [json.loads(line) for line in (config.ROOT / "data" / "prompt_sets" / "demo-qa.jsonl").read_text().splitlines()[:6]]
    items.insert(0, {"id": "000-hostile", "prompt": HOSTILE, "reference": XSS_IMG, "category": "<i>odd</i>"})
    src = tmp / "set.jsonl"
    src.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    prompts.import_set(store, src, "report-set")
    spec = RunSpec(models=MODELS, prompt_set="report-set", generation=GenerationParams(max_new_tokens=8), device="cpu",
                   name=RUN_NAME)
    runner = Runner(store, loader=loader)
    run_id = runner.create(spec)
    runner.execute(run_id)
    return store, run_id


@pytest.fixture(scope="module")
def built(run):
    store, run_id = run
    return reports.build_report(store, run_id, PINNED)


@pytest.fixture(scope="module")
def out(run, tmp_path_factory):
    """Every format written once, as the CLI writes it, under the names the dashboard's
    buttons use: {fmt: [paths]}, OUT first."""
    from ui import reports as rp

    store, run_id = run
    folder = tmp_path_factory.mktemp("out")
    names = {d.fmt: d.out_name for d in rp.report_downloads(run_id) + rp.data_downloads(run_id)}
    return {fmt: reports.write_report(store, run_id, fmt, folder / name, PINNED) for fmt, name in names.items()}


# =========================================================================== content


def test_the_report_recommends_no_model_that_answered_nothing_right(run, built):
    """Issue 11: demo-tiny answers none of these prompts right and ties with demo-small on quality
    (seven prompts cannot separate them); being faster, it was recommended. Now it never is (no model
    is when it is the fastest, and the summary says why); the comparisons are made against the
    best-quality model."""
    store, run_id = run
    passed = store.query_df("SELECT model, count(*) FILTER (WHERE passed) AS n FROM samples WHERE run_id = ? GROUP BY model",
                            [run_id]).set_index("model")["n"]
    assert passed["demo-tiny"] == 0
    s = built.summary
    # which contender is fastest is a measurement (the whole suite's load once made demo-small the faster):
    # whatever it is, the model that answered nothing right is never the one recommended; the rule itself is
    # pinned without timing in tests/test_analysis.py (the fastest contender passed none -> no model)
    assert s.recommended != "demo-tiny"
    assert s.recommended is not None or "so none can be recommended" in s.why
    assert s.baseline in MODELS and s.baseline_source == "the model with the best mean quality"
    assert built.comparison.rows and all(r[2] == s.baseline for r in built.comparison.rows)  # B: the baseline
    assert len(built.distributions) >= 3 and built.pareto is not None and built.cost_charts
    assert any(item.item_id == "000-hostile" and item.prompt == HOSTILE for item in built.appendix)


def test_the_report_recommends_a_model_and_compares_with_it(tmp_path):
    """A run that separates its models (60 prompts; model-01 scores significantly higher)."""
    from bench.analysis import synthetic_run

    store = Store(tmp_path / "synth.duckdb")
    synthetic_run(store, run_id="syn", n_models=2, n_items=60, repeats=1, error_rate=0.0)
    r = reports.build_report(store, "syn", PINNED)
    assert r.summary.recommended == "model-01" and "model-01" in r.summary.why
    assert r.summary.baseline == "model-01" and r.summary.baseline_source == "the recommended model"
    assert r.comparison.rows and all(row[2] == "model-01" for row in r.comparison.rows)


def test_the_report_states_each_effect_and_its_ratio_is_that_of_the_kpi_medians(run, built):
    """Issue 11: one pair, one 'how much slower': the report's latency effect is the ratio of the KPI
    table's median latencies, written as the verdicts write it, and names its statistic."""
    from core import analysis
    from core.compare import factor_text

    store, run_id = run
    kpi = analysis.kpi_table(store, run_id)
    rows = [r for r in built.comparison.rows if r[0] == "latency"]
    assert rows and all(r[7].endswith("(ratio of medians A/B)") for r in rows)
    for r in rows:
        ratio = kpi.value(r[1], "latency_ms_p50") / kpi.value(r[2], "latency_ms_p50")
        assert r[7].startswith(factor_text(ratio) + " ["), (r[7], ratio)
    assert all(r[7].endswith("(difference of means A-B)") for r in built.comparison.rows if r[0] == "quality")


def test_an_explicit_baseline_and_volume_are_used(run, built):
    store, run_id = run
    other = next(m for m in MODELS if m != built.summary.recommended)
    r = reports.build_report(store, run_id, ReportOptions(baseline=other, volume=1234))
    assert r.summary.baseline == other and all(row[2] == other for row in r.comparison.rows)
    assert r.summary.baseline_source == "chosen with --baseline"
    assert r.summary.recommended == built.summary.recommended  # the baseline does not change the recommendation
    assert any("1,234 requests/month" in t.title for t in r.cost_tables)


def test_the_cost_section_states_its_cost_model_once_and_words_the_savings(built, out):
    sentence = built.cost_notes[0]
    assert sentence.startswith("Cost model: dedicated machine")
    assert out["md"][0].read_text().replace("\\", "").count(sentence) == 1  # stated once, in the cost section
    cloud = next(t for t in built.cost_tables if "Local vs cloud" in t.columns)
    cells = [row[cloud.columns.index("Local vs cloud")] for row in cloud.rows]
    assert cells and all(c.startswith(("saves", "local costs", "n/a")) for c in cells)
    assert not any("savings of -" in b for b in built.summary.savings)


def test_unknown_run_and_baseline_are_clear_errors(run):
    store, run_id = run
    with pytest.raises(KeyError, match="no run 'nope'"):
        reports.build_report(store, "nope")
    with pytest.raises(ValueError, match="baseline 'ghost' has no successful requests"):
        reports.build_report(store, run_id, ReportOptions(baseline="ghost"))


# =========================================================================== HTML


def test_html_is_self_contained_and_escapes_user_text(out):
    html = out["html"][0].read_text()
    assert not re.search(r"<(script|img|link|iframe)[^>]*\s(src|href)\s*=", html, re.I)  # nothing loaded from anywhere
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "unsafe-eval" not in csp
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert XSS_SCRIPT not in html and XSS_IMG not in html and "<b onmouseover" not in html
    assert html.count("<script>") == 3  # plotly's config, plotly.js, the drawing code: nothing else


def test_html_appendix_colours_each_output_by_its_outcome(out):
    """Issue 11: an answer that failed the check was printed green (its request succeeded)."""
    html = out["html"][0].read_text()
    spans = re.findall(r'<span(?: class="status-(\w+)")?>([^<]*)</span>', html)
    failed = [cls for cls, text in spans if "failed the check" in text]
    assert failed and all(cls == "bad" for cls in failed)
    assert all(cls == "ok" for cls, text in spans if text.endswith(", passed"))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright python package")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def opened(browser, out, built):
    """The HTML report in a fresh page: every request outside file:/data:/blob: recorded and
    refused, console errors, page errors and dialogs recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = {"requests": [], "errors": [], "dialogs": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))

    def route(r):  # noqa: ANN001 - playwright Route
        url = r.request.url
        if url.split(":", 1)[0] in ("file", "data", "blob"):
            return r.continue_()
        seen["requests"].append(url)
        return r.abort()

    context.route("**/*", route)
    page.goto(out["html"][0].as_uri())
    n = len(built.charts())
    page.wait_for_function(f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {n}", timeout=30_000)
    page.wait_for_load_state("networkidle")
    yield page, seen
    context.close()


@pytest.mark.browser
def test_html_opens_offline_with_every_chart_and_no_errors(opened, built):
    page, seen = opened
    ids = [f"chart-{c.key}" for c in built.charts()]
    drawn = page.eval_on_selector_all(".plotly-graph-div", "els => els.filter(e => e.querySelector('.main-svg')).map(e => e.id)")
    assert sorted(drawn) == sorted(ids) and len(ids) >= 6
    assert page.locator(".plotly-graph-div .main-svg .trace").count() >= len(ids)  # data drawn, not just axes
    assert seen["errors"] == []
    assert seen["requests"] == []
    for key, title in SECTIONS.items():
        assert page.locator(f"section#{key} h2").inner_text() == title


@pytest.mark.browser
def test_hostile_prompt_shows_as_text_and_runs_nothing(opened):
    page, seen = opened
    item = page.locator(".item", has_text="000-hostile")
    assert item.locator("pre").first.inner_text() == HOSTILE
    assert XSS_IMG in item.locator("pre").nth(1).inner_text()  # the reference
    assert page.locator("h1").inner_text() == f"Evaluation report: {RUN_NAME}"
    page.mouse.move(10, 10)
    page.locator("h1").hover()
    page.wait_for_timeout(300)  # an onerror or onmouseover handler would have fired by now
    assert seen["dialogs"] == []
    assert page.locator("img").count() == 0 and page.locator("b[onmouseover]").count() == 0
    assert page.locator("script").count() == 3


# =========================================================================== PDF


def test_pdf_text_has_every_section_and_the_recommendation(out, built):
    pdftotext = shutil.which("pdftotext")
    if not pdftotext:
        pytest.skip("needs pdftotext (apt-get install poppler-utils)")
    pdf = out["pdf"][0]
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    for title in SECTIONS.values():
        assert title in flat, title
    rec = built.summary.recommended
    assert (f"Recommended model: {rec}" if rec else "No model can be recommended") in flat
    assert XSS_SCRIPT in flat  # user text printed as it is (a PDF runs no HTML)
    assert text.count("\f") >= len(SECTIONS) - 1  # a section per page at least
    assert "mathdefault" not in text  # (chart tick labels: tests/test_charts.py reads them from the figures)
    # Issue 11: table cells split model names ("demo-ti" / "ny"): cells wrap at spaces only
    names = {w.strip(".,;:()[]'") for w in text.split() if w.startswith("demo-")}
    assert names and all(n.removesuffix("'s") in MODELS for n in names), sorted(names - set(MODELS))
    assert "Cohen's d" in flat and "mcnemar-exact" in flat  # table headers and cells whole


# =========================================================================== Markdown


def test_markdown_has_the_sections_and_its_chart_files(out, built):
    md_path, *images = out["md"]
    text = md_path.read_text()
    for title in SECTIONS.values():
        assert f"\n## {title}\n" in text, title
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == len(built.charts())
    for link in links:
        f = md_path.parent / link
        assert f.is_file() and f.read_bytes().startswith(b"\x89PNG"), link
    assert sorted(images) == sorted(md_path.parent / link for link in links)
    outside_code = re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", text)
    assert "<script" not in outside_code and "<img" not in outside_code and "<b " not in outside_code
    assert HOSTILE in text  # inside a code fence, verbatim


# =========================================================================== CSV / Parquet


def _same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values("result_key").reset_index(drop=True)
    want = want.sort_values("result_key").reset_index(drop=True)
    assert list(got.columns) == list(want.columns) and len(got) == len(want) > 0
    for col in want.columns:
        a, b = got[col], want[col]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            pd.testing.assert_series_equal(a.astype(float), b.astype(float), check_names=False, rtol=1e-12)
        elif pd.api.types.is_datetime64_any_dtype(b):
            assert (pd.to_datetime(a, utc=True) == pd.to_datetime(b, utc=True)).all() or (a.isna() & b.isna()).all(), col
        else:
            norm = lambda s: s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))  # noqa: E731
            assert norm(a).tolist() == norm(b).tolist(), col


def test_parquet_round_trips_to_the_rows_of_the_store(run, out):
    store, run_id = run
    samples, kpis = out["parquet"]
    assert kpis.name == samples.stem + ".kpis.parquet"
    want = store.samples_df(run_id)
    got = pd.read_parquet(samples)
    _same_rows(got, want)
    pd.testing.assert_frame_equal(got.sort_values("result_key").reset_index(drop=True),
                                  want.sort_values("result_key").reset_index(drop=True), check_dtype=False)
    k = pd.read_parquet(kpis)
    assert set(k["model"]) == set(MODELS) and {"kpi", "value", "low", "high", "method", "seed"} <= set(k.columns)
    pd.testing.assert_frame_equal(k, reports.kpi_frame(store, run_id, PINNED), check_dtype=False)


def test_csv_round_trips_to_the_rows_of_the_store(run, out):
    store, run_id = run
    samples, kpis = out["csv"]
    want = store.samples_df(run_id)
    got = pd.read_csv(samples, keep_default_na=False, na_values=[""])
    _same_rows(got, want)
    k = pd.read_csv(kpis)
    ref = reports.kpi_frame(store, run_id, PINNED)
    assert len(k) == len(ref) and list(k.columns) == list(ref.columns)
    pd.testing.assert_series_equal(k["value"].astype(float), ref["value"].astype(float), check_names=False)


# =========================================================================== CLI and dashboard bytes


def test_cli_writes_each_format_and_rejects_mistakes(run, tmp_path, capsys):
    store, run_id = run
    db = str(store.path)
    assert cli_main(["report", run_id, "--db", db, "--format", "html", "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert cli_main(["report", run_id, "--db", db, "--format", "csv", "--out", str(tmp_path / "d" / "s.csv")]) == 0
    assert (tmp_path / "d" / "s.kpis.csv").is_file()
    capsys.readouterr()
    cases = {
        ("nope", "html"): "no run 'nope'",
        (run_id, "docx"): "unknown format 'docx'; use one of: html, pdf, md, csv, parquet",
    }
    for (rid, fmt), msg in cases.items():
        assert cli_main(["report", rid, "--db", db, "--format", fmt, "--out", str(tmp_path / f"x.{fmt}")]) == 2
        assert msg in capsys.readouterr().err
    assert cli_main(["report", run_id, "--db", db, "--format", "pdf", "--out", str(tmp_path / "x.pdf"), "--baseline", "ghost"]) == 2
    assert "baseline 'ghost'" in capsys.readouterr().err
    assert cli_main(["report", run_id, "--db", db, "--format", "pdf", "--out", str(tmp_path / "x.pdf"), "--volume", "0"]) == 2
    assert "--volume" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_dashboard_downloads_are_the_cli_files(run, out):
    """ui.reports.data (what the Reports page's buttons serve, from its own build of the report)
    against write_report (what the CLI writes): the same bytes, PDF and zip included."""
    from ui import reports as rp

    store, run_id = run
    downloads = rp.report_downloads(run_id) + rp.data_downloads(run_id)
    assert len({d.file_name for d in downloads}) == len(downloads) == 7
    for d in downloads:
        blob = rp.data(store, run_id, ("v1",), d, PINNED)
        folder = out[d.fmt][0].parent
        cli = {p.relative_to(folder).as_posix(): p.read_bytes() for p in out[d.fmt]}
        if d.pick is not None:
            assert blob == cli[d.pick], d.label
        elif len(cli) > 1:  # Markdown: the document and its charts, zipped under the CLI's names
            with zipfile.ZipFile(io.BytesIO(blob)) as z:
                assert {n: z.read(n) for n in z.namelist()} == cli
        else:
            assert blob == cli[d.out_name], d.label


def test_memory_is_the_model_footprint_and_the_generation_peak_with_the_process_as_context(built):
    """Issue 11 item 5: the report's memory is what a user needs to fit a model, each figure
    labelled; the whole process's RSS is context and is not what the models are compared on."""
    t = next(t for t in built.kpi_tables if t.title == "Memory")
    assert t.columns == ("Model", "Model footprint", "Peak added per generation, max", "Memory needed", "Process peak RSS")
    assert "whole process" in t.note and "Memory needed = footprint + peak added" in t.note
    scale = {"MB": 1.0, "GB": 1024.0}

    def megabytes(cell: str) -> float:  # textfmt.mb writes GB from 1,024 MB up
        number, unit = cell.split()
        return float(number.replace(",", "")) * scale[unit]

    for row in t.rows:
        footprint, process = megabytes(row[1]), megabytes(row[4])
        assert footprint < 50 < process, row
    metrics = {r[0] for r in built.comparison.rows}
    assert "peak memory added per generation" in metrics and not any("RSS" in m for m in metrics)


# =========================================================================== arms across runs


@pytest.fixture(scope="module")
def arms_db(tmp_path_factory):
    """Two synthetic runs on the same prompt-set version: arms r1:model-00 and r2:model-01."""
    from bench.analysis import synthetic_run

    db = tmp_path_factory.mktemp("arms") / "arms.duckdb"
    store = Store(db)
    for i, rid in enumerate(("r1", "r2")):
        synthetic_run(store, run_id=rid, n_models=2, n_items=30, repeats=1, error_rate=0.0, seed=i)
    return store, str(db)


ARMS = ("r1:model-00", "r2:model-01")
ARM_LABELS = ("model-00@r1", "model-01@r2")


def _arm_args(db: str, fmt: str, out: Path) -> list[str]:
    return ["report", "--arm", ARMS[0], "--arm", ARMS[1], "--db", db, "--format", fmt, "--out", str(out)]


def test_arms_report_in_html_and_markdown_names_the_arms_pairing_and_verdicts(arms_db, tmp_path):
    store, db = arms_db
    built = reports.build_arms_report(store, ARMS, PINNED)
    assert built.kind == "arms" and set(built.sections) == {"summary", "comparisons", "methods"}
    assert built.pairing.startswith("paired by prompt on 30 prompts")
    assert built.comparison.rows and built.pareto_table is not None and built.advice
    assert "Holm" in " ".join(built.comparison.columns)
    for fmt, name in (("html", "a.html"), ("md", "a.md")):
        assert cli_main(_arm_args(db, fmt, tmp_path / name)) == 0
    page = unescape(re.sub(r"<[^>]+>", " ", (tmp_path / "a.html").read_text()))
    md = (tmp_path / "a.md").read_text().replace("\\", "")
    assert (tmp_path / "a_charts" / "pareto.png").is_file()
    for text in (page, md):
        assert all(label in text for label in ARM_LABELS)
        assert "paired by prompt on 30 prompts" in text
        assert "significant difference in quality between model-00@r1 and model-01@r2" in text
        assert "Pareto table" in text and "Sample size" in text and "Methods used by core.stats" in text
        assert "Environment manifest" not in text and "Recommended model" not in text


def test_arms_report_escapes_run_names_in_html(tmp_path):
    from bench.analysis import synthetic_run

    store = Store(tmp_path / "x.duckdb")
    bad = 'r<script>alert(1)</script>'
    synthetic_run(store, run_id="r1", n_models=2, n_items=10, repeats=1, error_rate=0.0)
    synthetic_run(store, run_id=bad, n_models=2, n_items=10, repeats=1, error_rate=0.0, seed=1)
    html = reports.html(reports.build_arms_report(store, ["r1:model-00", f"{bad}:model-01"], PINNED))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_arms_report_pdf_and_tables(arms_db, tmp_path):
    _, db = arms_db
    assert cli_main(_arm_args(db, "pdf", tmp_path / "a.pdf")) == 0
    data = (tmp_path / "a.pdf").read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1000
    assert cli_main(_arm_args(db, "csv", tmp_path / "a.csv")) == 0
    comp, pareto = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "a.pareto.csv")
    assert len(comp) >= 1 and set(pareto["model"]) == set(ARM_LABELS)


def test_arms_report_rejects_mistakes(arms_db, tmp_path, capsys):
    _, db = arms_db
    out = str(tmp_path / "x.html")
    base = ["--db", db, "--format", "html", "--out", out]
    capsys.readouterr()
    assert cli_main(["report", "--arm", "r1:ghost", "--arm", ARMS[1], *base]) == 2
    assert "run r1 has no model 'ghost'" in capsys.readouterr().err
    assert cli_main(["report", "--arm", "r1-no-colon", "--arm", ARMS[1], *base]) == 2
    assert "an arm is RUN:MODEL" in capsys.readouterr().err
    assert cli_main(["report", "r1", "--arm", ARMS[0], "--arm", ARMS[1], *base]) == 2
    assert "give no RUN_ID" in capsys.readouterr().err
    assert cli_main(["report", "--arm", ARMS[0], *base]) == 2
    assert "two or more --arm" in capsys.readouterr().err
    assert cli_main(["report", *base]) == 2
    assert "needs a RUN_ID" in capsys.readouterr().err
    assert not Path(out).exists()


def test_human_ratings_and_judges_section_only_for_a_rated_run_with_names_escaped(tmp_path):
    from bench.analysis import synthetic_run
    from core import ratings as R

    store = Store(tmp_path / "rated.duckdb")
    synthetic_run(store, run_id="rated", n_models=2, n_items=6, repeats=1, error_rate=0.0)
    synthetic_run(store, run_id="plain", n_models=2, n_items=3, repeats=1, error_rate=0.0)
    for rater in ("ann", "bob"):
        qa, qp = R.queue(store, rater, "rated", "absolute"), R.queue(store, rater, "rated", "pairwise")
        for u in qa.units:
            R.submit(store, qa, u, score=8 if u.models[0] == "model-01" else 3)
        for u in qp.units:
            R.submit(store, qp, u, preference="A" if u.models[0] == "model-01" else "B")
    evil = "<img src=x onerror=alert(1)>*m*"
    for item in ("item-0000", "item-0001"):
        store.append_rating({"rater": "ann", "run_id": "rated", "mode": "absolute", "item_id": item, "repeat": 0,
                             "model": evil, "score": 5.0, "scale_min": 0.0, "scale_max": 10.0, "seed": 1, "origin": "test"})
    opts = ReportOptions(generated_at="2026-01-02 03:04 UTC", n_resamples=200)
    r = reports.build_report(store, "rated", opts)
    assert list(r.sections)[-4:] == ["judging", "methods", "environment", "appendix"]
    titles = [t.title for t in r.judging.tables]
    assert titles[:2] == ["Mean blind rating per model", "Agreement between raters"]
    assert "Bradley-Terry leaderboard from human preferences" in titles
    assert "Which pairs are distinguishable (human preferences)" in titles
    assert {c.kind for c in r.judging.charts} == {"leaderboard", "heatmap"}
    html = reports.html(r)
    assert "Human ratings and judges" in html and "Krippendorff" in html and "Mean human rating (0-10)" in html
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    md = reports.markdown(r)
    assert "## Human ratings and judges" in md.text and "Cohen's kappa" in md.text and evil not in md.text
    assert any("bt-human" in path for path in md.images) and any("winrate-human" in path for path in md.images)
    assert reports.pdf(r)[:4] == b"%PDF"
    plain = reports.build_report(store, "plain", opts)
    assert plain.judging is None and "judging" not in plain.sections
    assert "Human ratings and judges" not in reports.html(plain) and "Human ratings" not in reports.markdown(plain).text


def test_a_reports_intervals_are_the_dashboards_above_5000_samples(tmp_path) -> None:  # noqa: ANN001
    """Reports resampled 500 times above 5,000 samples, so their intervals differed from the KPI table the
    dashboard shows (1,000 resamples) in the third digit. Now both use the statistics' defaults."""
    from bench.analysis import synthetic_run
    from core import analysis

    store = Store(tmp_path / "mid.duckdb")
    synthetic_run(store, run_id="mid", n_models=2, n_items=1_500, repeats=2, error_rate=0.0)  # 6,000 samples
    shown = analysis.kpi_table(store, "mid").frame  # what the Results page computes
    reported = reports.kpi_frame(store, "mid")
    cols = ["model", "kpi", "value", "low", "high", "n_resamples"]
    pd.testing.assert_frame_equal(reported[cols], shown[cols], check_dtype=False)
    assert set(reported["n_resamples"].dropna()) == {1000}
