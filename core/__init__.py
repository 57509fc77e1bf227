"""LLM evaluation engine: pure Python, no Streamlit. The CLI: core/cli/."""

__version__ = "0.1.0"
