"""`harness judge`: `plan` (the calls a run needs), `run` (asking the judge, both answer orders, battles),
`prompts` (judge prompts as data), `verdicts` (strict parsers), `offline` (the reference-matching judge),
`results` (win rates, grades, agreement) and `imports` (`judge import` through `harness.formats`).
"""
