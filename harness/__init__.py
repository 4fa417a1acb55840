"""harness: evaluate, judge, rate and gate fine-tuned LLaMA-family checkpoints from one results store.

The CLI (`harness ...`) is a thin shell over the functions in these modules; see README.md.
"""

__version__ = "0.1.0"
