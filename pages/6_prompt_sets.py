"""Prompt sets: browse bundled and imported sets, import CSV/JSONL (validated), delete imported sets."""
import streamlit as st

from core import config, prompts
from core.prompts import PromptSetError, PromptSetExistsError
from ui import nav, state, widgets
from ui import format as fmt

SHOW, PENDING = "sets.show_next", "sets.pending_replace"  # session keys: set to preview next; replace to confirm

nav.guard(__file__)
st.title("Prompt sets")
widgets.notice()
sets = state.prompt_sets()
if st.session_state.get(SHOW) in sets:  # a set just imported: preview it (set before the selectbox exists)
    st.session_state["sets.preview"] = st.session_state.pop(SHOW)
    st.session_state.pop("sets.preview.item", None)

if sets:
    st.dataframe(
        [{"name": ps.name, "source": ps.source, "items": len(ps.items), "categories": ", ".join(ps.categories),
          "version": ps.content_hash, "description": ps.description} for ps in sets.values()],
        hide_index=True,
    )
    name = st.selectbox("Preview", list(sets), key="sets.preview")
    widgets.prompt_preview(sets[name], key="sets.preview")
    widgets.prompt_set_versions(sets[name], state.prompt_set_versions(sets[name]))
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


def import_upload(target: str, replace: bool) -> None:
    try:
        ps = prompts.import_bytes(state.store(), upload.getvalue(), filename=upload.name, name=target,
                                  description=description, replace=replace)
    except PromptSetExistsError as exc:  # ask first: shown below until answered
        st.session_state[PENDING] = {"name": exc.name, "current": exc.current, "new": exc.new, "file": upload.file_id}
    except PromptSetError as exc:
        widgets.line_errors(exc)
    else:
        st.session_state.pop(PENDING, None)
        st.session_state[SHOW] = ps.name
        st.session_state[state.Keys.notice] = f"Imported {ps.name}: {len(ps.items):,} items (version {ps.content_hash})."
        st.rerun()


if st.button("Validate and import", type="primary", disabled=upload is None, key="sets.import"):
    st.session_state.pop(PENDING, None)
    import_upload(set_name.strip() or fmt.slug(upload.name.rsplit(".", 1)[0]), replace=False)
pending = st.session_state.get(PENDING)
if pending and (upload is None or upload.file_id != pending["file"]):
    st.session_state.pop(PENDING)  # the file changed: the question no longer applies
elif pending:
    st.warning(
        f"An imported set named `{pending['name']}` already exists (version {pending['current']}); this file is "
        f"version {pending['new']}. Replace it? Runs made with version {pending['current']} keep it: "
        "their prompts stay stored and shown with them.",
        icon=":material/warning:",
    )
    c1, c2 = st.columns(2)
    if c1.button(f"Replace {pending['name']}", key="sets.replace", type="primary"):
        import_upload(pending["name"], replace=True)
    if c2.button("Keep the current version", key="sets.replace_cancel"):
        st.session_state.pop(PENDING)
        st.rerun()

imported = [n for n, ps in sets.items() if ps.source == "imported"]
if imported:
    st.subheader("Delete an imported set")
    st.caption("Bundled sets cannot be deleted. Runs that used a set keep their samples and the prompts of their "
               "version; versions no run used are deleted.")
    c1, c2 = st.columns([3, 1])
    victim = c1.selectbox("Imported set", imported, key="sets.delete_name")
    confirm = c2.checkbox("Yes, delete it", key="sets.delete_confirm")
    if st.button("Delete", disabled=not confirm, key="sets.delete", icon=":material/delete:"):
        state.store().delete_prompt_set(victim)
        st.session_state[state.Keys.notice] = f"Deleted {victim}."
        st.rerun()
