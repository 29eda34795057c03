"""The README's Commands table lists every subcommand with every one of its flags, so the table a user reads
first cannot fall behind ``--help``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from diamond import cli

README = Path(__file__).resolve().parents[2] / "README.md"
INHERITS = {"play-web": "play", "play-engine-web": "play-engine"}  # their rows say "[same options]"


def _command_cells() -> dict[str, str]:
    text = README.read_text()
    table = text[text.index("## Commands") :]
    table = table[: table.index("\n#")]
    cells: dict[str, str] = {}
    for row in table.splitlines():
        if match := re.match(r"\| `diamond ([\w-]+)(.*?)` \|", row):
            cells[match.group(1)] = cells.get(match.group(1), "") + " " + match.group(2)
    return cells


def test_every_subcommand_and_flag_is_in_the_commands_table():
    cells = _command_cells()
    subparsers = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = {}
    for name, parser in subparsers.choices.items():
        assert name in cells, f"`diamond {name}` has no row in the README's Commands table"
        listed = cells[name] + cells.get(INHERITS.get(name, ""), "")
        flags = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
        missing.update({name: sorted(f for f in flags if not re.search(rf"{re.escape(f)}\b(?!-)", listed))})
    assert not {k: v for k, v in missing.items() if v}, missing
