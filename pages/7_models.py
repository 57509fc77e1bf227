"""Models: the catalog, the champion (promote, roll back, history), loaded models, add a local directory or a Hugging Face id."""
import streamlit as st

from core import catalog, charts
from ui import champion as champion_ui
from ui import nav, state, widgets
from ui import format as fmt

nav.guard(__file__)
st.title("Models")
widgets.notice()
infos = state.catalog_infos()
champion = state.champion()

st.dataframe(widgets.catalog_frame(infos, champion), hide_index=True,
             column_config={"champion": st.column_config.CheckboxColumn("Champion", help="the model of the champion (promoted below)"),
                            "available": st.column_config.CheckboxColumn("Available")})

# ------------------------------------------------------------------ champion
st.subheader("Champion")
st.caption("The champion is one model as measured in one run (an arm, RUN:MODEL): the default baseline on the Compare "
           "page and in reports. Every promotion and rollback is kept in the history below; the MLflow Model Registry "
           f"mirrors it (alias '{champion_ui.ALIAS}'). Same as `python -m core champion promote|rollback|history`.")
view = state.champion_view()
champion_ui.current(view)
champion_ui.promote_form(view)
champion_ui.rollback_button(view)
if not view.history.empty:
    st.dataframe(view.history, hide_index=True, key="models.champion_history",
                 column_config={"row": st.column_config.NumberColumn("Row", help="history row: the order of events"),
                                "when (UTC)": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss")})

# ------------------------------------------------------------------ loaded models
st.subheader("Loaded in the evaluation worker")
info = state.worker()
loaded = list(info.loaded) if info is not None and info.alive else []
budget = state.budget()
used_mb = sum(m["bytes"] for m in loaded) / 2**20
st.plotly_chart(charts.memory_gauge(used_mb, budget.bytes / 2**20, budget.basis), key="models.gauge")
widgets.worker_status(info)
if loaded:
    st.dataframe(
        [{"model": m["name"], "device": m["device"], "dtype": m["dtype"], "params": fmt.params(m["params"]),
          "est. memory": fmt.mb(m["bytes"] / 2**20), "load time": fmt.seconds(m['load_time_s'])} for m in loaded],
        hide_index=True,
    )
    c1, c2 = st.columns([3, 1])
    target = c1.selectbox("Unload", [m["name"] for m in loaded], key="models.unload_name")
    if c2.button("Unload", key="models.unload", icon=":material/eject:",
                 help="The worker drops the model between runs (a run in progress keeps it until it ends)."):
        state.queue().request_unload(target)
        st.session_state[state.Keys.notice] = f"Asked the worker to unload {target}."
        st.rerun()
else:
    st.caption("No model is loaded. The evaluation worker loads models when a run needs them and keeps them "
               "for the next run.")

# ------------------------------------------------------------------ add
st.subheader("Add a model")
with st.form("models.add_form", clear_on_submit=False):
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", max_chars=64, key="models.add.name", help="Letters, digits, '.', '_', ':' or '-'.")
    source = c2.text_input("Local directory or Hugging Face id", key="models.add.source", help="A folder with config.json, or e.g. org/model")
    c1, c2, c3 = st.columns(3)
    revision = c1.text_input("Revision (Hugging Face)", key="models.add.revision", help="A commit hash or tag; pin it for reproducible runs.")
    dtype = c2.selectbox("dtype", ["auto", "float32", "float16", "bfloat16"])
    device = c3.selectbox("Device", ["auto", "cpu", "cuda", "mps"])
    notes = st.text_input("Notes", max_chars=500)
    anyway = st.checkbox("Add even if it cannot be found on this machine now")
    submitted = st.form_submit_button("Add model", type="primary")
if submitted:
    try:
        spec = catalog.make_spec(name.strip(), source.strip(), revision.strip() or None, dtype, device, notes)
        info = catalog.describe(spec)
        if not info.available and not anyway:
            widgets.show_problem("The model was not added: it cannot be found on this machine.", info.problem)
        else:
            catalog.add_model(state.store(), spec)
            st.session_state[state.Keys.notice] = f"Added {spec.name}." + ("" if info.available else " It is not available yet.")
            st.rerun()
    except catalog.CatalogError as exc:
        widgets.show_problem("The model was not added.", str(exc))

st.subheader("Add an HTTP model (OpenAI-compatible server or cloud API)")
st.caption("vLLM, TGI, Ollama, llama.cpp, `transformers serve` or a cloud API. The API key stays in an environment "
           "variable of the server process: give the variable's name, never the key.")
with st.form("models.http_form", clear_on_submit=False):
    c1, c2, c3 = st.columns(3)
    h_name = c1.text_input("Name", max_chars=64, key="models.http.name")
    h_url = c2.text_input("Base URL", key="models.http.base_url", placeholder="http://127.0.0.1:8000/v1")
    h_served = c3.text_input("Served model name", key="models.http.served_model", help="The model name the server expects.")
    c1, c2, c3 = st.columns(3)
    h_endpoint = c1.selectbox("Endpoint", ["chat", "completions"], key="models.http.endpoint")
    h_key_env = c2.text_input("API key environment variable (name)", key="models.http.api_key_env", placeholder="OPENAI_API_KEY")
    h_tokenizer = c3.text_input("Tokenizer for fallback counts (optional)", key="models.http.tokenizer",
                                help="Local directory or Hugging Face id, used when the server reports no token usage.")
    c1, c2, c3 = st.columns(3)
    h_timeout = c1.number_input("Request timeout (s)", 1.0, 3600.0, 60.0, key="models.http.timeout")
    h_conc = c2.number_input("Max concurrency", 1, 256, 8, key="models.http.max_concurrency")
    h_retries = c3.number_input("Max retries", 0, 10, 3, key="models.http.max_retries")
    c1, c2 = st.columns(2)
    h_hourly = c1.number_input("Hourly price, self-hosted (USD, 0 = none)", 0.0, 10_000.0, 0.0, key="models.http.usd_per_hour")
    h_price_model = c2.text_input("Cloud price model (provider:model, optional)", key="models.http.price_model")
    h_headers = st.text_area("Extra headers, one 'Name: value' a line (no secrets)", key="models.http.headers", height=68)
    h_submitted = st.form_submit_button("Add HTTP model", type="primary")
if h_submitted:
    try:
        spec = catalog.make_http_spec(
            h_name.strip(), h_url.strip(), h_served.strip(), endpoint=h_endpoint, api_key_env=h_key_env.strip() or None,
            extra_headers=catalog.parse_headers(h_headers), request_timeout_s=float(h_timeout), max_concurrency=int(h_conc),
            max_retries=int(h_retries), price_basis=catalog.price_basis(float(h_hourly) or None, h_price_model),
            tokenizer=h_tokenizer.strip() or None)
        catalog.add_model(state.store(), spec)
        st.session_state[state.Keys.notice] = f"Added {spec.name} ({spec.endpoint} endpoint at {spec.base_url})."
        st.rerun()
    except catalog.CatalogError as exc:
        widgets.show_problem("The HTTP model was not added.", str(exc))

user = [i.spec.name for i in infos if not i.spec.bundled]
if user:
    st.subheader("Remove an added model")
    c1, c2 = st.columns([3, 1])
    victim = c1.selectbox("Added model", user, key="models.remove_name")
    if c2.button("Remove", key="models.remove", icon=":material/delete:"):
        state.store().delete_model(victim)  # the champion's history keeps naming it: its results stay
        st.session_state[state.Keys.notice] = f"Removed {victim} from the catalog (its results stay)."
        st.rerun()
