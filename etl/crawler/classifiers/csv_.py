"""The CSV classifier: delimiter, quote and header detection, typed columns.

Follows Glue's documented rules: candidate delimiters are comma, pipe, tab, semicolon and
Ctrl-A; a table needs at least two columns and two rows; the first row is a header only when
it is all strings while some data column is not (otherwise columns are ``col0, col1, ...``).
Unlike Glue, the verdict says which rule decided, for ``etl crawler explain``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

from etl.crawler.model import Classification, Column
from etl.crawler.sample import FileSample
from etl.crawler.types import NULL, Type, format_type, infer_text, widen
from etl.errors import ConfigError

DELIMITERS = [",", "|", "\t", ";", "\u0001"]
QUOTES = ['"', "'"]
HEADER_MODES = ("UNKNOWN", "PRESENT", "ABSENT")
_GLUE_TYPES = {"BINARY": "binary", "BOOLEAN": "boolean", "DATE": "date", "DECIMAL": "double",
               "DOUBLE": "double", "FLOAT": "double", "INT": "bigint", "LONG": "bigint", "SHORT": "bigint",
               "STRING": "string", "TIMESTAMP": "timestamp"}


def _parse(lines: list[str], delimiter: str, quote: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, quotechar=quote)
    try:
        return list(reader)
    except csv.Error:
        return []


def _consistency(rows: list[list[str]]) -> tuple[float, int]:
    """(fraction of rows with the most common field count, that count)."""
    if not rows:
        return 0.0, 0
    width, hits = Counter(len(r) for r in rows).most_common(1)[0]
    return hits / len(rows), width


@dataclass
class CsvClassifier:
    """Glue's CSV classifier; the built-in one detects everything, a custom one fixes some."""

    name: str = "csv"
    delimiter: str | None = None
    quote_symbol: str | None = None
    contains_header: str = "UNKNOWN"
    header: list[str] = field(default_factory=list)
    disable_value_trimming: bool = False
    allow_single_column: bool = False
    custom_datatypes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.contains_header not in HEADER_MODES:
            raise ConfigError(f"csv classifier {self.name}: contains_header must be one of {HEADER_MODES}")
        unknown = [t for t in self.custom_datatypes if t.upper() not in _GLUE_TYPES]
        if unknown:
            raise ConfigError(f"csv classifier {self.name}: unknown custom datatypes {unknown}")

    def classify(self, sample: FileSample) -> Classification | None:
        if sample.is_binary:
            return None
        lines = sample.lines()
        if not lines:
            return None
        best = self._dialect(lines)
        if best is None:
            return None
        delimiter, quote, rows, consistency, width = best
        min_width = 1 if self.allow_single_column else 2
        if width < min_width or len(rows) < 2:
            return None
        rows = [r for r in rows if len(r) == width]
        if not self.disable_value_trimming:
            rows = [[v.strip() for v in r] for r in rows]
        rest_types = self._infer(rows[1:], width)
        has_header, why = self._header_decision(rows, rest_types)
        data = rows[1:] if has_header else rows
        data_types = rest_types if has_header else self._infer(rows[:1], width, rest_types)
        names = self._names(rows[0] if has_header else None, width)
        columns = [Column(n, format_type(t)) for n, t in zip(names, self._finish(data_types), strict=True)]
        quoted = any(quote in line for line in lines[:50])
        params = {"delimiter": delimiter, "typeOfData": "file", "areColumnsQuoted": str(quoted).lower(),
                  "skip.header.line.count": "1" if has_header else "0"}
        if sample.compression:
            params["compressionType"] = sample.compression
        serde = (
            {"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
             "Parameters": {"separatorChar": delimiter, "quoteChar": quote}}
            if quoted else
            {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
             "Parameters": {"field.delim": delimiter}}
        )
        shown = {"\t": "\\t", "\u0001": "\\u0001"}.get(delimiter, delimiter)
        return Classification(
            classification="csv",
            certainty=1.0 if consistency == 1.0 else round(consistency, 2),
            columns=columns,
            parameters=params,
            serde=serde,
            input_format="org.apache.hadoop.mapred.TextInputFormat",
            output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            record_count=None if sample.truncated else len(data),
            reason=f"csv: delimiter {shown!r}, {width} columns, {consistency:.0%} of {len(lines)} "
                   f"sampled rows consistent; {why}",
            classifier=self.name,
        )

    def _dialect(self, lines: list[str]) -> tuple[str, str, list[list[str]], float, int] | None:
        # Only candidates that occur at all are worth a parse (a delimiter must be in the first row).
        delimiters = [self.delimiter] if self.delimiter else [d for d in DELIMITERS if d in lines[0]]
        if not delimiters:
            delimiters = DELIMITERS[:1]
        text = "\n".join(lines)
        quotes = [self.quote_symbol] if self.quote_symbol else ([q for q in QUOTES if q in text] or QUOTES[:1])
        best = None
        for delimiter in delimiters:
            for quote in quotes:
                rows = _parse(lines, delimiter, quote)
                consistency, width = _consistency(rows)
                score = (consistency, width > 1, width)
                if best is None or score > best[0]:
                    best = (score, (delimiter, quote, rows, consistency, width))
        return best[1] if best and best[0][2] > 0 else None

    def _header_decision(self, rows: list[list[str]], rest_types: list[Type]) -> tuple[bool, str]:
        if self.contains_header == "PRESENT":
            return True, "header PRESENT (custom classifier)"
        if self.contains_header == "ABSENT":
            return False, "header ABSENT (custom classifier)"
        first = rows[0]
        if not all(infer_text(v) == "string" for v in first):
            return False, "no header: the first row has non-string values"
        if len(set(first)) != len(first) or any(v == "" for v in first):
            return False, "no header: first-row values are empty or repeated"
        if all(t in ("string", NULL) for t in rest_types):
            return False, "no header: every column is a string, so the first row is not distinguishable"
        return True, "header: the first row is all strings while some data columns are typed"

    def _names(self, header_row: list[str] | None, width: int) -> list[str]:
        if self.header:
            if len(self.header) != width:
                raise ConfigError(
                    f"csv classifier {self.name}: header has {len(self.header)} names for {width} columns"
                )
            return list(self.header)
        if header_row is None:
            return [f"col{i}" for i in range(width)]
        names, seen = [], Counter()
        for i, raw in enumerate(header_row):
            name = raw.strip().lower() or f"col{i}"
            seen[name] += 1
            names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
        return names

    @staticmethod
    def _infer(rows: list[list[str]], width: int, start: list[Type] | None = None) -> list[Type]:
        """Widened type per column; a column that reached string is not looked at again."""
        types: list[Type] = list(start) if start else [NULL] * width
        open_columns = [i for i in range(width) if types[i] != "string"]
        for row in rows:
            still_open = []
            for i in open_columns:
                types[i], _ = widen(types[i], infer_text(row[i]))
                if types[i] != "string":
                    still_open.append(i)
            open_columns = still_open
            if not open_columns:
                break
        return types

    def _finish(self, types: list[Type]) -> list[Type]:
        """Glue's CSV type names, restricted to the custom datatypes when configured."""
        allowed = {_GLUE_TYPES[t.upper()] for t in self.custom_datatypes}
        out: list[Type] = []
        for t in types:
            t = "string" if t == NULL else t
            if t in ("tinyint", "smallint", "int"):
                t = "bigint"  # Glue types CSV integers as bigint
            if allowed and t not in allowed:
                t = "double" if t in ("int", "bigint") and "double" in allowed else "string"
            out.append(t)
        return out


CSV = CsvClassifier()
