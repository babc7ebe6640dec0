"""The transform registry and Glue field paths (no JVM)."""

from __future__ import annotations

import pytest

import awsglue.transforms
from etl.errors import TransformError
from etl.transforms import ApplyMapping
from etl.transforms.base import Transform, get_transform, registered_transforms
from etl.transforms.paths import split_path


def test_get_transform_returns_the_class():
    cls = get_transform("ApplyMapping")
    assert cls is ApplyMapping
    assert issubclass(cls, Transform)
    assert cls.name == "ApplyMapping"


def test_awsglue_transforms_star_import_gives_the_registered_class():
    namespace: dict = {}
    exec("from awsglue.transforms import *", namespace)
    assert namespace["ApplyMapping"] is get_transform("ApplyMapping")
    assert "ApplyMapping" in awsglue.transforms.__all__


def test_lookup_is_case_sensitive_like_glue():
    with pytest.raises(TransformError):
        get_transform("applymapping")


def test_unknown_transform_lists_known_names():
    with pytest.raises(TransformError) as info:
        get_transform("Relationalize2")
    message = str(info.value)
    assert "'Relationalize2'" in message
    assert "known transforms:" in message
    for name in registered_transforms():
        assert name in message


def test_subclasses_register_themselves():
    class MyTestOnlyTransform(Transform):
        """Doubles things.

        More text.
        """

        def __call__(self, x):
            return 2 * x

    try:
        assert get_transform("MyTestOnlyTransform") is MyTestOnlyTransform
        assert MyTestOnlyTransform.name == "MyTestOnlyTransform"
        assert MyTestOnlyTransform.apply(21) == 42
        assert MyTestOnlyTransform.describe() == "Doubles things."
    finally:
        # keep the registry as other tests expect it
        from etl.transforms import base

        base._REGISTRY.pop("MyTestOnlyTransform", None)
    with pytest.raises(TransformError):
        get_transform("MyTestOnlyTransform")


def test_registered_transforms_is_a_copy():
    copy = registered_transforms()
    copy.pop("ApplyMapping")
    assert get_transform("ApplyMapping") is ApplyMapping


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("a", ["a"]),
        ("a.b.c", ["a", "b", "c"]),
        ("a.`b.c`.d", ["a", "b.c", "d"]),
        ("`a.b`", ["a.b"]),
        ("`x.y.z`.w", ["x.y.z", "w"]),
        ("customer.id", ["customer", "id"]),
        ("`with space`.`and-dash`", ["with space", "and-dash"]),
    ],
)
def test_split_path(path, parts):
    assert split_path(path) == parts


@pytest.mark.parametrize("path", ["a.`b.c", "`a", "a.b`", "`a`.`b"])
def test_split_path_unbalanced_back_tick(path):
    with pytest.raises(TransformError, match="unbalanced back-tick") as info:
        split_path(path)
    assert repr(path) in str(info.value)


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "``"])
def test_split_path_empty_name(path):
    with pytest.raises(TransformError, match="empty name"):
        split_path(path)
