"""User errors are one line and exit 2; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import argparse
import errno
import re

import pytest

from diamond import cli, flags, jobs
from diamond.configs.schema import ConfigError
from diamond.data.store import StoreError
from diamond.errors import InvalidValue, UserError, is_user_error


def test_every_user_error_family_derives_from_user_error():
    from diamond.benchmark.runs import ReportError
    from diamond.checkpoints.files import CheckpointError
    from diamond.data.episode_file import CorruptEpisodeFile
    from diamond.envs.vector import EnvWorkerError

    for family in (
        ConfigError,
        CheckpointError,
        CorruptEpisodeFile,
        StoreError,
        EnvWorkerError,
        ReportError,
        InvalidValue,
    ):
        assert issubclass(family, UserError), family
    assert issubclass(ConfigError, ValueError) and issubclass(StoreError, RuntimeError)  # callers' catches still work


def test_os_errors_count_as_user_errors_only_with_a_file_name():
    assert is_user_error(FileNotFoundError(errno.ENOENT, "No such file or directory", "runs/x/config.json"))
    assert not is_user_error(OSError(errno.EPIPE, "Broken pipe"))
    assert not is_user_error(ValueError("bug"))


def test_a_bad_value_is_one_line_with_exit_2(tmp_path, capsys):
    code = cli.main(["collect", "--game", "Breakoutt", "--steps", "10", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("diamond collect: error: --game: unknown Atari 100k game 'Breakoutt'")
    assert "Did you mean 'Breakout'?" in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("bug", [ValueError("bug"), KeyError("missing"), OSError("no file name")])
def test_an_internal_error_keeps_its_traceback(monkeypatch, tmp_path, bug):
    def broken_collect(*args, **kwargs):
        raise bug

    monkeypatch.setattr(jobs, "collect", broken_collect)
    with pytest.raises(type(bug)) as raised:
        cli.main(["collect", "--game", "Breakout", "--steps", "10", "--out", str(tmp_path / "s")])
    assert raised.value is bug  # propagated untouched: Python prints it with its traceback


def test_bench_refuses_float16_on_the_cpu_before_measuring(capsys):
    code = cli.main(["bench", "--device", "cpu", "--precision", "float16", "--repeats", "1"])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert "--precision 'float16' is for CUDA devices; on cpu use 'bfloat16' or 'float32'" in captured.err
    assert "yardsticks" not in captured.err and captured.out == ""  # refused before any timing


def test_the_precision_and_layout_choices_are_the_devices_ones():
    # argparse refuses anything else with the choices listed; they must be exactly what devices computes in
    from diamond.devices import LAYOUTS, PRECISIONS

    assert flags.PRECISION_NAMES == tuple(PRECISIONS)
    assert sorted(flags.LAYOUT_NAMES) == sorted(LAYOUTS)
    parser = cli.build_parser()
    for command in (["bench"], ["engine-fps"], ["play-engine", "--checkpoint", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--precision", "float64"])
        assert parser.parse_args([*command, "--precision", "bfloat16"]).precision in ("bfloat16", ["bfloat16"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["collect", "--game", "Breakout", "--steps", "-5"],
            "argument --steps: -5 is invalid; expected an integer >= 1",
        ),
        (["report", "--reps", "0"], "argument --reps: 0 is invalid; expected an integer >= 1"),
        (["report", "--profile-reps", "x"], "argument --profile-reps: 'x' is not an integer"),
        (["sweep", "--games", "Breakout", "--report-reps", "0"], "argument --report-reps: 0 is invalid"),
        (["evaluate-engine", "e.pt", "ds", "--horizon", "-1"], "argument --horizon: -1 is invalid"),
        (["play-web", "--port", "99999"], "argument --port: 99999 is invalid; expected an integer from 0 to 65535"),
        (["world-model-demo", "--train-steps", "0"], "argument --train-steps: 0 is invalid; expected an integer >= 1"),
        (["train-world-model", "--data", "a", "--test-data", "b", "--max-minutes", "nan"], "expected a number > 0"),
        (["bench", "--json", "."], "argument --json: . is a folder; expected a file name"),  # before measuring
        (["time-epoch", "--json", "no/such/x.json"], "argument --json: no/such/x.json: its folder no/such does not"),
        (["record-vizdoom", "rec", "--frames", "10", "--episode-frames", "0"], "argument --episode-frames: 0 is inv"),
    ],
)
def test_a_bad_count_is_refused_by_the_parser_before_anything_starts(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_every_set_example_in_the_help_is_a_key_of_that_commands_configuration():
    from diamond.configs.presets import engine_config, train_config, update_config, world_model_config
    from diamond.studies.command import STUDIES

    def study_config(preset, config_file, overrides):  # the example's study takes it
        errors = []
        for study in STUDIES.values():
            try:
                return update_config(study.presets[preset], config_file, overrides)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]

    configs = {"train-world-model": world_model_config, "world-model-demo": world_model_config}
    configs.update({"train-engine": engine_config, "train": train_config, "sweep": train_config, "study": study_config})
    subparsers = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    seen = set()
    for name, parser in subparsers.choices.items():
        for action in parser._actions:
            for example in (
                re.findall(r"--set ([\w.]+=[^\s,]+)", action.help or "") if "--set" in action.option_strings else []
            ):
                configs[name]("tiny", None, [example])  # raises ConfigError for an unknown key
                seen.add(name)
    assert {"train", "train-world-model", "world-model-demo", "train-engine", "study"} <= seen
