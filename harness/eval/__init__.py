"""`harness eval`: `config` (suites, requests), `backends` (a `--model` becomes a fingerprinted lm-eval LM),
`plan` (tasks loaded and keyed), `evaluate` (the run: leases, resumption), `results` (lm-eval output as
records), `suites`, `templates` (Alpaca/Vicuna chat templates, shared with fine_tune), `tiny` (the tiny model).
"""
