"""The report as a paginated PDF (A4) with selectable text, made with fpdf2 (pure Python).

Charts are matplotlib PNGs (core.charts specs' `png()`): no browser, no kaleido, no system
libraries, so it works on any laptop where `pip install -r requirements.txt` worked. Text
uses the DejaVu fonts shipped inside matplotlib (Unicode; glyphs DejaVu lacks, such as CJK,
print as blanks). Sections become PDF bookmarks.
"""
from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

from core.reports.model import TIME_FORMAT, Report, Table

FONT, MONO = "dejavu", "dejavumono"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """Text fpdf2 can lay out: tabs as spaces, other control characters as U+FFFD."""
    return _CONTROL.sub("\ufffd", str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    "))


def _fonts_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _document(report: Report):  # noqa: ANN202 - fpdf.FPDF
    from fpdf import FPDF

    class Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT, "", 7.5)
            self.set_text_color(110)
            self.cell(0, 5, clean(f"{report.title} · {report.byline} · page {self.page_no()}/{{nb}}"), align="C")
            self.set_text_color(0)

    pdf = Doc(orientation="P", unit="mm", format="A4")
    fonts = _fonts_dir()
    for style, file in (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf"), ("I", "DejaVuSans-Oblique.ttf")):
        pdf.add_font(FONT, style, str(fonts / file))
    pdf.add_font(MONO, "", str(fonts / "DejaVuSansMono.ttf"))
    pdf.set_title(clean(report.title))
    pdf.set_author("llm-eval")
    pdf.set_creator("llm-eval reports (fpdf2)")
    try:  # the report's own time, so the same report gives the same bytes
        pdf.set_creation_date(datetime.strptime(report.generated_at, TIME_FORMAT).replace(tzinfo=timezone.utc))
    except ValueError:
        pass
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    return pdf


class _Writer:
    def __init__(self, report: Report) -> None:
        self.r = report
        self.pdf = _document(report)

    # ------------------------------------------------------------------ primitives
    def heading(self, key: str, first: bool = False) -> None:
        pdf = self.pdf
        if not first:
            pdf.add_page()
        title = self.r.sections[key]
        pdf.start_section(clean(title), level=0)
        pdf.set_font(FONT, "B", 15)
        pdf.multi_cell(0, 8, clean(title), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    def sub(self, text: str) -> None:
        pdf = self.pdf
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(0, 6, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def para(self, text: str, size: float = 9.5, style: str = "", color: int = 0) -> None:
        pdf = self.pdf
        pdf.set_font(FONT, style, size)
        pdf.set_text_color(color)
        pdf.multi_cell(0, size * 0.5, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
        pdf.ln(1)

    def bullets(self, items: tuple[str, ...] | list[str], size: float = 9.5) -> None:
        pdf = self.pdf
        pdf.set_font(FONT, "", size)
        for it in items:
            pdf.set_x(pdf.l_margin + 2)
            pdf.cell(4, size * 0.5, "•")
            pdf.multi_cell(0, size * 0.5, clean(it), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.8)
        pdf.ln(1)

    def kv(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self.table(Table(("", ""), tuple((k, v) for k, v in pairs)), header=False)

    def table(self, t: Table, header: bool = True, size: float = 7.5) -> None:
        from fpdf.fonts import FontFace

        pdf = self.pdf
        if t.title:
            self.sub(t.title)
        if not t.rows:
            return
        size, widths = _fit(pdf, t, header, size)
        pdf.set_font(FONT, "", size)
        align = tuple("RIGHT" if n else "LEFT" for n in t.numeric)
        with pdf.table(col_widths=widths, text_align=align, line_height=size * 0.5, padding=0.8, width=pdf.epw,
                       first_row_as_headings=header,
                       headings_style=FontFace(emphasis="BOLD", fill_color=(238, 241, 244))) as tb:
            if header:
                row = tb.row()
                for c in t.columns:
                    row.cell(clean(c))
            for cells in t.rows:
                row = tb.row()
                for c in cells:
                    row.cell(clean(c))
        if t.note:
            pdf.ln(1)
            self.para(t.note, size=7.5, color=90)
        pdf.ln(2)

    def chart(self, c) -> None:  # noqa: ANN001 - a core.charts spec
        pdf = self.pdf
        png = c.png()
        h = pdf.epw * 3.8 / 7.5
        if pdf.will_page_break(h + 10):
            pdf.add_page()
        pdf.image(io.BytesIO(png), x=pdf.l_margin, w=pdf.epw, h=h, title=clean(c.title), alt_text=clean(c.title))
        if c.caption:
            self.para(c.caption, size=7.5, color=90)
        pdf.ln(2)

    def mono(self, text: str, size: float = 7.5) -> None:
        pdf = self.pdf
        pdf.set_font(MONO, "", size)
        pdf.set_fill_color(246, 248, 250)
        pdf.multi_cell(0, size * 0.47, clean(text) or " ", fill=True, new_x="LMARGIN", new_y="NEXT", padding=1.5)
        pdf.ln(1.5)

    # ------------------------------------------------------------------ sections
    def write(self) -> bytes:
        r, pdf = self.r, self.pdf
        pdf.add_page()
        pdf.set_font(FONT, "B", 18)
        pdf.multi_cell(0, 9, clean(r.title), new_x="LMARGIN", new_y="NEXT")
        self.para(f"Generated {r.generated_at} · {r.byline}", size=8.5, color=90)
        if r.kind == "arms":
            return self.arms()
        self.summary()
        if "kpis" in r.sections:
            self.heading("kpis")
            for t in r.kpi_tables:
                self.table(t)
            if not r.kpi_tables:
                self.para("No samples stored for this run.")
        if "distributions" in r.sections:
            self.heading("distributions")
            for c in r.distributions:
                self.chart(c)
            if not r.distributions:
                self.para("No successful samples to draw.")
        if "comparisons" in r.sections:
            self.comparisons()
        if "costs" in r.sections:
            self.costs()
        if r.throughput is not None and "throughput" in r.sections:  # batch sizes / requests in flight
            self.heading("throughput")
            if r.throughput_table is not None:
                self.table(r.throughput_table)
            self.chart(r.throughput)
        if r.judging is not None and "judging" in r.sections:
            self.heading("judging")
            for text in r.judging.sentences:
                self.para(text)
            for t in r.judging.tables:
                self.table(t)
            for c in r.judging.charts:
                self.chart(c)
            for n in r.judging.notes:
                self.para(f"Note: {n}", size=8.5, color=90)
        if "methods" in r.sections:
            self.heading("methods")
            self.kv(r.methods)
            self.sub("Full description of the statistical and cost methods")
            self.mono(r.methods_text, size=7)
        if "environment" in r.sections:
            self.heading("environment")
            self.kv(r.environment)
            self.table(r.model_table)
        if "appendix" in r.sections:
            self.appendix()
        return bytes(pdf.output())

    def arms(self) -> bytes:
        """The report of arms across runs: summary, comparisons, methods (the sections it has)."""
        r, pdf = self.r, self.pdf
        s = r.summary
        self.heading("summary", first=True)
        self.para(f"Pairing: {r.pairing}.", size=10.5, style="B")
        if r.changed_prompts:
            self.para("Prompts left out (changed between the prompt-set versions): " + ", ".join(r.changed_prompts))
        self.sub("Key verdicts" + (f" (each arm vs {s.baseline})" if s.baseline else ""))
        self.bullets(s.verdicts or ("No comparisons could be made.",))
        self.sub("The arms")
        self.kv(s.facts)
        self.heading("comparisons")
        if r.comparison.rows:
            self.table(r.comparison, size=6.5)
        else:
            self.para("No comparisons: fewer than two arms with successful requests.")
        if r.verdicts:
            self.sub("Verdicts")
            self.bullets(r.verdicts, size=8.5)
        for n in r.comparison_notes:
            self.para(f"Note: {n}", size=8, color=90)
        if r.advice:
            self.sub("Sample size")
            self.bullets(r.advice, size=8.5)
        if r.pareto:
            self.chart(r.pareto)
        if r.pareto_table:
            self.table(r.pareto_table)
        self.heading("methods")
        self.kv(r.methods)
        self.sub(r.methods_title)
        self.mono(r.methods_text, size=7)
        return bytes(pdf.output())

    def summary(self) -> None:
        s = self.r.summary
        self.heading("summary", first=True)
        self.para(f"Recommended model: {s.recommended}" if s.recommended else "No model can be recommended", size=12, style="B")
        self.para(s.why + ".")
        if s.savings:
            self.sub("Cost")
            self.bullets(s.savings)
        if "comparisons" in self.r.sections:
            self.sub("Key verdicts" + (f" (each model vs {s.baseline}, {s.baseline_source})" if s.baseline else ""))
            self.bullets(s.verdicts or ("No comparisons could be made.",))
        self.sub("The run")
        self.kv(s.facts)
        for n in s.notes:
            self.para(f"Note: {n}", size=8, color=90)

    def comparisons(self) -> None:
        r = self.r
        self.heading("comparisons")
        if r.comparison.rows:
            self.table(r.comparison, size=6.5)
        else:
            self.para("No comparisons: fewer than two models with successful requests.")
        if r.verdicts:
            self.sub("Verdicts")
            self.bullets(r.verdicts, size=8.5)
        for n in r.comparison_notes:
            self.para(f"Note: {n}", size=8, color=90)
        if r.pareto:
            self.chart(r.pareto)

    def costs(self) -> None:
        r = self.r
        self.heading("costs")
        for t in r.cost_tables:
            self.table(t)
        if not r.cost_tables:
            self.para("No successful requests to cost.")
        for c in r.cost_charts:
            self.chart(c)
        self.sub("Assumptions")
        self.bullets(r.cost_notes, size=8.5)

    def appendix(self) -> None:
        r = self.r
        self.heading("appendix")
        self.para(r.appendix_note, size=8, color=90)
        if not r.appendix:
            self.para("No samples stored for this run.")
        for item in r.appendix:
            self.sub(item.item_id + (f" · {item.category}" if item.category else "") + (" · has failures" if item.failed else ""))
            self.para("Prompt", size=8.5, style="B")
            self.mono(item.prompt)
            if item.reference is not None:
                self.para("Reference", size=8.5, style="B")
                self.mono(item.reference)
            for o in item.outputs:
                self.para(f"{o.model}: {o.facts}" + (" (cut)" if o.truncated else ""), size=8.5, style="B")
                self.mono(o.text)


CELL_PAD = 0.8  # mm each side (the table's padding)
MIN_SIZE = 5.5  # pt: the smallest font a table shrinks to so that no word is split


def _fit(pdf, t: Table, header: bool, size: float) -> tuple[float, tuple[float, ...]]:  # noqa: ANN001 - fpdf.FPDF
    """Font size and column widths (mm) at which every word of every cell fits its column (cells
    wrap at spaces only: no "demo-sma|ll"): the given size when it fits, else smaller down to MIN_SIZE."""
    while True:
        widths = _widths(pdf, t, header, size)
        if widths is not None or size <= MIN_SIZE:
            return size, widths or _widths(pdf, t, header, size, force=True)  # type: ignore[return-value]
        size = max(MIN_SIZE, size - 0.5)


def _widths(pdf, t: Table, header: bool, size: float, force: bool = False) -> tuple[float, ...] | None:  # noqa: ANN001
    """Column widths (mm) summing to the page width: each column at least its longest word, then the
    room left shared out (narrow columns first get their whole text on one line). None when the
    longest words alone do not fit (force: shrink them to fit; one word longer than a third of the
    page may then wrap)."""
    pad = 2 * CELL_PAD + 0.6
    cap = pdf.epw / 3
    cols = list(zip(t.columns, *t.rows, strict=True))
    lo, hi = [], []
    for i, cells in enumerate(cols):
        heads = [(cells[0], "B")] if header else [(cells[0], "")]
        texts = heads + [(c, "") for c in cells[1:]]
        word = max(_text_width(pdf, w, style, size) for c, style in texts for w in (clean(c).split() or [""]))
        line = max(_text_width(pdf, ln, style, size) for c, style in texts for ln in (clean(c).splitlines() or [""]))
        lo.append(min(word, cap) + pad)
        hi.append(max(line + pad, lo[i]))
    if sum(lo) > pdf.epw:
        if not force:
            return None
        return tuple(w * pdf.epw / sum(lo) for w in lo)
    return _share(lo, hi, pdf.epw)


def _text_width(pdf, text: str, style: str, size: float) -> float:  # noqa: ANN001
    pdf.set_font(FONT, style, size)
    return pdf.get_string_width(text)


def _share(lo: list[float], hi: list[float], total: float) -> tuple[float, ...]:
    """Widths from lo toward hi with `total` to spend: equal shares, a column that needs less than
    its share takes only what it needs (water filling); what is left over widens every column."""
    w = list(lo)
    left = total - sum(w)
    open_ = [i for i in range(len(w)) if hi[i] > w[i]]
    while open_ and left > 1e-6:
        share = left / len(open_)
        done = [i for i in open_ if hi[i] - w[i] <= share]
        for i in done or open_:
            give = min(hi[i] - w[i], share)
            w[i] += give
            left -= give
        open_ = [i for i in open_ if i not in done] if done else []
    return tuple(x + left * x / sum(w) for x in w)


def render(report: Report) -> bytes:
    """The PDF document (bytes)."""
    logging.getLogger("fpdf").setLevel(logging.ERROR)  # missing-glyph warnings for scripts DejaVu lacks
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return _Writer(report).write()
