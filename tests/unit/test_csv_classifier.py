"""The CSV classifier: delimiters, quotes, header rules, types, and the custom form."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.crawler.classifiers.csv_ import CSV, CsvClassifier
from etl.crawler.sample import FileSample
from etl.errors import ConfigError


def _classify(tmp_path: Path, text: str, classifier: CsvClassifier = CSV):
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    return classifier.classify(FileSample.of(path))


def _columns(verdict) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in verdict.columns]


@pytest.mark.parametrize("delimiter", [",", "|", "\t", ";", "\u0001"])
def test_each_glue_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    rows = [["id", "name", "amount", "day", "ok"]] + [
        [str(i), f"name {i}", f"{i}.25", f"2024-01-{i + 1:02d}", "true"] for i in range(6)
    ]
    verdict = _classify(tmp_path, "\n".join(delimiter.join(r) for r in rows) + "\n")
    assert verdict is not None and verdict.certainty == 1.0
    assert verdict.parameters["delimiter"] == delimiter
    assert verdict.parameters["skip.header.line.count"] == "1"
    assert _columns(verdict) == [("id", "bigint"), ("name", "string"), ("amount", "double"),
                                 ("day", "date"), ("ok", "boolean")]
    assert verdict.record_count == 6


def test_quoted_fields_with_delimiters_inside_and_single_quotes(tmp_path: Path) -> None:
    text = "id,comment\n1,\"a, b\"\n2,\"c, d\"\n3,plain\n"
    verdict = _classify(tmp_path, text)
    assert verdict.parameters["areColumnsQuoted"] == "true"
    assert verdict.serde["SerializationLibrary"].endswith("OpenCSVSerde")
    assert _columns(verdict) == [("id", "bigint"), ("comment", "string")]
    single = _classify(tmp_path, "id|note\n1|'x|y'\n2|'z|w'\n")
    assert single.serde["Parameters"]["quoteChar"] == "'"
    assert _columns(single) == [("id", "bigint"), ("note", "string")]


def test_timestamps_and_widening_within_a_column(tmp_path: Path) -> None:
    text = "ts,n\n2024-01-02 10:00:00,1\n2024-01-03T11:30:00,2.5\n2024-01-04,3\n"
    assert _columns(_classify(tmp_path, text)) == [("ts", "timestamp"), ("n", "double")]


def test_no_header_when_every_column_is_text_and_names_are_col_n(tmp_path: Path) -> None:
    verdict = _classify(tmp_path, "alpha,beta\ngamma,delta\nx,y\n")
    assert _columns(verdict) == [("col0", "string"), ("col1", "string")]
    assert verdict.parameters["skip.header.line.count"] == "0"
    assert "every column is a string" in verdict.reason


def test_no_header_when_first_row_is_typed(tmp_path: Path) -> None:
    verdict = _classify(tmp_path, "1,2.5\n2,3.5\n3,4.5\n")
    assert _columns(verdict) == [("col0", "bigint"), ("col1", "double")]


def test_not_csv(tmp_path: Path) -> None:
    assert _classify(tmp_path, "just one column\nof words\nhere\n") is None
    assert _classify(tmp_path, "a,b\n") is None  # a table needs two rows
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02,\x03\n" * 10)
    assert CSV.classify(FileSample.of(tmp_path / "bin.csv")) is None


def test_leading_zeros_stay_text(tmp_path: Path) -> None:
    verdict = _classify(tmp_path, "zip,n\n02134,1\n10001,2\n")
    assert _columns(verdict) == [("zip", "string"), ("n", "bigint")]


def test_custom_header_present_absent_names_and_datatypes(tmp_path: Path) -> None:
    text = "alpha;beta\ngamma;delta\n"
    present = CsvClassifier(name="c", delimiter=";", contains_header="PRESENT")
    assert _columns(_classify(tmp_path, text, present)) == [("alpha", "string"), ("beta", "string")]
    absent = CsvClassifier(name="c", contains_header="ABSENT", header=["x", "y"])
    verdict = _classify(tmp_path, "id,v\n1,2\n3,4\n", absent)
    assert _columns(verdict) == [("x", "string"), ("y", "string")]  # the 'id,v' row is data
    only_strings = CsvClassifier(name="c", custom_datatypes=["STRING"])
    assert _columns(_classify(tmp_path, "id,v\n1,2\n3,4\n", only_strings)) == [("id", "string"), ("v", "string")]
    single = CsvClassifier(name="c", allow_single_column=True, contains_header="PRESENT")
    assert _columns(_classify(tmp_path, "n\n1\n2\n", single)) == [("n", "bigint")]


def test_custom_classifier_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="contains_header"):
        CsvClassifier(name="c", contains_header="MAYBE")
    with pytest.raises(ConfigError, match="unknown custom datatypes"):
        CsvClassifier(name="c", custom_datatypes=["UUID"])
    with pytest.raises(ConfigError, match="header has 3 names for 2 columns"):
        _classify(tmp_path, "1,2\n3,4\n", CsvClassifier(name="c", header=["a", "b", "c"]))
