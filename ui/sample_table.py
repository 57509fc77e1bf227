"""All samples of a run, one page at a time (core.queries.sample_pages does the filtering, search,
sorting and paging in DuckDB; only the page shown reaches this process and the browser).

The full filtered set is downloadable: DuckDB writes it to a file in a temporary folder on
the dashboard's machine and the download button serves that file (read when the file is
prepared, never rendered into the page). User text goes to st.dataframe only.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from core.queries import sample_pages as sp
from ui import format as fmt
from ui import state

PAGE_SIZES = (25, 50, 100, 200)
PASS_CHOICES = {"any": "Pass or fail", "passed": "Passed only", "failed": "Failed only"}
EXPORT_DIR = Path(tempfile.gettempdir()) / "llm-eval-exports"


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def _page(path: str, run_id: str, version: tuple, f: sp.SampleFilter, sort: str, descending: bool,
          page_size: int, page_no: int) -> sp.SamplePage:
    return sp.page(state.store(), run_id, f, sort=sort, descending=descending, page_size=page_size, page_no=page_no)


def _filter(run_id: str, models: Sequence[str], key: str) -> sp.SampleFilter:
    c1, c2, c3 = st.columns(3)
    chosen = c1.multiselect("Models", list(models), key=f"{key}.models", placeholder="every model")
    cats = c2.multiselect("Categories", state.categories(run_id), key=f"{key}.cats", placeholder="every category")
    statuses = c3.multiselect("Status", list(sp.STATUSES), key=f"{key}.status", placeholder="any status")
    c1, c2, c3 = st.columns(3)
    passed = c1.selectbox("Pass / fail", list(PASS_CHOICES), format_func=PASS_CHOICES.get, key=f"{key}.passed")
    lo, hi = c2.slider("Quality (0-10)", 0.0, 10.0, (0.0, 10.0), 0.5, key=f"{key}.quality",
                       help="The full range also lists samples without a quality (errors).")
    text = c3.text_input("Search prompt, output and reference", key=f"{key}.text", max_chars=200,
                         help="Case-insensitive; a sample matches when its output, its prompt or its reference contains the text.")
    full = (lo, hi) == (0.0, 10.0)
    items = sp.prompt_matches(state.prompt_items(run_id), text) if text.strip() else ()
    return sp.SampleFilter(models=tuple(chosen), categories=tuple(cats), statuses=tuple(statuses),
                           passed={"any": None, "passed": True, "failed": False}[passed],
                           quality_min=None if full else lo, quality_max=None if full else hi, text=text, text_items=items)


def section(run_id: str, models: Sequence[str], key: str = "results.samples") -> None:
    """Filters, sort, page picker, the page as a table, and the download of the whole filtered set."""
    f = _filter(run_id, models, key)
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    sort = c1.selectbox("Sort by", list(sp.SORTS), format_func=sp.SORTS.get, key=f"{key}.sort")
    descending = c2.toggle("Descending", key=f"{key}.desc")
    size = c3.selectbox("Rows per page", PAGE_SIZES, index=1, key=f"{key}.size")
    wanted = c4.number_input("Page", min_value=1, value=1, step=1, key=f"{key}.page")
    p = _page(str(state.db_path()), run_id, state.run_version(run_id), f, sort, descending, size, int(wanted))
    if p.total == 0:
        st.info("No sample matches these filters.")
        return
    st.caption(f"{fmt.count_of(p.total, 'sample')} {'matches' if p.total == 1 else 'match'}; page {p.page:,} of "
               f"{p.pages:,} ({p.page_size} rows per page).")
    st.dataframe(p.rows, hide_index=True, column_config=_columns())
    _download(run_id, f, sort, descending, p.total, key)


def _columns() -> dict:
    return {"model": "Model", "item_id": "Prompt", "category": "Category", "repeat": "Repeat", "status": "Status",
            "passed": st.column_config.CheckboxColumn("Passed"),
            "quality": st.column_config.NumberColumn("Quality (0-10)", format="%.2f"),
            "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="%.1f"),
            "ttft_ms": st.column_config.NumberColumn("TTFT (ms)", format="%.1f"),
            "output_tokens": st.column_config.NumberColumn("Output tokens", format="%d"),
            "output_text": "Output", "error_kind": "Error kind", "error_message": "Error message", "seq": "Sample #"}


def _download(run_id: str, f: sp.SampleFilter, sort: str, descending: bool, total: int, key: str) -> None:
    c1, c2 = st.columns([1, 3])
    kind = c1.radio("File format", list(sp.FORMATS), format_func=sp.FORMATS.get, horizontal=True, key=f"{key}.fmt")
    tag = hashlib.sha256(repr((run_id, f, sort, descending, kind)).encode()).hexdigest()[:16]
    path = EXPORT_DIR / f"samples-{tag}.{kind}"
    if c2.button(f"Prepare the file: {fmt.count_of(total, 'sample')} ({sp.FORMATS[kind]})", key=f"{key}.prepare",
                 icon=":material/description:"):
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        with st.spinner("Writing the file…"):
            sp.export(state.store(), run_id, f, path, kind, sort=sort, descending=descending)
        st.session_state[f"{key}.file"] = str(path)
    if st.session_state.get(f"{key}.file") == str(path) and path.exists():
        with path.open("rb") as fh:
            st.download_button(f"Download {path.name} ({fmt.mb(path.stat().st_size / 2**20)})", fh,
                               file_name=f"{run_id}-samples.{kind}", key=f"{key}.download", icon=":material/download:",
                               mime="application/vnd.apache.parquet" if kind == "parquet" else "text/csv")
