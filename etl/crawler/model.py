"""What a classifier reports about one file, in the catalog's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    """A catalog column: Hive/Glue type strings (``bigint``, ``struct<a:int>``, ...)."""

    name: str
    type: str
    comment: str | None = None
    # Types seen for this column when files disagreed and the type was widened ("bigint|string").
    choice: str | None = None

    def to_glue(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.type}
        if self.comment:
            out["Comment"] = self.comment
        if self.choice:
            out["Parameters"] = {"etl.choice": self.choice}
        return out


@dataclass
class Classification:
    """A classifier's verdict on one file.

    Attributes:
        classification: Glue's classification string (``csv``, ``parquet``, ``combined_apache``...).
        certainty: 0.0 (not this format) to 1.0 (certain); the crawler stops at the first 1.0.
        columns: the file's schema.
        parameters: table parameters to record (``delimiter``, ``skip.header.line.count``,
            ``jsonPath``, ``rowTag``, ``grokPattern``, ``typeOfData``...).
        serde: SerdeInfo (``SerializationLibrary`` and its ``Parameters``).
        input_format / output_format: Hadoop formats, as Glue records them.
        record_count: rows, when metadata says so exactly (Parquet/ORC/Avro footers) or the sample
            covered the whole file; None otherwise.
        reason: one line saying why, for ``etl crawler explain``.
    """

    classification: str
    certainty: float
    columns: list[Column] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    serde: dict[str, Any] = field(default_factory=dict)
    input_format: str | None = None
    output_format: str | None = None
    record_count: int | None = None
    reason: str = ""
    classifier: str = ""  # the name of the classifier that produced it (built-in or custom)
