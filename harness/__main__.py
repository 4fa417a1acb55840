"""`python -m harness ...`: the same command as `harness ...`."""

from harness.cli import app

if __name__ == "__main__":  # not when a spawned worker process imports this module as its main
    app()
