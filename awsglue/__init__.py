"""Glue's import names, re-exported from :mod:`etl` so Glue scripts run unchanged."""

from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection

__all__ = ["DynamicFrame", "DynamicFrameCollection"]
