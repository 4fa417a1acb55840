"""`python -m harness ...`: the same command as `harness ...`."""

from harness.cli import app

app()
