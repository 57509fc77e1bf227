"""Prompt sets: browse bundled and imported sets, import CSV/JSONL (validated), delete imported sets."""
import streamlit as st

from core import config, prompts
from core.prompts import PromptSetError
from ui import nav, state, widgets
from ui import format as fmt

nav.guard(__file__)
st.title("Prompt sets")
widgets.notice()
sets = state.prompt_sets()

if sets:
    st.dataframe(
        [{"name": ps.name, "source": ps.source, "items": len(ps.items), "categories": ", ".join(ps.categories),
          "version": ps.content_hash, "description": ps.description} for ps in sets.values()],
        hide_index=True,
    )
    name = st.selectbox("Preview", list(sets), key="sets.preview")
    widgets.prompt_preview(sets[name], key="sets.preview")
else:
    st.info("No prompt sets yet. Import a CSV or JSONL file below.")

st.subheader("Import a prompt set")
st.caption(
    f"One item per JSONL line or CSV row, up to {config.MAX_PROMPT_FILE_MB} MB and {config.MAX_PROMPT_ITEMS:,} items. "
    "Fields: id and prompt (required); reference, category, system, scorers and max_new_tokens (optional). "
    "The whole file is checked first: if any line is wrong, nothing is stored and every problem is listed."
)
upload = st.file_uploader("CSV or JSONL file", type=["csv", "jsonl"], key="sets.upload")
c1, c2 = st.columns(2)
set_name = c1.text_input("Name", key="sets.name", max_chars=64,
                         placeholder=fmt.slug(upload.name.rsplit(".", 1)[0]) if upload else "my-prompts",
                         help="Letters, digits, '.', '_' or '-'; defaults to the file name.")
description = c2.text_input("Description", key="sets.description", max_chars=500)
if st.button("Validate and import", type="primary", disabled=upload is None, key="sets.import"):
    target = set_name.strip() or fmt.slug(upload.name.rsplit(".", 1)[0])
    try:
        ps = prompts.import_bytes(state.store(), upload.getvalue(), filename=upload.name, name=target,
                                  description=description)
    except PromptSetError as exc:
        widgets.line_errors(exc)
    else:
        st.session_state[state.Keys.notice] = f"Imported {ps.name}: {len(ps.items):,} items (version {ps.content_hash})."
        st.rerun()

imported = [n for n, ps in sets.items() if ps.source == "imported"]
if imported:
    st.subheader("Delete an imported set")
    st.caption("Bundled sets cannot be deleted. Runs that used a set keep their samples.")
    c1, c2 = st.columns([3, 1])
    victim = c1.selectbox("Imported set", imported, key="sets.delete_name")
    confirm = c2.checkbox("Yes, delete it", key="sets.delete_confirm")
    if st.button("Delete", disabled=not confirm, key="sets.delete", icon=":material/delete:"):
        state.store().delete_prompt_set(victim)
        st.session_state[state.Keys.notice] = f"Deleted {victim}."
        st.rerun()
