"""Collection transforms (MapToCollection, FlatMap, SelectFromCollection) and the frame methods
Glue also offers as classes (ErrorsAsDynamicFrame, Repartition, Coalesce, Union), each through
its method form and its class form."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection
from etl.frame.records import ERROR_SCHEMA
from etl.transforms.base import get_transform
from etl.transforms.collection import (
    Coalesce,
    ErrorsAsDynamicFrame,
    FlatMap,
    MapToCollection,
    Repartition,
    SelectFromCollection,
    Union,
)
from etl.transforms.split import SplitFields, SplitRows

DDL = "id long, `a.b` string, loc struct<city:string, `zip.code`:string>, tags array<struct<t:string>>"
ROWS = [
    (1, "x", ("Oslo", "0150"), [("a",), None]),
    (2, None, None, None),
    (3, "", ("Rome", None), []),
    (4, "w", ("Lima", "15001"), [("b",)]),
]


SECOND_DDL = "loc struct<city:string, `zip.code`:string>, id long, more string"


def errors_df(spark, *messages):
    return spark.createDataFrame([("read", "", m, "src", "{}") for m in messages], ERROR_SCHEMA)


@pytest.fixture
def messy_df(spark):
    return spark.createDataFrame(ROWS, DDL)


@pytest.fixture
def messy(messy_df, glue):
    return DynamicFrame.fromDF(messy_df, glue, "messy")


@pytest.fixture
def dfc(messy):
    """Two frames: the ids and dotted field, and the nested rest."""
    return messy.split_fields(["id", "`a.b`"], "left", "right")


def test_transforms_are_registered():
    for cls in (MapToCollection, FlatMap, SelectFromCollection, ErrorsAsDynamicFrame, Repartition, Coalesce, Union):
        assert get_transform(cls.__name__) is cls


# ----- MapToCollection / dfc.map -------------------------------------------------------------
def test_map_to_collection_applies_the_callable_to_every_frame(dfc):
    seen = []

    def one_partition(frame, ctx):
        seen.append((frame.name, ctx))
        return frame.coalesce(1, transformation_ctx=ctx)

    mapped = MapToCollection.apply(dfc=dfc, callable=one_partition, transformation_ctx="m")
    assert mapped.keys() == ["left", "right"]
    assert seen == [("left", "m:left"), ("right", "m:right")]
    for key in mapped:
        assert mapped[key].getNumPartitions() == 1
        assert_df_equality(mapped[key].toDF(), dfc[key].toDF())
    # the method form
    assert dfc.map(lambda frame, ctx: frame.repartition(3)).keys() == ["left", "right"]


def test_map_to_collection_rejects_a_callable_that_returns_no_frame(dfc):
    with pytest.raises(TransformError, match="MapToCollection: the function returned int for frame 'left'"):
        MapToCollection.apply(dfc=dfc, callable=lambda frame, ctx: 42)


# ----- FlatMap / dfc.flatmap -----------------------------------------------------------------
def test_flatmap_flattens_collections_returned_by_the_transform(dfc):
    split = FlatMap.apply(
        dfc=dfc,
        BaseTransform=SplitRows,
        frame_name="frame",
        transformation_ctx="fm",
        comparison_dict={"id": {"<": 3}},
    )
    # SplitRows names its frames frame1/frame2 for every input, so only the input without "id"
    # (whose rows all go to frame2) is left under those keys: Glue's flattening, later wins.
    assert split.keys() == ["frame1", "frame2"]
    assert split["frame1"].count() == 0 and split["frame2"].count() == 4
    assert split["frame2"].transformation_ctx == "fm:right"
    named = FlatMap.apply(dfc=dfc, BaseTransform=SplitFields, frame_name="frame", paths=["loc.city", "`a.b`"])
    assert named.keys() == ["left1", "left2", "right1", "right2"]
    assert named["left1"].toDF().columns == ["a.b"]
    assert named["right1"].toDF().schema.simpleString() == "struct<loc:struct<city:string>>"


def test_flatmap_keeps_frames_under_their_names_and_takes_transform_names(dfc):
    result = FlatMap.apply(dfc=dfc, BaseTransform="Repartition", frame_name="frame", num_partitions=3)
    assert isinstance(result, DynamicFrameCollection)
    assert result.keys() == ["left", "right"]
    assert [result[k].getNumPartitions() for k in result] == [3, 3]
    # the method form with a plain function
    assert dfc.flatmap(lambda frame, ctx: frame.split_fields(["id"], f"{frame.name}_a", f"{frame.name}_b")).keys() == [
        "left_a",
        "left_b",
        "right_a",
        "right_b",
    ]


def test_flatmap_rejects_a_transform_that_returns_no_frame(dfc):
    class ReturnsNumber:
        @classmethod
        def apply(cls, **kwargs):
            return 42

    with pytest.raises(TransformError, match=r"FlatMap\(ReturnsNumber\): the function returned int"):
        FlatMap.apply(dfc=dfc, BaseTransform=ReturnsNumber, frame_name="frame")
    with pytest.raises(TransformError, match="unknown transform 'NoSuchTransform'"):
        FlatMap.apply(dfc=dfc, BaseTransform="NoSuchTransform", frame_name="frame")


# ----- SelectFromCollection / dfc.select -----------------------------------------------------
def test_select_from_collection(dfc):
    assert SelectFromCollection.apply(dfc=dfc, key="right") is dfc["right"]
    assert dfc.select("left") is dfc["left"]
    with pytest.raises(TransformError, match="no frame named 'middle'"):
        SelectFromCollection.apply(dfc=dfc, key="middle")


# ----- ErrorsAsDynamicFrame ------------------------------------------------------------------
def test_errors_as_dynamic_frame(spark, glue, messy):
    broken = DynamicFrame(messy.toDF(), glue, "broken", errors=errors_df(spark, "e1", "e2"))
    downstream = broken.split_fields(["id"], "a", "b")["b"]
    errors = ErrorsAsDynamicFrame.apply(frame=downstream)
    assert errors.toDF().schema == ERROR_SCHEMA
    assert sorted(r["error_message"] for r in errors.toDF().collect()) == ["e1", "e2"]
    assert messy.errorsAsDynamicFrame().count() == 0
    assert ErrorsAsDynamicFrame.apply(messy).count() == 0


# ----- Repartition / Coalesce ----------------------------------------------------------------
def test_repartition(messy, messy_df):
    for result in (messy.repartition(3), Repartition.apply(frame=messy, num_partitions=3, transformation_ctx="r")):
        assert result.getNumPartitions() == 3
        assert result.toDF().schema == messy_df.schema
        # chispa's row sorting cannot handle the dotted name
        assert sorted(result.toDF().collect()) == sorted(messy_df.collect())


def test_coalesce(messy):
    four = messy.repartition(4)
    assert four.coalesce(2).getNumPartitions() == 2
    assert Coalesce.apply(frame=four, num_partitions=2).getNumPartitions() == 2
    assert Coalesce.apply(frame=four, num_partitions=8).getNumPartitions() == 4  # no shuffle: cannot grow
    assert Coalesce.apply(frame=four, num_partitions=8, shuffle=True).getNumPartitions() == 8
    assert Coalesce.apply(frame=four, num_partitions=1).count() == 4


@pytest.mark.parametrize("cls", [Repartition, Coalesce])
@pytest.mark.parametrize("bad", [0, -2, 1.5, "3", True])
def test_partition_counts_are_checked(messy, cls, bad):
    with pytest.raises(TransformError, match=f"{cls.__name__}: num_partitions must be a whole number >= 1"):
        cls.apply(frame=messy, num_partitions=bad)


@pytest.mark.parametrize(
    "apply",
    [
        lambda f: Repartition.apply(frame=f, num_partitions=2, totalThreshold=1),
        lambda f: Coalesce.apply(frame=f, num_partitions=1, totalThreshold=1),
        lambda f: Union.apply(frame1=f, frame2=f, totalThreshold=3),
    ],
)
def test_thresholds_are_checked(spark, glue, messy, apply):
    broken = DynamicFrame(messy.toDF(), glue, "broken", errors=errors_df(spark, "e1", "e2"))
    with pytest.raises(ErrorThresholdExceededError, match="total"):
        apply(broken)


# ----- Union ---------------------------------------------------------------------------------
def test_union_matches_fields_by_name_and_keeps_errors_of_both(spark, glue, messy_df):
    first = DynamicFrame(messy_df, glue, "first", errors=errors_df(spark, "e1"))
    second = DynamicFrame(
        spark.createDataFrame(
            [(("Pisa", None), 9, "extra")], "loc struct<city:string, `zip.code`:string>, id long, more string"
        ),
        glue,
        "second",
        errors=errors_df(spark, "e2", "e3"),
    )
    for union in (first.union(second), Union.apply(frame1=first, frame2=second, transformation_ctx="u")):
        df = union.toDF()
        assert df.columns == ["id", "a.b", "loc", "tags", "more"]
        assert union.count() == 5
        assert df.filter("id = 9").first()["loc"] == ("Pisa", None)
        assert df.filter("id = 9").first()["a.b"] is None
        assert union.errorsCount() == 3
    assert Union.apply(frame1=first, frame2=second, totalThreshold=3).errorsCount() == 3
