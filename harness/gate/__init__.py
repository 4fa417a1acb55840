"""The CI regression gate: `paired` (the per-task paired comparison, shared with the leaderboard's Compare
page) over `stats`, `arena` checks, `decide` (Holm and the verdict), `refs` (REF resolution) and `report`.
"""
