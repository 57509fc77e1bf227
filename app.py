"""Dashboard entry point (`streamlit run app.py`): page config and navigation, nothing else."""
from pathlib import Path

import streamlit as st

# A local icon file: Streamlit serves it from this server (a :material/ or emoji icon makes the
# browser fetch the favicon from fonts.gstatic.com, which fails offline).
ICON = str(Path(__file__).resolve().parent / "ui" / "assets" / "favicon.png")
st.set_page_config(page_title="LLM Eval", page_icon=ICON, layout="wide")

pages = [
    st.Page("pages/1_overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/2_run.py", title="Run", icon=":material/play_circle:"),
    st.Page("pages/3_results.py", title="Results", icon=":material/bar_chart:"),
    st.Page("pages/4_compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/5_costs.py", title="Costs", icon=":material/payments:"),
    st.Page("pages/6_prompt_sets.py", title="Prompt sets", icon=":material/list_alt:"),
    st.Page("pages/7_models.py", title="Models", icon=":material/memory:"),
    st.Page("pages/8_reports.py", title="Reports", icon=":material/description:"),
    st.Page("pages/9_sql.py", title="SQL", icon=":material/terminal:"),
    st.Page("pages/10_rate.py", title="Rate", icon=":material/thumbs_up_down:"),
]
st.navigation(pages).run()
