"""YAML job specs: loading, placeholders and validation errors that name the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.jobs.spec import JobSpec, load_spec, substitute

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "conf" / "jobs" / "clean_orders.yaml"

BASE = """
sources:
  raw: {path: "${input_path}", format: csv, format_options: {withHeader: true}}
steps:
  - {name: typed, transform: ApplyMapping, args: {mappings: [[a, string, a, int]]}}
  - {name: kept, transform: Filter, condition: "a > 1"}
sinks:
  out: {path: "${output_path}/out", format: parquet, partition_keys: [a]}
"""
ARGS = {"input_path": "/data/in", "output_path": "/data/out"}


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path, args: dict[str, str] | None = ARGS) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(path, args)
    return str(info.value)


# ----- what a valid spec becomes -------------------------------------------------------------
def test_example_spec_loads_with_arguments():
    spec = load_spec(EXAMPLE, {"input_path": "/in/orders", "output_path": "/out"})
    assert spec.source_file == str(EXAMPLE)
    assert spec.sources["raw_orders"].paths == ["/in/orders"]
    assert [(s.name, s.transform, s.input) for s in spec.steps] == [
        ("resolved", "ResolveChoice", "raw_orders"),
        ("typed", "ApplyMapping", "resolved"),
        ("valid", "Filter", "typed"),
        ("cleaned", "DropNullFields", "valid"),
    ]
    assert spec.quality is not None and spec.quality.quarantine_path == "/out/quarantine"
    assert {r.action for r in spec.quality.rules} == {"fail", "warn", "quarantine"}
    assert spec.sinks["orders_parquet"].path == "/out/orders"
    assert spec.sinks["orders_delta"].primary_keys == ["order_id"]
    assert spec.job is not None and spec.job["name"] == "clean_orders"  # the definition is passed through


def test_inputs_default_to_the_previous_step_and_sinks_to_the_last(tmp_path):
    spec = load_spec(write(tmp_path, BASE), ARGS)
    assert [s.input for s in spec.steps] == ["raw", "typed"]
    assert spec.sinks["out"].input == "kept"
    assert spec.sources["raw"].transformation_ctx is None  # the runner uses the source name


def test_placeholders_defaults_escapes_and_dashed_names():
    data = {"a": "${x}/${y:-fallback}", "b": ["$${literal}", {"c": "${job-bookmark-option}"}], "n": 3}
    out = substitute(data, {"--x": "X", "job_bookmark_option": "job-bookmark-enable"}, "f.yaml")
    assert out == {"a": "X/fallback", "b": ["${literal}", {"c": "job-bookmark-enable"}], "n": 3}


def test_glue_spellings_are_accepted(tmp_path):
    path = write(
        tmp_path,
        """
        Sources:
          raw: {Path: /in, Format: json, pushDownPredicate: "year = 2024"}
        Sinks:
          out: {catalog: {database: d, table: t}, enableUpdateCatalog: true, partitionKeys: [year],
                path: /out, format: parquet}
        """,
    )
    spec = load_spec(path, {})
    assert spec.sources["raw"].push_down_predicate == "year = 2024"
    assert spec.sinks["out"].enable_update_catalog is True
    assert spec.sinks["out"].partition_keys == ["year"]


def test_collections_are_addressed_by_key(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          a: {path: /a, format: json}
          b: {path: /b, format: json}
        steps:
          - {name: j, transform: Join, input: [a, b], args: {keys1: [id], keys2: [id]}}
          - {name: split, transform: SplitFields, args: {paths: [id], name1: ids, name2: rest}}
          - {name: both, transform: Union, input: [split.ids, split.rest]}
        sinks:
          out: {input: split.rest, path: /o, format: json}
        """,
    )
    spec = load_spec(path, {})
    assert spec.steps[1].input == "j"
    assert spec.steps[2].inputs == ["split.ids", "split.rest"]


# ----- errors --------------------------------------------------------------------------------
def test_unknown_key_names_file_and_key_path(tmp_path):
    path = write(tmp_path, BASE.replace("partition_keys: [a]", "partition_keys: [a], partitions: 3"))
    message = error_of(path)
    assert message.startswith(f"{path}: sinks.out.partitions: ")
    assert "Extra inputs are not permitted" in message


def test_unknown_transform_names_step_and_lists_known_ones(tmp_path):
    path = write(tmp_path, BASE.replace("transform: ApplyMapping", "transform: ApplyMaping"))
    message = error_of(path)
    assert f"{path}: steps.0.transform:" in message
    assert "step 'typed': unknown transform 'ApplyMaping'" in message
    assert "known transforms: ApplyMapping, " in message and "ResolveChoice" in message


def test_input_that_names_nothing_earlier(tmp_path):
    path = write(tmp_path, BASE.replace('condition: "a > 1"', 'condition: "a > 1", input: typo'))
    message = error_of(path)
    assert (
        f"{path}: steps.1.input: step 'kept' (Filter) reads 'typo', which is neither a source nor an earlier step"
        in message
    )
    assert "(known: raw, typed)" in message


def test_input_must_come_before_the_step(tmp_path):
    text = BASE.replace("args: {mappings", "input: kept, args: {mappings")
    message = error_of(write(tmp_path, text))
    assert "steps.0.input: step 'typed' (ApplyMapping) reads 'kept'" in message


def test_missing_argument_names_the_key_and_the_argument(tmp_path):
    path = write(tmp_path, BASE)
    message = error_of(path, {"input_path": "/in"})
    assert message == f"{path}: sinks.out.path: argument 'output_path' is not given (pass --output_path VALUE)"


def test_transform_arguments_are_checked_against_its_signature(tmp_path):
    path = write(tmp_path, BASE.replace("args: {mappings:", "args: {mapings:"))
    message = error_of(path)
    assert f"{path}: steps.0.args.mapings: step 'typed' (ApplyMapping) takes no argument 'mapings'" in message
    assert "it takes: caseSensitive, info, mappings" in message
    assert f"{path}: steps.0.args: step 'typed' (ApplyMapping): missing argument(s) mappings" in message


@pytest.mark.parametrize(
    ("step", "where", "expected"),
    [
        ("{name: f, transform: Filter}", "steps.2.condition", "Filter needs condition"),
        (
            "{name: f, transform: Filter, condition: 'a > 1', args: {f: x}}",
            "steps.2.args",
            "Filter in a spec takes condition, not args",
        ),
        (
            "{name: f, transform: DropNullFields, condition: 'a > 1'}",
            "steps.2.condition",
            "condition is only for the Filter transform",
        ),
        ("{name: f, transform: Map}", "steps.2.transform", "takes a Python function (f)"),
        (
            "{name: f, transform: Join, args: {keys1: [a], keys2: [a]}}",
            "steps.2.input",
            "takes 2 input frame(s) (frame1, frame2), got 1",
        ),
        (
            "{name: f, transform: DropNullFields, transform_id: tfm-1}",
            "steps.2.transform_id",
            "transform_id is only for FindMatches",
        ),
        ("{name: raw, transform: DropNullFields}", "steps.2.name", "'raw' is already a source or step name"),
        (
            "{name: f, transform: DropNullFields, args: {transformation_ctx: x}}",
            "steps.2.args.transformation_ctx",
            "set transformation_ctx on the step",
        ),
        ("{name: 'a.b', transform: DropNullFields}", "steps.2.name", "no dots"),
    ],
)
def test_step_errors(tmp_path, step, where, expected):
    text = BASE.replace("sinks:", f"  - {step}\nsinks:")
    message = error_of(write(tmp_path, text))
    assert f": {where}:" in message and expected in message, message


def test_a_collection_needs_a_key(tmp_path):
    text = BASE.replace(
        "sinks:",
        "  - {name: s, transform: SplitFields, args: {paths: [a]}}\n  - {name: t, transform: DropNullFields}\nsinks:",
    )
    message = error_of(write(tmp_path, text))
    assert (
        "steps.3.input: step 't' (DropNullFields) reads 's', which returns a collection; name one frame as "
        "'s.<key>'" in message
    )


@pytest.mark.parametrize(
    ("rules", "where", "expected"),
    [
        ("[{rule: between, column: a}]", "quality.rules.0", "rule between needs min, max or both"),
        ("[{rule: not_null}]", "quality.rules.0", "rule not_null needs column"),
        ("[{rule: row_count, min: 1, action: quarantine}]", "quality.rules.0", "row_count is a table rule"),
        ("[{rule: in_set, column: a}]", "quality.rules.0", "in_set needs it"),
        ("[{rule: between, column: a, min: 5, max: 1}]", "quality.rules.0", "min 5 is greater than max 1"),
        (
            "[{rule: unique, column: a, action: quarantine}]",
            "quality.quarantine_path",
            "rules with action quarantine need quarantine_path",
        ),
        ("[{rule: unique, column: a}, {rule: unique, column: a}]", "quality.rules.1.name", "used twice"),
        ("[{rule: unique, column: a, action: drop}]", "quality.rules.0.action", "'fail', 'warn' or 'quarantine'"),
    ],
)
def test_quality_rule_errors(tmp_path, rules, where, expected):
    text = BASE.replace("sinks:", f"quality:\n  rules: {rules}\nsinks:")
    message = error_of(write(tmp_path, text))
    assert f": {where}:" in message and expected in message, message


def test_quality_input_must_exist(tmp_path):
    text = BASE.replace("sinks:", "quality:\n  input: nope\n  rules: [{rule: row_count, min: 1}]\nsinks:")
    assert "quality.input: quality reads 'nope'" in error_of(write(tmp_path, text))


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        ("{path: /o, format: orc}", "sinks write parquet, delta, csv, json; got 'orc'"),
        ("{path: /o}", "a sink needs path and format"),
        ("{path: /o, format: parquet, primary_keys: [a]}", "primary_keys (upsert) needs format delta"),
        ("{catalog: {database: d, table: t}, path: /o, format: parquet}", "set enable_update_catalog"),
        ("{path: /o, format: parquet, mode: replace}", "'append', 'overwrite'"),
    ],
)
def test_sink_errors(tmp_path, sink, expected):
    text = BASE.replace('out: {path: "${output_path}/out", format: parquet, partition_keys: [a]}', f"out: {sink}")
    message = error_of(write(tmp_path, text))
    assert ": sinks.out" in message and expected in message, message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{path: /i}", "a path source needs format"),
        ("{path: /i, format: csvx}", "unknown format 'csvx'"),
        ("{path: /i, format: csv, catalog: {database: d, table: t}}", "either path (with format) or catalog"),
        ("{catalog: {database: d, table: t}, format: csv}", "takes its format from the table"),
    ],
)
def test_source_errors(tmp_path, source, expected):
    text = BASE.replace(
        'raw: {path: "${input_path}", format: csv, format_options: {withHeader: true}}', f"raw: {source}"
    )
    message = error_of(write(tmp_path, text))
    assert ": sources.raw" in message and expected in message, message


def test_file_level_errors(tmp_path):
    assert error_of(tmp_path / "missing.yaml") == f"{tmp_path / 'missing.yaml'}: file not found"
    assert "expected a mapping at the top level" in error_of(write(tmp_path, "- a\n- b\n"))
    assert "not valid YAML" in error_of(write(tmp_path, "a: [b\n"))
    assert "sinks: Field required" in error_of(write(tmp_path, "sources: {raw: {path: /i, format: csv}}\n"))


def test_model_validation_without_a_file():
    spec = JobSpec.model_validate(
        {
            "sources": {"raw": {"path": "/i", "format": "parquet"}},
            "sinks": {"out": {"path": "/o", "format": "delta"}},
        }
    )
    assert spec.sinks["out"].input == "raw"
    assert spec.source_file == "spec"


def test_driver_arguments():
    from etl.jobs.spec_main import parse_arguments

    args = parse_arguments(["spec_main.py", "--spec", "s.yaml", "--JOB_NAME", "j", "--input-path=/in", "--n", "3"])
    assert args["spec"] == "s.yaml" and args["JOB_NAME"] == "j"
    assert args["input_path"] == "/in" and args["n"] == "3"
    assert args["job_bookmark_option"] == "job-bookmark-disable"
    with pytest.raises(ConfigError, match="--n has no value"):
        parse_arguments(["p", "--spec", "s", "--JOB_NAME", "j", "--n"])
    with pytest.raises(ConfigError, match="expected --name value pairs, got 'stray'"):
        parse_arguments(["p", "--spec", "s", "stray"])
    with pytest.raises(ConfigError, match="required: --spec"):
        parse_arguments(["p", "--JOB_NAME", "j"])


def test_find_matches_steps(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          old: {path: /old, format: parquet}
          new: {path: /new, format: parquet}
          labels: {path: /labels, format: csv}
        steps:
          - {name: matched, transform: FindMatches, input: old, transform_id: tfm-1,
             args: {enforcedMatches: labels, computeMatchConfidenceScores: true}}
          - {name: incremental, transform: FindIncrementalMatches, input: [old, new], args: {transformId: tfm-1}}
        sinks:
          out: {input: matched, path: /o, format: delta}
        """,
    )
    spec = load_spec(path, {})
    assert spec.steps[0].call_args() == {
        "enforcedMatches": "labels",
        "computeMatchConfidenceScores": True,
        "transformId": "tfm-1",
    }
    assert spec.steps[1].inputs == ["old", "new"]

    broken = (
        path.read_text().replace("transform_id: tfm-1,", "").replace("enforcedMatches: labels", "enforcedMatches: x")
    )
    message = error_of(write(tmp_path, broken, "broken.yaml"))
    assert "steps.0.args: step 'matched' (FindMatches): missing argument(s) transformId" in message
    message = error_of(
        write(tmp_path, broken.replace("{enforcedMatches: x,", "{transformId: t, enforcedMatches: x,"), "broken2.yaml")
    )
    assert (
        "steps.0.args.enforcedMatches: step 'matched' (FindMatches) enforcedMatches reads 'x', which is neither"
        in message
    )
