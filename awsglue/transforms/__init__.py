"""``from awsglue.transforms import *`` brings every registered transform class."""

from etl.transforms import ApplyMapping

__all__ = ["ApplyMapping"]
