"""``from awsglueml.transforms import FindMatches``: Glue's ML transforms."""

from etl.findmatches.transforms import FindIncrementalMatches, FindMatches
from etl.transforms.fill_missing import FillMissingValues

__all__ = ["FillMissingValues", "FindIncrementalMatches", "FindMatches"]
