"""SQL: one read-only DuckDB statement over documented views of the store, with a row cap, a time limit and CSV."""
import streamlit as st

from core.queries import console
from ui import nav, state
from ui import sql_console as sc

MAX_ROWS, TIMEOUT_S = 10_000, 10

nav.guard(__file__)
st.title("SQL")
st.caption(f"Ask the results database anything DuckDB SQL can say. One SELECT at a time over the views listed below; "
           f"at most {MAX_ROWS:,} rows and {TIMEOUT_S} s per query. The database is opened read-only with external "
           "access off: no statement can write, attach, copy out, install or load anything.")

sql = st.text_area("Query (one SELECT statement)", value=console.EXAMPLE_SQL, height=240, key="sql.text")
if st.button("Run", type="primary", key="sql.run", icon=":material/play_arrow:"):
    state.store()  # the database exists (and is migrated) before the console opens it read-only
    with st.spinner("Running the query…"):
        st.session_state[sc.RESULT] = console.run_console(state.db_path(), sql, max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
if (result := st.session_state.get(sc.RESULT)) is not None:
    sc.show_result(result)

with st.expander("Views and their columns", expanded=result is None):
    sc.view_docs()
