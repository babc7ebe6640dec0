"""Job arguments: Glue's merge order, names with or without ``--``, reserved names, the CLI form."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.jobs.args import getResolvedOptions
from etl.jobs.arguments import (
    RESERVED_NAMES,
    check_arguments,
    merge_arguments,
    normalize_arguments,
    parse_argv,
    parse_cli_arguments,
    to_argv,
)
from etl.jobs.definition import load_job_file


def test_merge_order_is_non_overridable_then_run_then_default():
    default = {"a": "default", "b": "default", "c": "default"}
    run = {"b": "run", "c": "run", "d": "run"}
    fixed = {"c": "fixed", "e": "fixed"}
    assert merge_arguments(default, run, fixed) == {"a": "default", "b": "run", "c": "fixed", "d": "run", "e": "fixed"}


def test_merge_with_nothing_given():
    assert merge_arguments(None, None, None) == {}
    assert merge_arguments({"a": "1"}, None, None) == {"a": "1"}


def test_names_with_or_without_dashes_are_the_same_argument():
    assert normalize_arguments({"--input": "s3://x", "output": "y"}) == {"input": "s3://x", "output": "y"}
    with pytest.raises(ValueError, match="given twice"):
        normalize_arguments({"--input": "a", "input": "b"})


def test_values_become_strings():
    assert normalize_arguments({"n": 3, "ratio": 0.5, "flag": True, "off": False, "empty": None}) == {
        "n": "3",
        "ratio": "0.5",
        "flag": "true",
        "off": "false",
        "empty": "",
    }
    with pytest.raises(ValueError, match="expected a string value, got list"):
        normalize_arguments({"paths": ["a", "b"]})


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_reserved_names_are_rejected(name):
    with pytest.raises(ValueError, match=f"--{name} is reserved"):
        normalize_arguments({f"--{name}": "x"})


def test_spark_conf_in_arguments_points_to_spark_conf():
    with pytest.raises(ValueError, match="spark_conf"):
        normalize_arguments({"--conf": "spark.executor.memory=2g"})


@pytest.mark.parametrize("bad", ["", "--", "--has space", "a=b", "--ü"])
def test_invalid_names_are_rejected(bad):
    with pytest.raises(ValueError, match="invalid"):
        normalize_arguments({bad: "x"})


def test_bookmark_option_must_be_one_of_glues():
    assert normalize_arguments({"--job-bookmark-option": "job-bookmark-enable"}) == {
        "job-bookmark-option": "job-bookmark-enable"
    }
    with pytest.raises(ValueError, match="job-bookmark-enable, job-bookmark-disable, job-bookmark-pause"):
        normalize_arguments({"--job-bookmark-option": "enable"})


def test_check_arguments_names_the_source():
    with pytest.raises(ConfigError, match=r"^run arguments: --JOB_RUN_ID is reserved"):
        check_arguments({"JOB_RUN_ID": "jr_x"}, "run arguments")


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    (tmp_path / "x.py").write_text("print('x')\n")
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reserved_names_in_a_definition_name_the_file_and_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "job:\n  script: x.py\n  non_overridable_arguments:\n    --JOB_NAME: other\n")
    with pytest.raises(ConfigError) as info:
        load_job_file(path)
    message = str(info.value)
    assert str(path) in message and "job.non_overridable_arguments" in message and "--JOB_NAME is reserved" in message


def test_definition_arguments_are_normalized(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        "job:\n  script: x.py\n  DefaultArguments: {--input: in, retries: 3}\n"
        "  NonOverridableArguments: {--job-bookmark-option: job-bookmark-enable}\n",
    )
    definition = load_job_file(path)
    assert definition.default_arguments == {"input": "in", "retries": "3"}
    assert definition.non_overridable_arguments == {"job-bookmark-option": "job-bookmark-enable"}


def test_cli_arguments():
    assert parse_cli_arguments(["a=1", "--b=x=y", "empty=", " c =3"]) == {"a": "1", "b": "x=y", "empty": "", "c": "3"}
    assert parse_cli_arguments(["a=1", "a=2"]) == {"a": "2"}
    with pytest.raises(ConfigError, match=r"--arg 'novalue': expected NAME=VALUE"):
        parse_cli_arguments(["novalue"])
    with pytest.raises(ConfigError, match=r"--arg 'JOB_NAME=x': --JOB_NAME is reserved"):
        parse_cli_arguments(["JOB_NAME=x"])
    with pytest.raises(ConfigError, match="invalid"):
        parse_cli_arguments(["=x"])


def test_argv_round_trip_and_glue_reads_it():
    args = {"JOB_NAME": "j", "input": "data/raw", "job-bookmark-option": "job-bookmark-enable", "empty": ""}
    argv = to_argv(args)
    assert argv[:4] == ["--JOB_NAME", "j", "--input", "data/raw"]
    assert parse_argv(argv) == args
    assert parse_argv(["--a=1", "--b", "2"]) == {"a": "1", "b": "2"}
    resolved = getResolvedOptions(["script.py", *argv], ["JOB_NAME", "input", "empty"])
    assert resolved["JOB_NAME"] == "j" and resolved["input"] == "data/raw" and resolved["empty"] == ""
    assert resolved["job_bookmark_option"] == "job-bookmark-enable"


@pytest.mark.parametrize(("argv", "problem"), [(["x"], "expected --name"), (["--a"], "has no value")])
def test_parse_argv_errors(argv, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_argv(argv)
