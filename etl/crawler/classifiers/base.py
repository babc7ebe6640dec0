"""The classifier contract and Glue's built-in order."""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from etl.crawler.model import Classification
from etl.crawler.sample import FileSample

# Glue's built-in classifiers, in the order Glue tries them; each maps to "module:attribute".
BUILTIN_ORDER: dict[str, str] = {
    "avro": "etl.crawler.classifiers.columnar:AVRO",
    "orc": "etl.crawler.classifiers.columnar:ORC",
    "parquet": "etl.crawler.classifiers.columnar:PARQUET",
    "json": "etl.crawler.classifiers.json_:JSON",
    "bson": "etl.crawler.classifiers.bson_:BSON",
    "xml": "etl.crawler.classifiers.xml_:XML",
    "ion": "etl.crawler.classifiers.ion_:ION",
    "combined_apache": "etl.crawler.classifiers.logs:COMBINED_APACHE",
    "apache": "etl.crawler.classifiers.logs:APACHE",
    "linux_kernel": "etl.crawler.classifiers.logs:LINUX_KERNEL",
    "microsoft_log": "etl.crawler.classifiers.logs:MICROSOFT_LOG",
    "ruby_logger": "etl.crawler.classifiers.logs:RUBY_LOGGER",
    "squid": "etl.crawler.classifiers.logs:SQUID",
    "csv": "etl.crawler.classifiers.csv_:CSV",
}


class Classifier(Protocol):
    """Anything that can look at a file sample and say what it is.

    ``classify`` returns None (or certainty 0.0) when the file is not its format. It must read
    at most the sample (text formats) or the file's metadata (columnar formats: footer/header
    only, never a full scan), and raise :class:`etl.errors.ClassificationError` for a file that
    claims its format but is corrupt or truncated.
    """

    name: str

    def classify(self, sample: FileSample) -> Classification | None: ...


def builtin_classifiers() -> list[Classifier]:
    """The built-in classifiers in Glue's order."""
    out = []
    for target in BUILTIN_ORDER.values():
        module, attribute = target.split(":")
        out.append(getattr(import_module(module), attribute))
    return out
