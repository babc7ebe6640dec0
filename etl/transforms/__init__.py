"""Glue's bundled transforms, each a :class:`~etl.transforms.base.Transform` in the registry."""

from etl.transforms.apply_mapping import ApplyMapping
from etl.transforms.base import Transform, get_transform, registered_transforms
from etl.transforms.collection import (
    Coalesce,
    ErrorsAsDynamicFrame,
    FlatMap,
    MapToCollection,
    Repartition,
    SelectFromCollection,
    Union,
)
from etl.transforms.fields import DropFields, DropNullFields, RenameField, SelectFields, UnnestFrame
from etl.transforms.fill_missing import FillMissingValues
from etl.transforms.join import Join
from etl.transforms.python_functions import Filter, Map
from etl.transforms.relationalize import Relationalize
from etl.transforms.resolve_choice import ResolveChoice
from etl.transforms.spigot import Spigot
from etl.transforms.split import SplitFields, SplitRows
from etl.transforms.unbox import Unbox

__all__ = [
    "ApplyMapping",
    "Coalesce",
    "DropFields",
    "DropNullFields",
    "ErrorsAsDynamicFrame",
    "FillMissingValues",
    "Filter",
    "FlatMap",
    "Join",
    "Map",
    "MapToCollection",
    "Relationalize",
    "RenameField",
    "Repartition",
    "ResolveChoice",
    "SelectFields",
    "SelectFromCollection",
    "Spigot",
    "SplitFields",
    "SplitRows",
    "Transform",
    "Unbox",
    "Union",
    "UnnestFrame",
    "get_transform",
    "registered_transforms",
]
