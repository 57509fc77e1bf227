"""The command line: `python -m core COMMAND ...` (names are a contract for scripts and CI).

    core/cli/main.py      the parser (every command module listed) and the dispatch
    core/cli/common.py    the command table, CliError, the store from --db, table printing
    core/cli/NAME.py      the commands over core/NAME: run (run, worker, cancel, resume, runs,
                          results), catalog (models), prompts (prompt-sets), analysis (summary,
                          compare, cost, sample-size), reports (report), tracking (sync-mlflow),
                          parity (parity)

Domain modules never import core.cli: the dependencies run from here to them, one way.
"""
from core.cli.main import main

__all__ = ["main"]
