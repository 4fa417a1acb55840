"""Rating battles given as columns (`BattleTable`: a file's, or the store's read by `read_stored_table`):
choosing their sources on the judge column and fitting them. `harness arena`, `harness gate` and the
leaderboard's on-the-fly fits call it; it reads no battle file, so the leaderboard's copied code needs none
of the file readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.arena.battles import codes_fingerprint, encode_codes
from harness.arena.ratings import ArenaConfig, ArenaReport, rate_encoded
from harness.arena.sources import source_mask
from harness.parallel import FORK_FROM, Forked

if TYPE_CHECKING:
    from harness.formats.columns import BattleTable
    from harness.store.engine import Store


def stored_table(store: Store, category: str | None = None, judges: Sequence[str] | None = None,
                 every_source: bool = False) -> BattleTable:
    """The store's battles (of `category`) as columns (`read_stored_table`): of the named sources, else of its
    only source, or of all of them with `every_source` (the leaderboard's pages pass sources when there are
    several)."""
    from harness.store.battles import read_stored_table

    table = read_stored_table(store, category)
    return table if every_source and not judges else judged_by(table, judges)


def rate_table(table: BattleTable, config: ArenaConfig) -> ArenaReport:
    """`compute_ratings` of battles given as columns (a file's or the store's)."""
    encoded = encode_codes(table.models, table.a, table.b, table.winner)
    fingerprint = Forked(len(table) >= FORK_FROM, codes_fingerprint, table.models, table.a, table.b,
                         table.winner)
    return rate_encoded(encoded, fingerprint.result, config, table.battles)


def judged_by(table: BattleTable, judges: Sequence[str] | None) -> BattleTable:
    """The battles of the named sources, or of the only one when none is named (an unknown source, or several
    and none named, is an error listing them)."""
    judged = [b.judge for b in table.records] if table.records else table.fields["judge"]
    keep = source_mask(judged, judges)
    return table if keep is None else table.where(keep)
