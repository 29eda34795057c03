"""``diamond report``: run folders → the paper-style Atari 100k report (Markdown, HTML, JSON, PNGs).

Our runs are compared with the published numbers on the same games: DIAMOND's per-seed scores (so our
runs and the paper's are bootstrapped alike) and the per-game means of the other methods of Table 1.
The published aggregates over all 26 games are always part of the report.
"""

from __future__ import annotations

import base64
import html
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diamond.benchmark import plots
from diamond.benchmark.references import PAPER_METHODS, Table1, load_paper_per_seed, load_table1
from diamond.benchmark.runs import ReportError, RunResult, ScoreTable, read_run, score_table
from diamond.benchmark.statistics import (
    METRIC_NAMES,
    METRICS,
    Interval,
    aggregate_intervals,
    performance_profiles,
    probability_of_improvement,
    superhuman_count,
)
from diamond.fileio import write_json_atomically

OURS = "ours"
PAPER_DIAMOND = "DIAMOND (paper, per seed)"
TAUS = np.linspace(0.0, 8.0, 81)


@dataclass
class Report:
    games: list[str]  # the games of our runs that have reference scores (all 26 without runs)
    runs_used: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # "PATH: reason"
    missing: list[str] = field(default_factory=list)  # "Game seed S"
    games_not_run: list[str] = field(default_factory=list)
    aggregates: dict[str, dict[str, Interval]] = field(default_factory=dict)  # on `games`
    paper_aggregates: dict[str, dict[str, Interval]] = field(default_factory=dict)  # all 26 games
    superhuman: dict[str, int] = field(default_factory=dict)
    paper_superhuman: dict[str, int] = field(default_factory=dict)
    improvement: dict[str, Interval] = field(default_factory=dict)  # P(ours > method)
    per_game: list[dict[str, Any]] = field(default_factory=list)
    seeds_in_aggregates: list[int] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        iv = lambda d: {name: {m: v.as_list() for m, v in ms.items()} for name, ms in d.items()}  # noqa: E731
        return {
            "games": self.games,
            "runs_used": self.runs_used,
            "left_out": self.left_out,
            "missing": self.missing,
            "games_not_run": self.games_not_run,
            "seeds_in_aggregates": self.seeds_in_aggregates,
            "aggregates": iv(self.aggregates),
            "paper_aggregates_26_games": iv(self.paper_aggregates),
            "superhuman": self.superhuman,
            "paper_superhuman_26_games": self.paper_superhuman,
            "probability_of_improvement": {k: v.as_list() for k, v in self.improvement.items()},
            "per_game": self.per_game,
            "plots": self.plots,
            "interval_format": "[point estimate, 95% CI low, 95% CI high] of human-normalised scores",
        }


def _hns_matrix(table1: Table1, games: list[str], rows: list[dict[str, float]]) -> np.ndarray:
    return np.array([[table1.hns(g, row[g]) for g in games] for row in rows], dtype=np.float64).reshape(
        len(rows), len(games)
    )


def _method_matrices(table1: Table1, per_seed: dict[str, list[float]], games: list[str]) -> dict[str, np.ndarray]:
    """The paper's methods on ``games``: DIAMOND per seed (seeds × games), the others one row of means."""
    seeds = len(next(iter(per_seed.values())))
    out = {PAPER_DIAMOND: _hns_matrix(table1, games, [{g: per_seed[g][s] for g in games} for s in range(seeds)])}
    for m in PAPER_METHODS:
        if m != "DIAMOND":  # its per-seed rows above already average to its Table 1 column
            out[m] = _hns_matrix(table1, games, [table1.methods[m]])
    return out


def build_report(
    run_dirs: list[str | Path],
    out: str | Path,
    allow_mixed_protocols: bool = False,
    reps: int = 50_000,
    profile_reps: int = 2_000,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Report:
    out = Path(out)
    table1, per_seed = load_table1(), load_paper_per_seed()
    runs: list[RunResult] = []
    left_out: list[str] = []
    for d in run_dirs:
        try:
            runs.append(read_run(d))
        except ReportError as exc:
            left_out.append(str(exc))
    if run_dirs and not runs:
        raise ReportError("none of the run folders can be reported:\n  " + "\n  ".join(left_out))
    for r in runs:
        if r.game not in table1.random:
            left_out.append(
                f"{r.path}: {r.env} game {r.game!r} has no random/human reference score (Atari 100k games only)"
            )
    table = score_table([r for r in runs if r.game in table1.random], table1.games, allow_mixed_protocols)
    if runs and not table.games:
        raise ReportError(
            "no run is of an Atari 100k game, so no human-normalised score exists:\n  " + "\n  ".join(left_out)
        )

    games = list(table.games) if runs else list(table1.games)
    report = Report(games=games, left_out=left_out)
    report.runs_used = [str(r.path) for r in table.runs.values()]
    report.missing = [f"{g} seed {s}" for g, s in table.missing]
    report.games_not_run = [g for g in table1.games if g not in table.games] if runs else []
    report.seeds_in_aggregates = list(table.complete_seeds)

    methods_all = _method_matrices(table1, per_seed, list(table1.games))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arch's notice about rliable's RandomState argument
        log(f"bootstrapping the published aggregates ({reps} replications)")
        report.paper_aggregates = aggregate_intervals(methods_all, reps, seed)
        report.paper_superhuman = {m: superhuman_count(table1.methods[m], table1.human) for m in PAPER_METHODS}

        scores = _method_matrices(table1, per_seed, games)
        if runs:
            ours = _hns_matrix(table1, games, [{g: table.scores[(g, s)] for g in games} for s in table.complete_seeds])
            if len(ours) == 0:
                raise ReportError(
                    "no seed has a run of every game, so no aggregate is defined; missing: " + ", ".join(report.missing)
                )
            scores = {OURS: ours, **scores}
            log(f"bootstrapping our aggregates on {len(games)} games × {len(ours)} seeds")
            report.aggregates = aggregate_intervals(scores, reps, seed)
            report.superhuman = {
                OURS: superhuman_count(table.game_means(), table1.human),
                **{m: superhuman_count({g: table1.methods[m][g] for g in games}, table1.human) for m in PAPER_METHODS},
            }
            for name, matrix in scores.items():
                if name != OURS:
                    report.improvement[name] = probability_of_improvement(ours, matrix, profile_reps, seed)
        profiles, profile_cis = performance_profiles(scores, TAUS, profile_reps, seed)

    report.per_game = _per_game_rows(table1, per_seed, games, table)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    on = f"{len(games)} game{'s' * (len(games) != 1)}"
    plots.aggregate_plot(
        report.paper_aggregates,
        plot_dir / "aggregates_paper.png",
        "Published results, 26 games (95% CIs where per-seed scores exist)",
    )
    report.plots["aggregates_paper"] = "plots/aggregates_paper.png"
    if runs:
        plots.aggregate_plot(report.aggregates, plot_dir / "aggregates.png", f"Ours and the published results on {on}")
        report.plots["aggregates"] = "plots/aggregates.png"
    plots.profile_plot(TAUS, profiles, profile_cis, plot_dir / "profiles.png", f"Performance profiles, {on}")
    report.plots["profiles"] = "plots/profiles.png"
    per_game_hns = {
        name: [row["hns"].get(name, np.nan) for row in report.per_game]
        for name in ([OURS] if runs else []) + list(PAPER_METHODS)
    }
    plots.per_game_plot(games, per_game_hns, plot_dir / "per_game.png")
    report.plots["per_game"] = "plots/per_game.png"
    curves = {
        g: {
            s: [
                (int(h["agent_steps"]), float(h["mean_return"]))
                for h in table.runs[(g, s)].test_history
                if "mean_return" in h
            ]
            for s in table.seeds
            if (g, s) in table.runs
        }
        for g in table.games
    }
    if any(points for per in curves.values() for points in per.values()):
        plots.learning_curves_plot(curves, plot_dir / "learning_curves.png")
        report.plots["learning_curves"] = "plots/learning_curves.png"

    write_json_atomically(out / "report.json", report.to_json())
    markdown = render_markdown(report)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(render_html(report, out))
    log(f"wrote {out / 'report.md'}, {out / 'report.html'} and {out / 'report.json'}")
    return report


def _per_game_rows(
    table1: Table1, per_seed: dict[str, list[float]], games: list[str], table: ScoreTable
) -> list[dict[str, Any]]:
    rows = []
    for g in games:
        ours = {s: table.scores[(g, s)] for s in table.seeds if (g, s) in table.scores}
        row: dict[str, Any] = {
            "game": g,
            "random": table1.random[g],
            "human": table1.human[g],
            "ours_per_seed": {str(s): v for s, v in ours.items()},
            "ours_mean": float(np.mean(list(ours.values()))) if ours else None,
            "paper": {m: table1.methods[m][g] for m in PAPER_METHODS},
            "paper_diamond_per_seed": per_seed[g],
        }
        row["hns"] = {m: float(table1.hns(g, v)) for m, v in row["paper"].items()}
        if ours:
            row["hns"][OURS] = float(table1.hns(g, row["ours_mean"]))
        rows.append(row)
    return rows


# -- rendering ------------------------------------------------------------------------------------------


def _fmt_iv(iv: Interval) -> str:
    return f"{iv.point:.3f}" if iv.low == iv.high == iv.point else f"{iv.point:.3f} ({iv.low:.3f}–{iv.high:.3f})"


def _aggregate_rows(aggregates: dict[str, dict[str, Interval]], superhuman: dict[str, int]) -> list[list[str]]:
    rows = []
    for name, ms in aggregates.items():
        key = "DIAMOND" if name == PAPER_DIAMOND else name
        rows.append([name, *(_fmt_iv(ms[m]) for m in METRICS), str(superhuman.get(key, superhuman.get(name, "")))])
    return rows


def _tables(report: Report) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) of each table, shared by the Markdown and the HTML renderings."""
    head = ["method", *(METRIC_NAMES[m] for m in METRICS), "#games ≥ human"]
    out = []
    if report.aggregates:
        out.append(
            (
                f"Ours against the published results on the same {len(report.games)} games",
                head,
                _aggregate_rows(report.aggregates, report.superhuman),
                f"Human-normalised scores; 95% stratified-bootstrap CIs. Our seeds: "
                f"{', '.join(map(str, report.seeds_in_aggregates))}. The other methods publish per-game means only "
                "(no interval).",
            )
        )
        out.append(
            (
                "Probability of improvement, P(ours > method)",
                ["method", "P (95% CI)"],
                [[k, _fmt_iv(v)] for k, v in report.improvement.items()],
                "",
            )
        )
    out.append(
        (
            "Published results, all 26 games",
            head,
            _aggregate_rows(report.paper_aggregates, report.paper_superhuman),
            "From the paper's Table 1 and DIAMOND's per-seed scores; DIAMOND's row is over its 5 × 26 runs.",
        )
    )
    per_game_head = ["game", "random", "human", "ours (mean)", "ours per seed", *PAPER_METHODS]
    per_game = [
        [
            r["game"],
            f"{r['random']:g}",
            f"{r['human']:g}",
            "–" if r["ours_mean"] is None else f"{r['ours_mean']:.1f}",
            ", ".join(f"{v:.1f}" for v in r["ours_per_seed"].values()) or "–",
            *(f"{r['paper'][m]:g}" for m in PAPER_METHODS),
        ]
        for r in report.per_game
    ]
    out.append(("Per game (raw scores)", per_game_head, per_game, ""))
    return out


def _problems(report: Report) -> list[tuple[str, list[str]]]:
    return [
        (title, items)
        for title, items in (
            (
                "Missing runs (game and seed with no finished run; such seeds are left out of the aggregates)",
                report.missing,
            ),
            ("Atari 100k games with no run (the aggregates cover only the games above)", report.games_not_run),
            ("Run folders left out", report.left_out),
        )
        if items
    ]


def render_markdown(report: Report) -> str:
    lines = ["# Atari 100k report", ""]
    for title, items in _problems(report):
        lines += [f"**{title}:**", "", *(f"- {i}" for i in items), ""]
    for title, head, rows, note in _tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines += ["", note, ""] if note else [""]
    lines += ["## Figures", ""]
    lines += [f"![{name}]({path})" for name, path in report.plots.items()]
    return "\n".join(lines) + "\n"


def render_html(report: Report, out: Path) -> str:
    """One self-contained page: the tables, and the figures embedded as base64 PNGs."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Atari 100k report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".warn{background:#fff3cd;padding:0.5em 1em}</style></head><body><h1>Atari 100k report</h1>"
    ]
    for title, items in _problems(report):
        parts.append(
            f"<div class='warn'><b>{e(title)}:</b><ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul></div>"
        )
    for title, head, rows, note in _tables(report):
        parts.append(f"<h2>{e(title)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>" + (f"<p>{e(note)}</p>" if note else ""))
    parts.append("<h2>Figures</h2>")
    for name, path in report.plots.items():
        data = base64.b64encode((out / path).read_bytes()).decode("ascii")
        parts.append(f"<p><img alt='{e(name)}' src='data:image/png;base64,{data}' style='max-width:100%'></p>")
    parts.append("</body></html>")
    return "\n".join(parts)
