"""`python -m fine_tune ...` and `accelerate launch -m fine_tune ...`: `harness finetune` with the same options.

Under accelerate (one process per GPU) every process trains; only the main one writes the card and the store.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run `harness finetune` with this process's arguments."""
    from harness.cli import app

    app(args=["finetune", *sys.argv[1:]], prog_name="python -m fine_tune")


if __name__ == "__main__":
    main()
