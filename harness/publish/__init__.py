"""Published results and publishing: `imports` brings public leaderboards' numbers into the store
(`harness published import`), `snapshot` writes a deployable read-only leaderboard folder (`harness publish`).
"""
