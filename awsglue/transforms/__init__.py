"""``from awsglue.transforms import *`` brings every Glue transform class, as on AWS Glue.

The classes live in :mod:`etl.transforms`; this module re-exports them under Glue's import name
(FillMissingValues is Glue's ML transform and lives in ``awsglueml.transforms``).
"""

from etl.transforms import *  # noqa: F403
from etl.transforms import __all__ as _ETL_NAMES

_NOT_GLUE = {"Transform", "get_transform", "registered_transforms", "FillMissingValues"}
__all__ = [name for name in _ETL_NAMES if name not in _NOT_GLUE]
