"""Labeling files, labelled pairs and the choice of labeling sets."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from etl.errors import LabelConflictError, LabelFileError, TransformError
from etl.findmatches.columns import KEY
from etl.findmatches.labels import (
    LabelRecord,
    choose_labeling_sets,
    labeled_pairs,
    labeling_set_frame,
    read_label_file,
    write_label_file,
    write_labeling_set,
)

COLUMNS = ["id", "name", "city"]


def write(tmp_path: Path, body: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


# ----- reading and writing files -----------------------------------------------------------------
def test_reads_glues_labeling_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufefflabeling_set_id,label,id,name,city\n"
        "s1,A,1,Ann Lee,Cork\n"
        "s1, A ,2,Anne Lee,\n"
        "\n"
        's1,B,3,"Bob, ""the builder""",Dublin\n'
        "s2,A,1,Ann Lee,Cork\n"
        "s2,C,4,Cid,Galway\n",
    )
    records = read_label_file(path, "id", COLUMNS)
    assert [(r.labeling_set_id, r.label, r.key) for r in records] == [
        ("s1", "A", "1"),
        ("s1", "A", "2"),  # spaces around a label are not part of it
        ("s1", "B", "3"),
        ("s2", "A", "1"),  # a record may be in several sets
        ("s2", "C", "4"),
    ]
    assert records[1].record == {"id": "2", "name": "Anne Lee", "city": None}
    assert records[2].record["name"] == 'Bob, "the builder"'


def test_leading_columns_may_be_anywhere(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,label,labeling_set_id\n1,Ann,A,s1\n2,Bob,B,s1\n")
    assert read_label_file(path, "id", COLUMNS) == [LabelRecord("s1", "A", "1"), LabelRecord("s1", "B", "2")]


def test_file_columns_may_be_a_subset_of_the_data_sets(tmp_path: Path) -> None:
    path = write(tmp_path, "labeling_set_id,label,id\ns1,A,1\ns1,B,2\n")
    assert [r.record for r in read_label_file(path, "id", COLUMNS)] == [{"id": "1"}, {"id": "2"}]
    path = write(tmp_path, "labeling_set_id,label,id,extra\ns1,A,1,x\ns1,B,2,y\n")
    assert len(read_label_file(path, "id")) == 2  # no data set columns given: no column check
    path = write(tmp_path, "labeling_set_id,label,id,name\ns1,A,1,x\ns1,B,2,y\n")
    assert len(read_label_file(path, "id", ["name"])) == 2  # the key is always known


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    records = [
        LabelRecord("s1", "A", "7", {"id": "7", "name": "line\nbreak", "city": None}),
        LabelRecord("s1", "B", "8", {"id": "8", "name": 'comma, quote"', "city": "Ennis"}),
        LabelRecord("s2", "A", "9", {"id": "9", "name": "Zoë", "city": "x"}),
        LabelRecord("s2", "A", "7", {"id": "7", "name": "Łukasz", "city": "y"}),
    ]
    path = tmp_path / "out" / "labels.csv"
    assert write_label_file(path, records) == 4
    assert path.read_text(encoding="utf-8").splitlines()[0] == "labeling_set_id,label,id,name,city"
    back = read_label_file(path, "id", COLUMNS)
    assert back == records
    assert [r.record for r in back] == [r.record for r in records]
    assert not [p for p in path.parent.iterdir() if p.name != "labels.csv"]  # no temporary file left


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", r"labels.csv, line 1: empty file"),
        ("label,id,name\nA,1,a\n", r"line 1: the header lacks the 'labeling_set_id' column"),
        ("labeling_set_id,id,name\ns1,1,a\n", r"line 1: the header lacks the 'label' column"),
        ("labeling_set_id,label,name\ns1,A,a\n", r"line 1: the primary key column 'id' is not in the header"),
        ("labeling_set_id,label,id,nickname\ns1,A,1,x\n", r"line 1: column\(s\) 'nickname' are not in the data set"),
        ("labeling_set_id,label,id,name,name\ns1,A,1,x,y\n", r"line 1: column 'name' appears twice"),
        ("labeling_set_id,label,id,,city\ns1,A,1,x,y\n", r"line 1: the header has an empty column name"),
        ("labeling_set_id,label,id\n", r"labels.csv: has a header but no labelled records"),
        ("labeling_set_id,label,id\ns1,A,1\ns1,,2\n", r"line 3: column 'label' is empty"),
        ("labeling_set_id,label,id\ns1,A,1\n ,B,2\n", r"line 3: column 'labeling_set_id' is empty"),
        ("labeling_set_id,label,id\ns1,A,1\ns1,B,\n", r"line 3: column 'id' is empty"),
        (
            "labeling_set_id,label,id\ns1,A,1\ns1,B,2\ns1,C,1\n",
            r"line 4: primary key '1' appears twice .*lines 2 and 4",
        ),
        ("labeling_set_id,label,id,name\ns1,A,1,x\ns1,B,2\n", r"line 3: 3 fields, the header has 4"),
        ("labeling_set_id,label,id,name\ns1,A,1,x,extra\n", r"line 2: 5 fields, the header has 4"),
        ('labeling_set_id,label,id,name\ns1,A,1,x\ns1,B,2,"bad"quote\n', r"line 3: malformed CSV"),
        ('labeling_set_id,label,id,name\ns1,A,1,"multi\nline"\ns1,B,2,"unterminated\n', r"line 4: malformed CSV"),
        ("labeling_set_id,label,id\ns1," + "L" * 256 + ",1\n", r"line 2: column 'label' is longer than 255"),
    ],
)
def test_bad_files_name_the_line_or_column(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(LabelFileError, match=expected) as caught:
        read_label_file(path, "id", COLUMNS)
    assert str(caught.value).startswith(str(path))


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(LabelFileError, match=r"nowhere.csv: file not found"):
        read_label_file(tmp_path / "nowhere.csv", "id")
    with pytest.raises(LabelFileError, match=r"cannot be read"):
        read_label_file(tmp_path, "id")  # a folder
    path = tmp_path / "latin1.csv"
    path.write_bytes("labeling_set_id,label,id,name\ns1,A,1,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(LabelFileError, match=r"latin1.csv, line 2: not UTF-8"):
        read_label_file(path, "id")


def test_a_single_record_set_is_kept_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "labeling_set_id,label,id\ns1,A,1\ns1,B,2\nlonely,A,3\n")
    with caplog.at_level(logging.WARNING, logger="etl.findmatches.labels"):
        records = read_label_file(path, "id")
    assert [r.labeling_set_id for r in records] == ["s1", "s1", "lonely"]
    assert "line 4: labeling set 'lonely' has a single record" in caplog.text


# ----- labelled pairs ----------------------------------------------------------------------------
def recs(set_id: str, **labels: str) -> list[LabelRecord]:
    """``recs("s1", k1="A", k2="A")``: records keyed 1 and 2 labelled A in set s1."""
    return [LabelRecord(set_id, label, key.removeprefix("k")) for key, label in labels.items()]


def test_pairs_within_sets_with_typed_keys(spark) -> None:
    records = recs("s1", k1="A", k2="A", k10="B") + recs("s2", k4="X", k5="Y", k10="X") + recs("s3", k2="P", k1="P")
    got = labeled_pairs(spark, records, T.LongType())
    expected = spark.createDataFrame(
        [(1, 2, True), (1, 10, False), (2, 10, False), (4, 5, False), (4, 10, True), (5, 10, False)],
        "id_l long, id_r long, is_match boolean",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)

    as_text = labeled_pairs(spark, recs("s1", k9="A", k10="B", k11="B"), T.StringType())
    rows = sorted(tuple(r) for r in as_text.collect())
    assert rows == [("10", "11", True), ("10", "9", False), ("11", "9", False)]  # string order: "10" < "9"


def test_labels_only_compare_within_a_set(spark) -> None:
    records = recs("s1", k1="A", k2="B") + recs("s2", k3="A", k4="A")  # "A" in s1 and s2 are unrelated
    rows = sorted(tuple(r) for r in labeled_pairs(spark, records, T.IntegerType()).collect())
    assert rows == [(1, 2, False), (3, 4, True)]


def test_conflicting_sets_are_named(spark) -> None:
    records = recs("s1", k1="A", k2="A", k3="B") + recs("s2", k1="X", k2="Y") + recs("s3", k2="Q", k1="Q")
    with pytest.raises(LabelConflictError) as caught:
        labeled_pairs(spark, records, T.LongType())
    assert str(caught.value) == "labels disagree: 1 and 2 match in set(s) s1, s3 but not in set(s) s2"


def test_keys_of_the_wrong_type_are_named(spark) -> None:
    with pytest.raises(TransformError, match=r"'x7' are not of the key's type bigint"):
        labeled_pairs(spark, recs("s1", k1="A", kx7="B"), T.LongType())


def test_no_labels_no_pairs(spark) -> None:
    assert labeled_pairs(spark, [], T.LongType()).count() == 0


# ----- choosing labeling sets --------------------------------------------------------------------
SCORED = [
    (1, 2, 0.51),  # the most uncertain pair, but its record 2 is in the most uncertain rejected pair
    (3, 4, 0.60),  # the most uncertain accepted pair left: a seed
    (13, 14, 0.90),  # a third seed, beyond num_sets=2
    (1, 7, 0.99),  # 7 is a neighbour of both seeds, strongest with 1
    (3, 7, 0.80),
    (2, 8, 0.90),
    (2, 5, 0.30),  # the most uncertain rejected pair: a seed
    (1, 9, 0.05),
    (5, 6, 0.95),
    (4, 10, 0.70),
    (3, 11, 0.20),
    (4, 12, 0.12),
]


def sets_of(frame) -> dict[str, frozenset]:
    grouped: dict[str, set] = {}
    for row in frame.collect():
        grouped.setdefault(row["labeling_set_id"], set()).add(row[KEY])
    return {k: frozenset(v) for k, v in grouped.items()}


def test_uncertain_seeds_from_both_sides_and_their_strongest_neighbours(spark) -> None:
    scored = spark.createDataFrame(SCORED, "id_l long, id_r long, match_probability double")
    chosen = choose_labeling_sets(scored, threshold=0.5, num_sets=2, set_size=4)
    assert chosen.columns == ["labeling_set_id", KEY]
    sets = sets_of(chosen)
    # one set grows from a pair the model would reject, one from a pair it would accept
    assert set(sets.values()) == {frozenset({2, 5, 6, 8}), frozenset({3, 4, 7, 10})}
    assert all(len(k) == 16 for k in sets)

    # a lower threshold makes other pairs the uncertain ones; one set starts on the accepting side
    low = sets_of(choose_labeling_sets(scored, threshold=0.15, num_sets=1, set_size=3))
    assert list(low.values()) == [frozenset({3, 11, 7})]

    more = sets_of(choose_labeling_sets(scored, threshold=0.5, num_sets=10, set_size=20))
    members = [k for s in more.values() for k in s]
    assert len(members) == len(set(members))  # no record in two sets
    assert set(members) == {r for pair in SCORED for r in pair[:2]}
    # the isolated pair (13, 14) makes a set of its own
    assert frozenset({13, 14}) in set(more.values())


def test_without_a_model_seeds_are_random_but_repeatable(spark) -> None:
    pairs = [(a, b, None) for a in range(1, 31) for b in range(a + 1, 31) if (b - a) <= 3]
    scored = spark.createDataFrame(pairs, "id_l int, id_r int, match_probability double")
    first = sets_of(choose_labeling_sets(scored, threshold=0.5, num_sets=3, set_size=5, seed=0))
    assert len(first) == 3
    assert all(len(s) == 5 for s in first.values())
    members = [k for s in first.values() for k in s]
    assert len(members) == len(set(members))
    again = sets_of(choose_labeling_sets(scored, threshold=0.5, num_sets=3, set_size=5, seed=0))
    other = sets_of(choose_labeling_sets(scored, threshold=0.5, num_sets=3, set_size=5, seed=7))
    assert again == first
    assert other != first


def test_choose_rejects_bad_arguments(spark) -> None:
    scored = spark.createDataFrame([(1, 2, 0.5)], "id_l long, id_r long, match_probability double")
    with pytest.raises(TransformError, match="num_sets must be at least 1"):
        choose_labeling_sets(scored, threshold=0.5, num_sets=0)
    with pytest.raises(TransformError, match="set_size must be at least 2"):
        choose_labeling_sets(scored, threshold=0.5, num_sets=1, set_size=1)
    with pytest.raises(TransformError, match=r"lack column\(s\) \['match_probability'\]"):
        choose_labeling_sets(scored.drop("match_probability"), threshold=0.5, num_sets=1)


def test_labeling_set_file_is_filled_in_and_read_back(spark, tmp_path: Path) -> None:
    records = spark.createDataFrame(
        [(i, f"name {i}", "Cork" if i % 2 else None) for i in range(1, 15)], "id long, name string, city string"
    )
    scored = spark.createDataFrame(SCORED, "id_l long, id_r long, match_probability double")
    sets = choose_labeling_sets(scored, threshold=0.5, num_sets=2, set_size=4)
    frame = labeling_set_frame(sets, records, "id")
    assert frame.columns == ["labeling_set_id", "label", "id", "name", "city"]
    rows = frame.collect()
    assert len(rows) == 8 and {r["label"] for r in rows} == {""}
    assert [(r["labeling_set_id"], r["id"]) for r in rows] == sorted((r["labeling_set_id"], r["id"]) for r in rows)

    path = tmp_path / "to_label.csv"
    assert write_labeling_set(frame, path, "id") == 8
    with open(path, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    for line in table[1:]:  # a person labels: 2, 5 and 6 are one customer, everyone else is alone
        line[1] = "same" if line[2] in {"2", "5", "6"} else f"only {line[2]}"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table)

    labels = read_label_file(path, "id", records.columns)
    assert len(labels) == 8
    pairs = labeled_pairs(spark, labels, T.LongType())
    assert pairs.count() == 12  # two sets of four records: 6 pairs each
    assert sorted((r.id_l, r.id_r) for r in pairs.filter("is_match").collect()) == [(2, 5), (2, 6), (5, 6)]


def test_labeling_set_frame_refuses_clashing_columns(spark) -> None:
    sets = spark.createDataFrame([("s", 1)], f"labeling_set_id string, {KEY} long")
    with pytest.raises(TransformError, match=r"column\(s\) \['label'\]"):
        labeling_set_frame(sets, spark.createDataFrame([(1, "x")], "id long, label string"), "id")
    with pytest.raises(TransformError, match="primary key column 'key' is not in the data set"):
        labeling_set_frame(sets, spark.createDataFrame([(1, "x")], "id long, name string"), "key")
