"""Dashboard entry point (`streamlit run app.py`): page config and navigation, nothing else."""
import streamlit as st

st.set_page_config(page_title="LLM Eval", page_icon=":material/speed:", layout="wide")

pages = [
    st.Page("pages/1_overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/2_run.py", title="Run", icon=":material/play_circle:", url_path="run"),
    st.Page("pages/6_prompt_sets.py", title="Prompt sets", icon=":material/list_alt:", url_path="prompt-sets"),
    st.Page("pages/7_models.py", title="Models", icon=":material/memory:", url_path="models"),
]
st.navigation(pages).run()
