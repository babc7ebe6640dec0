"""Glue's JSON classifier: JSON lines and whole JSON documents, built-in and custom (JsonPath).

Two layouts are recognised from the (decompressed) sample:

* JSON lines: every sampled line is a JSON object (or array). Certainty 1.0 when all parse;
  when at least 90% of them parse the file is a likely JSON file with bad lines (certainty 0.5);
  below that it is not JSON.
* Whole documents (pretty-printed, a top-level array, or objects one after another): parsed with
  ``json.JSONDecoder.raw_decode``. When the sample stops before the end of the file, the prefix
  is parsed element by element: complete elements are records, the element cut by the end of the
  sample contributes what it has (its complete fields), and anything that is not a valid JSON
  prefix makes the file not JSON.

Records: the built-in classifier takes top-level objects as records, and the elements of a
top-level array (recording ``jsonPath`` ``$[*]``). A custom classifier takes the values its
JsonPath selects in each document; the supported subset is ``$``, ``.name``, ``['name']``,
``[*]`` and ``[n]`` (``$[*]``, ``$.a.b[*]``, ``$.a``). Columns are the merged top-level fields of
up to 1,000 records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from etl.crawler.classifiers._records import (
    TEXT_INPUT,
    TEXT_OUTPUT,
    columns_of,
    strip_bom,
    text_parameters,
)
from etl.crawler.model import Classification
from etl.crawler.sample import SAMPLE_RECORDS, FileSample
from etl.crawler.types import infer_value
from etl.errors import ConfigError

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
MIN_GOOD_LINES = 0.9
BAD_LINES_CERTAINTY = 0.5

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
# What the end of a truncated sample may cut: a string, a number or a literal, unfinished.
_SCALAR_PREFIX = re.compile(
    r'"(?:[^"\\]|\\.)*\\?'
    r"|-?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d*)?)?"
    r"|t(?:r(?:u)?)?|f(?:a(?:l(?:s)?)?)?|n(?:u(?:l)?)?"
)
_NOT_JSON_START = (b"PAR1", b"ORC", b"Obj\x01", b"\xe0\x01\x00\xea")


class NotJsonError(ValueError):
    """The text is not JSON (or not a valid prefix of JSON)."""


# ----- prefix-tolerant parsing ------------------------------------------------------------------
def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def parse_value(text: str, pos: int, partial: bool) -> tuple[Any, int, bool]:
    """One JSON value at ``pos``: (value, end, complete).

    With ``partial``, a value cut by the end of ``text`` is returned as far as it goes
    (containers hold their complete members; a cut scalar is None) with ``complete`` False.

    Raises:
        NotJsonError: not JSON, or (with ``partial``) not a prefix of JSON.
    """
    try:
        value, end = _DECODER.raw_decode(text, pos)
        return value, end, True
    except json.JSONDecodeError as exc:
        if not partial:
            raise NotJsonError(str(exc)) from exc
    ch = text[pos:pos + 1]
    if ch == "{":
        return _partial_object(text, pos)
    if ch == "[":
        return _partial_array(text, pos)
    if _SCALAR_PREFIX.fullmatch(text, pos):
        return None, len(text), False
    raise NotJsonError(f"invalid JSON at character {pos}")


def _partial_object(text: str, pos: int) -> tuple[dict, int, bool]:
    out: dict[str, Any] = {}
    n = len(text)
    i = _skip(text, pos + 1)
    if i < n and text[i] == "}":
        return out, i + 1, True
    while True:
        if i >= n:
            return out, n, False
        if text[i] != '"':
            raise NotJsonError(f"expected a field name at character {i}")
        try:
            key, i = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            if _SCALAR_PREFIX.fullmatch(text, i):
                return out, n, False
            raise NotJsonError(str(exc)) from exc
        i = _skip(text, i)
        if i >= n:
            return out, n, False
        if text[i] != ":":
            raise NotJsonError(f"expected ':' at character {i}")
        i = _skip(text, i + 1)
        if i >= n:
            return out, n, False
        value, i, complete = parse_value(text, i, True)
        if complete or value is not None:
            out[key] = value
        if not complete:
            return out, n, False
        i = _skip(text, i)
        if i >= n:
            return out, n, False
        if text[i] == "}":
            return out, i + 1, True
        if text[i] != ",":
            raise NotJsonError(f"expected ',' or '}}' at character {i}")
        i = _skip(text, i + 1)


def _partial_array(text: str, pos: int) -> tuple[list, int, bool]:
    out: list[Any] = []
    n = len(text)
    i = _skip(text, pos + 1)
    if i < n and text[i] == "]":
        return out, i + 1, True
    while True:
        if i >= n:
            return out, n, False
        value, i, complete = parse_value(text, i, True)
        if complete or value is not None:
            out.append(value)
        if not complete:
            return out, n, False
        i = _skip(text, i)
        if i >= n:
            return out, n, False
        if text[i] == "]":
            return out, i + 1, True
        if text[i] != ",":
            raise NotJsonError(f"expected ',' or ']' at character {i}")
        i = _skip(text, i + 1)


def parse_documents(text: str, partial: bool) -> tuple[list[Any], bool]:
    """Every top-level JSON value in ``text`` (one or several, whitespace-separated).

    Returns the documents and whether the last one is complete.
    """
    docs: list[Any] = []
    pos = _skip(text, 0)
    while pos < len(text):
        value, pos, complete = parse_value(text, pos, partial)
        if complete or value is not None:
            docs.append(value)
        if not complete:
            return docs, False
        pos = _skip(text, pos)
    return docs, True


# ----- JsonPath ---------------------------------------------------------------------------------
_STEP = re.compile(r"\.([^.\[\]]+)|\[\*\]|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
WILDCARD = None


@dataclass(frozen=True)
class JsonPath:
    """Glue's JsonPath subset: ``$`` then ``.name``, ``['name']``, ``[*]`` or ``[n]`` steps."""

    text: str
    steps: tuple[str | int | None, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Raises ConfigError for anything outside the subset."""
        path = text.strip()
        if not path.startswith("$"):
            raise ConfigError(f"JsonPath {text!r} must start with '$'")
        steps: list[str | int | None] = []
        pos = 1
        while pos < len(path):
            match = _STEP.match(path, pos)
            if not match:
                raise ConfigError(
                    f"JsonPath {text!r}: unsupported syntax at {path[pos:]!r} "
                    "(supported: $, .name, ['name'], [*], [n])")
            name, index, quoted1, quoted2 = match.groups()
            if name == "*" or match.group(0) == "[*]":
                steps.append(WILDCARD)
            elif index is not None:
                steps.append(int(index))
            else:
                steps.append(next(s for s in (name, quoted1, quoted2) if s is not None))
            pos = match.end()
        return cls(path, tuple(steps))

    def select(self, doc: Any) -> list[Any]:
        """The values the path selects in one document."""
        current = [doc]
        for step in self.steps:
            following: list[Any] = []
            for value in current:
                if step is WILDCARD:
                    if isinstance(value, list):
                        following.extend(value)
                    elif isinstance(value, dict):
                        following.extend(value.values())
                elif isinstance(step, int):
                    if isinstance(value, list) and step < len(value):
                        following.append(value[step])
                elif isinstance(value, dict) and step in value:
                    following.append(value[step])
            current = following
        return current


# ----- the classifier ---------------------------------------------------------------------------
@dataclass
class JsonClassifier:
    """Glue's JSON classifier; ``json_path`` None is the built-in one.

    Attributes:
        name: reported as ``Classification.classifier``.
        json_path: a custom classifier's JsonPath (records are the values it selects).
    """

    name: str = "json"
    json_path: JsonPath | None = None

    def classify(self, sample: FileSample) -> Classification | None:
        if sample.first_bytes.startswith(_NOT_JSON_START):
            return None
        text = strip_bom(sample.text())
        start = _skip(text, 0)
        if start >= len(text) or text[start] not in "{[":
            return None
        lines = sample.lines(SAMPLE_RECORDS + 1)
        more_lines = len(lines) > SAMPLE_RECORDS
        lines = lines[:SAMPLE_RECORDS]
        good = [doc for doc in map(_line_value, lines) if doc is not None]

        layout, certainty = "JSON lines", 1.0
        complete_sample = not sample.truncated and not more_lines
        docs: list[Any] = good
        if len(good) != len(lines) or not lines:
            try:
                docs, _ = parse_documents(text[start:], partial=sample.truncated)
                layout, complete_sample = "JSON document", not sample.truncated
            except NotJsonError as exc:
                if not lines or len(good) / len(lines) < MIN_GOOD_LINES:
                    return None
                bad = len(lines) - len(good)
                layout = f"JSON lines with {bad} bad line(s) of {len(lines)} ({exc})"
                certainty, complete_sample = BAD_LINES_CERTAINTY, False

        records, arrays = self._records(docs)
        if records is None or not records:
            return None
        columns = columns_of(infer_value(r)[1] for r in records[:SAMPLE_RECORDS])
        extra: dict[str, str] = {}
        if self.json_path is not None:
            extra["jsonPath"] = self.json_path.text
        elif arrays:
            extra["jsonPath"] = "$[*]"
        shown = f", records at {extra['jsonPath']}" if "jsonPath" in extra else ""
        return Classification(
            classification="json",
            certainty=certainty,
            columns=columns,
            parameters=text_parameters(sample, "json", **extra),
            serde={"SerializationLibrary": JSON_SERDE,
                   "Parameters": {"paths": ",".join(sorted(c.name for c in columns))}},
            input_format=TEXT_INPUT,
            output_format=TEXT_OUTPUT,
            record_count=len(records) if complete_sample and certainty == 1.0 else None,
            reason=(f"{layout}: {len(records)} object record(s){shown}, "
                    f"{len(columns)} top-level field(s)"
                    + (" (sample truncated)" if sample.truncated else "")),
            classifier=self.name,
        )

    def _records(self, docs: list[Any]) -> tuple[list[dict] | None, bool]:
        """Object records from the documents, and whether any came from a top-level array.

        None when the built-in classifier finds non-object records (an array of numbers is not
        a table).
        """
        if self.json_path is not None:
            selected = [v for doc in docs for v in self.json_path.select(doc)]
            return [v for v in selected if isinstance(v, dict)], False
        records: list[dict] = []
        arrays = False
        for doc in docs:
            values = doc if isinstance(doc, list) else [doc]
            arrays = arrays or isinstance(doc, list)
            for value in values:
                if isinstance(value, dict):
                    records.append(value)
                elif value is not None:
                    return None, arrays
        return records, arrays


def _line_value(line: str) -> Any:
    """The object or array on one line, or None when the line is not one."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def custom_json_classifier(name: str, json_path: str) -> JsonClassifier:
    """A user-defined JSON classifier (Glue's JsonClassifier) with a JsonPath.

    Raises:
        ConfigError: the path is outside the supported subset.
    """
    return JsonClassifier(name=name, json_path=JsonPath.parse(json_path))


JSON = JsonClassifier()
