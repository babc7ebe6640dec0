"""Crawlers: walk folders, classify files, infer schemas and partitions, update the catalog."""
