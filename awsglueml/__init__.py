"""Glue's ``awsglueml`` import names (ML transforms), re-exported from :mod:`etl`."""
