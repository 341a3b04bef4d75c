"""Write a scored copy of a ROOT file with uproot.

Every scored tree is copied block by block with all its branches, plus the
score branch, into a new TTree of the same name, folder and title. The
file's other trees are copied the same way without a score, and histograms
(TH1, TH2, TH3, TProfile) and TObjStrings as they are. Objects uproot
cannot write (for example TGraph, RooFit workspaces, trees with jagged
branches) are left out, and a warning names them. The score's record (run,
config hash, fold rule) is written as TObjStrings next to the trees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from tw_pipeline.apply.plan import FilePlan
from tw_pipeline.apply.scorer import SCORE_DTYPE
from tw_pipeline.data.detect import TableInfo, display_path, source_label

__all__ = ["write_scored_root"]

log = logging.getLogger(__name__)

ScoreBlock = Callable[[dict[str, np.ndarray], int, str], np.ndarray]

_HISTOGRAM_PREFIXES = ("TH1", "TH2", "TH3", "TProfile")


def write_scored_root(
    plan: FilePlan,
    temporary: Path,
    score: ScoreBlock,
    score_name: str,
    *,
    chunk_rows: int,
    advance: Callable[[int], None],
    info: dict[str, str],
) -> list[str]:
    """Write the scored copy of ``plan.source`` to ``temporary``.

    Args:
        plan: the checked input and the trees to score.
        temporary: where to write; renamed into place by the caller.
        score: scores a block: (columns, rows, source label) -> scores.
        score_name: the new branch.
        chunk_rows: events read, scored and written at a time.
        advance: called with the number of events done after each block.
        info: what to record about the score (run, config hash, fold rule);
            each entry becomes a TObjString at the top of the file.

    Returns:
        The names of the objects that were not copied.
    """
    scored = {table.key for table in plan.scored}
    skipped: list[str] = []
    # No array cache: blocks are read once, and a cache would hold up to 100 MB.
    with (
        uproot.open(plan.source, array_cache=None) as source,
        uproot.recreate(temporary) as target,
    ):
        for table in plan.scored:
            _copy_tree(
                source,
                target,
                table,
                chunk_rows,
                advance,
                score=score,
                score_name=score_name,
                label=source_label(plan.source, table.key),
            )

        copyable = {table.key: table for table in plan.others if _flat(table)}
        for name, classname in source.classnames(recursive=True, cycle=False).items():
            if name in scored or name in info or classname == "TDirectory":
                continue
            if name in copyable:
                _copy_tree(
                    source, target, copyable[name], chunk_rows, advance=lambda _: None
                )
            elif classname.startswith(_HISTOGRAM_PREFIXES):
                target[name] = source[name]
            elif classname == "TObjString":
                target[name] = str(source[name])
            else:
                skipped.append(f"{name} ({classname})")

        for key, value in info.items():
            target[key] = value

    if skipped:
        log.warning(
            "%s: not copied to the output (uproot cannot write them, or they are "
            "not flat trees): %s",
            display_path(plan.source),
            ", ".join(skipped),
        )
    return skipped


def _flat(table: TableInfo) -> bool:
    return table.layout == "ROOT TTree" and all(c.numeric for c in table.columns)


def _copy_tree(
    source: Any,
    target: Any,
    table: TableInfo,
    chunk_rows: int,
    advance: Callable[[int], None],
    *,
    score: ScoreBlock | None = None,
    score_name: str | None = None,
    label: str = "",
) -> None:
    """Copy one flat tree a block at a time, adding the score branch if asked."""
    tree = source[table.key]
    names = table.names
    types = {
        name: np.dtype(table.column(name).dtype).newbyteorder("=") for name in names
    }
    if score is not None:
        types[score_name] = SCORE_DTYPE
    out = target.mktree(table.key, types, title=str(getattr(tree, "title", "") or ""))

    for start in range(0, table.rows, chunk_rows):
        stop = min(start + chunk_rows, table.rows)
        block = tree.arrays(names, entry_start=start, entry_stop=stop, library="np")
        if score is not None:
            block[score_name] = score(block, stop - start, label)
        out.extend(block)
        advance(stop - start)
