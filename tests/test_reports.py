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


def test_the_report_recommends_a_model_of_the_run_and_says_why(built):
    assert built.summary.recommended in MODELS
    assert built.summary.recommended in built.summary.why
    assert built.summary.baseline == built.summary.recommended  # no champion: compare with the recommendation
    assert built.comparison.rows and all(r[2] == built.summary.recommended for r in built.comparison.rows)  # B: the baseline
    assert len(built.distributions) >= 3 and built.pareto is not None and built.cost_charts
    assert any(item.item_id == "000-hostile" and item.prompt == HOSTILE for item in built.appendix)


def test_an_explicit_baseline_and_volume_are_used(run, built):
    store, run_id = run
    other = next(m for m in MODELS if m != built.summary.recommended)
    r = reports.build_report(store, run_id, ReportOptions(baseline=other, volume=1234))
    assert r.summary.baseline == other and all(row[2] == other for row in r.comparison.rows)
    assert r.summary.baseline_source == "chosen with --baseline"
    assert r.summary.recommended == built.summary.recommended  # the baseline does not change the recommendation
    assert any("1,234 requests/month" in t.title for t in r.cost_tables)


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
    assert f"Recommended model: {built.summary.recommended}" in flat
    assert XSS_SCRIPT in flat  # user text printed as it is (a PDF runs no HTML)
    assert text.count("\f") >= len(SECTIONS) - 1  # a section per page at least


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
