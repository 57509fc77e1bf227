"""LLM evaluation engine: pure Python, no Streamlit. See core/cli.py for the CLI."""

__version__ = "0.1.0"
