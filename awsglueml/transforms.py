"""``from awsglueml.transforms import FillMissingValues``: Glue's ML transforms."""

from etl.transforms.fill_missing import FillMissingValues

__all__ = ["FillMissingValues"]
