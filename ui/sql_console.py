"""The SQL page's result and view documentation (the query runs in core.queries.console)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.queries import console
from ui import format as fmt
from ui import widgets

RESULT = "sql.result"  # session-state key: the last ConsoleResult, kept across reruns
_PROBLEM = {
    "refused": "Refused: the console only reads the database.",
    "timeout": "The query ran past the time limit and was stopped.",
    "busy": "The database is busy.",
    "error": "The query failed.",
}


def show_result(result: console.ConsoleResult) -> None:
    if not result.ok:
        widgets.show_problem(_PROBLEM[result.status], result.message)
        return
    st.dataframe(result.frame, hide_index=True, key="sql.table")
    st.caption(f"{fmt.count_of(len(result.frame), 'row')} · {fmt.seconds(result.elapsed_s)} elapsed (opening the database, "
               "running the query and fetching the rows)")
    if result.truncated:
        st.warning(f"Truncated at {result.max_rows:,} rows: the query returned more. Aggregate, filter or add a "
                   "LIMIT to see the rest.", icon=":material/content_cut:")
    st.download_button("Download CSV", result.frame.to_csv(index=False).encode(), file_name="query.csv",
                       mime="text/csv", key="sql.download", on_click="ignore", icon=":material/download:",
                       help="The rows shown above, as CSV" + (" (the truncated result)" if result.truncated else ""))


def view_docs() -> None:
    """Each documented view, what a row is, and its columns."""
    for view in console.VIEWS.values():
        st.markdown(f"**`{view.name}`**: {view.description}")
        st.dataframe(pd.DataFrame({"column": list(view.columns), "holds": list(view.columns.values())}),
                     hide_index=True, key=f"sql.view.{view.name}")
