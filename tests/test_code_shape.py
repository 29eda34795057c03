"""The shape of the code: small modules and short functions (see the README's design section).

A module of ``src/diamond`` above MAX_MODULE_LINES lines, or a function (nested ones included) above
MAX_FUNCTION_LINES lines, must be listed below with the reason it is allowed to be so long. An entry that
no longer exceeds its limit must be removed, so the lists only ever shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

import diamond

MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 80
PACKAGE = Path(diamond.__file__).parent

# module (relative to src/diamond) -> why it may be longer
LONG_MODULES = {
    "benchmark/report.py": "the report's statistics and its three output formats; to be split into the two",
    "configs/schema.py": "every typed configuration of the spec in one file, each dataclass with its validate()",
    "data/repair.py": "check and the crash-safe repair share the damage scan and the repair record; to be split",
    "data/store.py": "the crash-safe store: creation, opening with recovery, writing and reading share its locking",
    "envs/vector.py": "the sync and subprocess vector envs and the worker protocol between them",
    "play/pygame_app.py": "the desktop window: drawing, keys and the frame loop; to be split",
    "play/session.py": "the play session's state machine; to be split into sources and controllers",
}

# "module:function" -> why it may be longer
LONG_FUNCTIONS = {
    "benchmark/report.py:build_report": "reads runs, computes every statistic and writes three formats; to be split",
    "jobs.py:run_demo": "the world-model demo's collect, train, imagine and summary steps; to be split per step",
}


def _modules() -> list[tuple[str, str]]:
    return [(p.relative_to(PACKAGE).as_posix(), p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))]


def _module_lengths() -> dict[str, int]:
    return {name: text.count("\n") for name, text in _modules()}


def _function_lengths() -> dict[str, int]:
    lengths: dict[str, int] = {}
    for name, text in _modules():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = f"{name}:{node.name}"
                lengths[key] = max(lengths.get(key, 0), node.end_lineno - node.lineno + 1)
    return lengths


def test_modules_are_short_or_listed_with_a_reason():
    too_long = {m: n for m, n in _module_lengths().items() if n > MAX_MODULE_LINES and m not in LONG_MODULES}
    assert not too_long, (
        f"modules above {MAX_MODULE_LINES} lines: {too_long}; split them, or list them in LONG_MODULES with a reason"
    )


def test_functions_are_short_or_listed_with_a_reason():
    too_long = {f: n for f, n in _function_lengths().items() if n > MAX_FUNCTION_LINES and f not in LONG_FUNCTIONS}
    assert not too_long, (
        f"functions above {MAX_FUNCTION_LINES} lines: {too_long}; split them, or list them in "
        "LONG_FUNCTIONS with a reason"
    )


def test_allow_lists_hold_only_current_offenders():
    modules, functions = _module_lengths(), _function_lengths()
    stale = [m for m in LONG_MODULES if modules.get(m, 0) <= MAX_MODULE_LINES]
    stale += [f for f in LONG_FUNCTIONS if functions.get(f, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"no longer too long (or gone): {stale}; remove them from the allow-lists"
    assert all(reason.strip() for reason in {**LONG_MODULES, **LONG_FUNCTIONS}.values())
