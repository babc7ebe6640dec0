"""Glue's bundled transforms, each a :class:`~etl.transforms.base.Transform` in the registry."""

from etl.transforms.apply_mapping import ApplyMapping
from etl.transforms.base import Transform, get_transform, registered_transforms

__all__ = ["ApplyMapping", "Transform", "get_transform", "registered_transforms"]
