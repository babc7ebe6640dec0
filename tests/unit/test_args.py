"""``getResolvedOptions``: Glue's job-argument parser (no JVM).

Glue's documented behaviour: arguments are passed as ``--name value``; the script asks for them
by name without the dashes; the result also carries ``job_bookmark_option`` (default
``job-bookmark-disable``); names of reserved options come back with underscores.
"""

from __future__ import annotations

import pytest

from awsglue.utils import getResolvedOptions as glue_getResolvedOptions
from etl.errors import ConfigError
from etl.jobs.args import BOOKMARK_OPTIONS, getResolvedOptions

SCRIPT = "job.py"


@pytest.fixture(params=["etl", "awsglue"])
def resolve(request):
    """The same function reached through both import names."""
    return getResolvedOptions if request.param == "etl" else glue_getResolvedOptions


def test_awsglue_reexports_the_same_function():
    assert glue_getResolvedOptions is getResolvedOptions


def test_space_separated_values(resolve):
    args = resolve([SCRIPT, "--JOB_NAME", "nightly", "--input_path", "data/in"],
                   ["JOB_NAME", "input_path"])
    assert args["JOB_NAME"] == "nightly"
    assert args["input_path"] == "data/in"


def test_equals_separated_values(resolve):
    args = resolve([SCRIPT, "--JOB_NAME=nightly", "--input_path=s3://b/k=v/x"],
                   ["JOB_NAME", "input_path"])
    assert args["JOB_NAME"] == "nightly"
    # only the first '=' separates name and value
    assert args["input_path"] == "s3://b/k=v/x"


def test_first_argument_is_the_script_and_is_skipped(resolve):
    # args[0] looks like an option but is sys.argv[0]; it must not be parsed
    args = resolve(["--JOB_NAME=wrong", "--JOB_NAME", "right"], ["JOB_NAME"])
    assert args["JOB_NAME"] == "right"


def test_default_bookmark_option_is_disable(resolve):
    args = resolve([SCRIPT, "--JOB_NAME", "j"], ["JOB_NAME"])
    assert args["job_bookmark_option"] == "job-bookmark-disable"


def test_reserved_option_with_dashes_comes_back_with_underscores(resolve):
    args = resolve(
        [SCRIPT, "--JOB_NAME", "j", "--job-bookmark-option", "job-bookmark-enable",
         "--job-bookmark-from", "1", "--TempDir", "/tmp/glue", "--JOB_RUN_ID", "jr_1"],
        ["JOB_NAME"],
    )
    assert args["job_bookmark_option"] == "job-bookmark-enable"
    assert args["job_bookmark_from"] == "1"
    assert args["TempDir"] == "/tmp/glue"
    assert args["JOB_RUN_ID"] == "jr_1"
    assert "job-bookmark-option" not in args
    assert "job-bookmark-from" not in args


@pytest.mark.parametrize("choice", BOOKMARK_OPTIONS)
def test_every_bookmark_choice_is_accepted(resolve, choice):
    args = resolve([SCRIPT, f"--job-bookmark-option={choice}", "--JOB_NAME", "j"], ["JOB_NAME"])
    assert args["job_bookmark_option"] == choice


def test_invalid_bookmark_choice_is_a_config_error(resolve):
    with pytest.raises(ConfigError, match="job-bookmark-option"):
        resolve([SCRIPT, "--JOB_NAME", "j", "--job-bookmark-option", "job-bookmark-sometimes"],
                ["JOB_NAME"])


def test_unrelated_extra_arguments_are_ignored(resolve):
    # Glue itself passes many arguments a script never asks for
    args = resolve(
        [SCRIPT, "--JOB_NAME", "j", "--enable-metrics", "true", "--extra-py-files", "a.zip",
         "--conf", "spark.x=1", "--input_path", "in", "--debug"],
        ["JOB_NAME", "input_path"],
    )
    assert args["JOB_NAME"] == "j"
    assert args["input_path"] == "in"
    assert not {"enable_metrics", "extra_py_files", "conf", "debug"} & set(args)


def test_result_holds_requested_options_and_given_reserved_ones_only(resolve):
    args = resolve([SCRIPT, "--JOB_NAME", "j", "--other", "x"], ["JOB_NAME"])
    assert args == {"JOB_NAME": "j", "job_bookmark_option": "job-bookmark-disable"}


def test_missing_required_option_is_a_config_error_naming_it(resolve):
    with pytest.raises(ConfigError) as info:
        resolve([SCRIPT, "--JOB_NAME", "j"], ["JOB_NAME", "output_path"])
    assert "--output_path" in str(info.value)
    assert "JOB_NAME" not in str(info.value)


def test_option_without_a_value_is_a_config_error(resolve):
    with pytest.raises(ConfigError, match="--input_path"):
        resolve([SCRIPT, "--JOB_NAME", "j", "--input_path"], ["JOB_NAME", "input_path"])


def test_abbreviations_are_not_accepted(resolve):
    # argparse would otherwise take --input for --input_path
    with pytest.raises(ConfigError, match="--input_path"):
        resolve([SCRIPT, "--input", "x"], ["input_path"])


def test_option_named_with_dashes_is_keyed_with_underscores(resolve):
    args = resolve([SCRIPT, "--source-table", "orders"], ["source-table"])
    assert args["source_table"] == "orders"


def test_last_occurrence_wins(resolve):
    args = resolve([SCRIPT, "--day", "1", "--day", "2"], ["day"])
    assert args["day"] == "2"


@pytest.mark.parametrize(
    "reserved",
    ["job-bookmark-option", "continuation-option", "job-bookmark-from", "job-bookmark-to",
     "JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "encryption-type"],
)
def test_requesting_a_reserved_name_is_a_config_error(resolve, reserved):
    with pytest.raises(ConfigError) as info:
        resolve([SCRIPT, f"--{reserved}", "job-bookmark-enable", "--JOB_NAME", "j"],
                ["JOB_NAME", reserved])
    assert reserved in str(info.value)
    assert "reserved" in str(info.value)


@pytest.mark.parametrize("name", ["TempDir", "RedshiftTempDir"])
def test_temp_dir_may_be_requested(resolve, name):
    # Glue lets a script ask for TempDir explicitly
    args = resolve([SCRIPT, f"--{name}", "/tmp/t"], [name])
    assert args[name] == "/tmp/t"
