"""The arena: battles become ratings. `battles` (config, encoding), `ratings` (online Elo, Bradley-Terry, CIs,
rank ranges, rating rows), `bradley_terry` (the fit and its bootstrap), `style` (style control), `run` (the
`harness arena` glue that reads and stores). Everything but `run` is pure numpy/scipy.
"""
