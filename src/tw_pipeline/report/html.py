"""Self-contained HTML reports: one per point, one per study.

A page holds everything it shows: the styles are inline and every plot is
embedded as a base64 PNG, so a page can be mailed, copied off a cluster or
opened on a laptop without network, server or the run folder next to it.
The only links are the study page's relative links to its points' pages.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tw_pipeline.report.style import file_stem
from tw_pipeline.run.atomic import write_text

__all__ = [
    "POINT_PAGE",
    "STUDY_PAGE",
    "point_page",
    "study_page",
    "write_point_page",
    "write_study_page",
]

log = logging.getLogger(__name__)

POINT_PAGE = "report.html"
STUDY_PAGE = "summary.html"

# Plots in the order a physicist reads them; anything else in plots/ follows.
_PLOT_ORDER = (
    "roc",
    "response",
    "response_normalised",
    "efficiency_vs_cut",
    "significance_vs_cut",
    "loss",
    "accuracy",
    "ranking_separation",
    "ranking_permutation",
    "correlation_signal",
    "correlation_background",
)

_CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em;
     border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f0f0f0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.flag { background: #fde2d0; }
.note { color: #555; font-size: 0.85em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; max-width: 560px; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; }
"""


def write_point_page(point_dir: Path, metrics: dict[str, Any]) -> Path:
    """Write ``report.html`` of a point from its metrics and its PNG plots."""
    path = Path(point_dir) / POINT_PAGE
    write_text(path, point_page(metrics, Path(point_dir) / "plots"))
    log.info("wrote %s", path)
    return path


def write_study_page(
    study_dir: Path,
    study: str,
    rows: Sequence[dict[str, Any]],
    swept_keys: Sequence[str],
    points: Sequence[dict[str, Any]],
    plot_paths: Sequence[Path] = (),
) -> Path:
    """Write ``summary.html`` of a study: the ranked table, linked to the points."""
    path = Path(study_dir) / STUDY_PAGE
    write_text(
        path, study_page(study, rows, swept_keys, points, plot_paths, Path(study_dir))
    )
    log.info("wrote %s", path)
    return path


def point_page(metrics: dict[str, Any], plots_dir: Path) -> str:
    """The HTML of a point's report.

    Args:
        metrics: the point's metrics, as written to metrics.json.
        plots_dir: folder of its plots; every PNG there is embedded.

    Returns:
        The page.
    """
    study, point = str(metrics.get("study", "")), str(metrics.get("point", ""))
    aggregate = metrics.get("aggregate") or {}
    evaluation = metrics.get("evaluation") or {}
    numbers = evaluation.get("aggregate") or {}
    folds = metrics.get("folds") or []
    body = [f"<h1>{_e(study)} / {_e(point)}</h1>"]

    swept = metrics.get("swept") or {}
    settings = (
        ", ".join(f"{_e(k)} = {_e(v)}" for k, v in swept.items()) or "no swept keys"
    )
    body.append(
        f"<p class='note'>{settings}; {aggregate.get('folds', len(folds))} folds; "
        f"config hash {_e(metrics.get('config_hash', ''))}; "
        f"{_e(metrics.get('seconds', ''))} s.</p>"
    )

    # The headline: does the network separate, beat the BDT, overtrain?
    headline = [
        (
            "test AUC",
            _pm(aggregate.get("test_auc_mean"), aggregate.get("test_auc_std")),
        ),
        (
            "train AUC",
            _pm(aggregate.get("train_auc_mean"), aggregate.get("train_auc_std")),
        ),
    ]
    if "bdt_test_auc" in numbers:
        headline.append(("BDT baseline test AUC", _pm_entry(numbers["bdt_test_auc"])))
    headline += [
        (
            "test loss",
            _pm(aggregate.get("test_loss_mean"), aggregate.get("test_loss_std")),
        ),
        ("separation <S²> of the response", _pm_entry(numbers.get("separation"))),
        ("binned Asimov significance", _pm_entry(numbers.get("asimov_significance"))),
        ("best S/√(S+B)", _pm_entry(numbers.get("best_cut_significance"))),
        (
            "KS p-value signal, train vs test",
            _pm_entry(numbers.get("ks_pvalue_signal")),
        ),
        (
            "KS p-value background, train vs test",
            _pm_entry(numbers.get("ks_pvalue_background")),
        ),
    ]
    if aggregate.get("distance_of") is not None:
        about = aggregate["distance_of"]
        headline += [
            (
                f"KS distance, {about}",
                _pm(
                    aggregate.get("distance_ks_mean"),
                    aggregate.get("distance_ks_std"),
                ),
            ),
            (
                f"JS divergence, {about}",
                _pm(
                    aggregate.get("distance_jsd_mean"),
                    aggregate.get("distance_jsd_std"),
                ),
            ),
        ]
    body.append("<h2>Summary (mean ± std over folds, test events)</h2>")
    body.append(
        _table(["quantity", "value"], [[name, value] for name, value in headline])
    )
    yields = evaluation.get("yields")
    if yields:
        source = (
            "given in the study"
            if yields.get("source") == "study"
            else "sum of the event weights"
        )
        body.append(
            f"<p class='note'>Yields before any cut ({source}): signal "
            f"{_g(yields.get('signal'))}, background {_g(yields.get('background'))}. "
            "Significances scale each test fold to these yields.</p>"
        )

    body.append("<h2>Per fold</h2>")
    body.append(_fold_table(folds))
    body.append(_working_point_table(numbers))
    body.append(_ranking_tables(evaluation))
    body.append("<h2>Plots</h2>")
    body.append(_figures(plots_dir))
    return _document(f"{study} / {point}", body)


def study_page(
    study: str,
    rows: Sequence[dict[str, Any]],
    swept_keys: Sequence[str],
    points: Sequence[dict[str, Any]],
    plot_paths: Sequence[Path],
    study_dir: Path,
) -> str:
    """The HTML of a study's summary: ranked points with links and key numbers."""
    by_name = {str(p.get("point")): p for p in points}
    headings = [
        "rank",
        "point",
        *swept_keys,
        "test AUC",
        "train AUC",
        "BDT test AUC",
        "Asimov Z",
        "best S/√(S+B)",
        "min KS p",
    ]
    distances = any(row.get("distance_ks_mean") is not None for row in rows)
    if distances:
        headings += ["KS distance", "JSD distance"]
    headings.append("folds")
    table_rows = []
    for row in rows:
        numbers = ((by_name.get(row["point"]) or {}).get("evaluation") or {}).get(
            "aggregate"
        ) or {}
        link = f"{row['point']}/{POINT_PAGE}"
        has_page = (study_dir / row["point"] / POINT_PAGE).is_file()
        name = (
            f"<a href='{_e(link)}'>{_e(row['point'])}</a>"
            if has_page
            else _e(row["point"])
        )
        ks = [_mean(numbers.get(f"ks_pvalue_{c}")) for c in ("signal", "background")]
        ks = [value for value in ks if value is not None]
        cells = [str(row["rank"]), _Raw(name)]
        cells += [_format(row.get(key)) for key in swept_keys]
        cells += [
            _pm(row.get("test_auc_mean"), row.get("test_auc_std")),
            _f(row.get("train_auc_mean")),
            _pm_entry(numbers.get("bdt_test_auc")),
            _pm_entry(numbers.get("asimov_significance")),
            _pm_entry(numbers.get("best_cut_significance")),
            _f(min(ks)) if ks else "",
        ]
        if distances:
            cells += [
                _pm(row.get("distance_ks_mean"), row.get("distance_ks_std")),
                _f(row.get("distance_jsd_mean")),
            ]
        cells.append(str(row.get("folds", "")))
        table_rows.append(cells)

    plural = "s" if len(rows) != 1 else ""
    body = [
        f"<h1>{_e(study)}: {len(rows)} point{plural} ranked by mean test AUC</h1>",
        _table(headings, table_rows),
        "<p class='note'>Mean ± standard deviation over folds, on test events. "
        "Significances are scaled to the yields of the study; min KS p is the "
        "smaller of the mean signal and background p-values of the overtraining "
        "check. Each point name links to its own report."
        + (
            " KS and JSD distance: between the test responses of the nominal "
            "sample and its systematic variation, or the largest between a "
            "quartile of the decorrelated variable and all events (0: the same)."
            if distances
            else ""
        )
        + "</p>",
    ]
    pngs = [p for p in plot_paths if Path(p).suffix == ".png"]
    if pngs:
        body.append("<h2>Test AUC against the swept keys</h2>")
        body.append(
            "<div class='plots'>" + "".join(_figure(p) for p in pngs) + "</div>"
        )
    return _document(f"{study}: summary", body)


class _Raw(str):
    """Cell content that is already HTML."""


def _fold_table(folds: Sequence[dict[str, Any]]) -> str:
    headings = [
        "fold",
        "test AUC",
        "train AUC",
        "BDT test AUC",
        "KS p signal",
        "KS p background",
        "separation",
        "Asimov Z",
        "best cut",
        "best S/√(S+B)",
        "epochs",
        "s",
    ]
    rows = []
    for fold in folds:
        overtraining = fold.get("overtraining") or {}
        ks = [
            (overtraining.get(c) or {}).get("ks_pvalue")
            for c in ("signal", "background")
        ]
        best = fold.get("best_cut") or {}
        cells = [
            str(fold.get("fold")),
            _f((fold.get("test") or {}).get("auc")),
            _f((fold.get("train") or {}).get("auc")),
            _f(((fold.get("bdt") or {}).get("test") or {}).get("auc")),
        ]
        for value in ks:
            text = _f(value, 3)
            # A small p-value is the sign of overtraining worth a look.
            cells.append(
                _Raw(f"<span class='flag'>{text}</span>")
                if value is not None and value < 0.01
                else text
            )
        cells += [
            _f(fold.get("separation")),
            _f((fold.get("asimov_significance") or {}).get("value"), 3),
            _f(best.get("cut"), 3),
            _f(best.get("significance"), 3),
            str(fold.get("epochs_trained", "")),
            _f(fold.get("seconds"), 1),
        ]
        rows.append(cells)
    return _table(headings, rows) + (
        "<p class='note'>KS: Kolmogorov-Smirnov test of the training against the test "
        "response (unbinned, weighted); values below 0.01 are highlighted.</p>"
    )


def _working_point_table(numbers: dict[str, Any]) -> str:
    rows = []
    for name, entry in numbers.items():
        if name.startswith("signal_efficiency_at_"):
            target = float(name.rsplit("_", 1)[1])
            rows.append(
                [
                    f"signal efficiency at {100 * target:g} % background efficiency",
                    _pm_entry(entry),
                ]
            )
    for name, entry in numbers.items():
        if name.startswith("background_rejection_at_"):
            target = float(name.rsplit("_", 1)[1])
            rows.append(
                [
                    f"background rejection (1 − ε_B) at {100 * target:g} % signal "
                    "efficiency",
                    _pm_entry(entry),
                ]
            )
    if not rows:
        return ""
    return "<h2>Working points (mean ± std over folds)</h2>" + _table(
        ["working point", "value"], rows
    )


def _ranking_tables(evaluation: dict[str, Any]) -> str:
    parts = []
    ranking = (evaluation.get("inputs") or {}).get("separation_ranking") or []
    permutation = {
        e["variable"]: e for e in evaluation.get("permutation_ranking") or []
    }
    if ranking:
        parts.append("<h2>Input variables</h2>")
        rows = []
        order = {
            e["variable"]: i + 1
            for i, e in enumerate(evaluation.get("permutation_ranking") or [])
        }
        for rank, entry in enumerate(ranking, start=1):
            imp = permutation.get(entry["variable"])
            rows.append(
                [
                    str(rank),
                    entry["variable"],
                    _f(entry.get("separation")),
                    str(order.get(entry["variable"], "")),
                    _pm(imp["mean"], imp["std"]) if imp else "",
                ]
            )
        parts.append(
            _table(
                [
                    "rank by separation",
                    "variable",
                    "separation <S²>",
                    "rank by permutation",
                    "AUC drop when shuffled (mean ± std)",
                ],
                rows,
            )
        )
        parts.append(
            "<p class='note'>Separation of the weighted signal and background "
            "distributions before training; permutation importance on the test "
            f"folds with {evaluation.get('permutation_repeats', '')} shuffles per "
            "variable and fold.</p>"
        )
    return "".join(parts)


def _figures(plots_dir: Path) -> str:
    pngs = {path.stem: path for path in sorted(Path(plots_dir).glob("*.png"))}
    if not pngs:
        return "<p class='note'>No PNG plots in this point's folder.</p>"
    names = [n for n in _PLOT_ORDER if n in pngs]
    names += [n for n in pngs if n not in names]
    return "<div class='plots'>" + "".join(_figure(pngs[n]) for n in names) + "</div>"


def _figure(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = Path(path).stem
    return (
        f"<figure id='{_e(file_stem(name))}'><img alt='{_e(name)}' "
        f"src='data:image/png;base64,{data}'><figcaption>{_e(name)}</figcaption></figure>"
    )


def _table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headings)
    lines = [f"<table><tr>{head}</tr>"]
    for row in rows:
        cells = []
        for cell in row:
            content = cell if isinstance(cell, _Raw) else _e(cell)
            numeric = _looks_numeric(str(cell))
            cells.append(
                f"<td class='n'>{content}</td>" if numeric else f"<td>{content}</td>"
            )
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return "".join(lines)


def _document(title: str, body: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )


def _looks_numeric(text: str) -> bool:
    head = text.split(" ")[0].lstrip("-−")
    return bool(head) and head.replace(".", "", 1).isdigit()


def _mean(entry: Any) -> float | None:
    return entry.get("mean") if isinstance(entry, dict) else None


def _pm_entry(entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    return _pm(entry.get("mean"), entry.get("std"))


def _pm(mean: Any, spread: Any, digits: int = 4) -> str:
    if mean is None:
        return ""
    return _f(mean, digits) + ("" if spread is None else f" ± {_f(spread, digits)}")


def _f(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    # Large numbers (yields, significances of big samples) in short form.
    return f"{value:.4g}" if abs(value) >= 1e4 else f"{value:.{digits}f}"


def _g(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f"{value:.5g}"


def _format(value: Any) -> str:
    from tw_pipeline.report.summary import format_value

    return format_value(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
