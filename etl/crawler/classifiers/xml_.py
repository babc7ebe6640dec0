"""Glue's XML classifier: rows are the elements named by a row tag (built-in: inferred).

The sample is fed to ``xml.etree.ElementTree.XMLPullParser`` (bytes, so the document's encoding
declaration is honoured); when the sample stops inside the document only the row elements that
were closed are used. A document that is not well-formed XML within the sample is not XML.

Row tag (built-in): the most repeated child element of the root; when the root has a single
child that itself has children (``<catalog><books><book/>...``) the search goes one level down;
when nothing repeats the root itself is the one row. Names keep the document's namespace prefix
(``ns:item``), as Spark's XML reader matches them.

Columns follow Spark's XML reader (spark-xml defaults): attributes become fields named with the
``_`` prefix, an element with text and attributes keeps its text in ``_VALUE``, child elements
become nested structs, repeated elements become arrays (an element repeated in one row and single
in another is an array), and text values are typed by :func:`etl.crawler.types.infer_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

from etl.crawler.classifiers._records import columns_of, text_parameters
from etl.crawler.model import Classification
from etl.crawler.sample import SAMPLE_RECORDS, FileSample
from etl.crawler.types import NULL, Type, infer_text, merge_fields, widen
from etl.errors import ConfigError

XML_SERDE = "com.ibm.spss.hive.serde2.xml.XmlSerDe"
XML_INPUT = "com.ibm.spss.hive.serde2.xml.XmlInputFormat"
XML_OUTPUT = "org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat"
ATTRIBUTE_PREFIX = "_"
VALUE_TAG = "_VALUE"
_CHUNK = 1 << 16  # fed to the parser at a time; reading stops once 1,000 rows are complete


# ----- parsing ----------------------------------------------------------------------------------
@dataclass
class _Document:
    root: Element | None  # None until the first start tag is read
    closed: set[int]  # id() of every element whose end tag was read
    prefixes: dict[str, str]  # namespace URI -> prefix as written

    def name(self, tag: str) -> str:
        """``{uri}local`` back to ``prefix:local`` (or ``local``)."""
        if tag.startswith("{"):
            uri, local = tag[1:].split("}", 1)
            prefix = self.prefixes.get(uri, "")
            return f"{prefix}:{local}" if prefix else local
        return tag


def _parse(sample: FileSample, row_tag: str | None) -> tuple[_Document, bool] | None:
    """The document as far as the sample goes, and whether reading stopped early because
    1,000 rows were already complete."""
    head = sample.head
    text_start = head.lstrip()
    if text_start.startswith(b"\xef\xbb\xbf"):
        text_start = text_start[3:].lstrip()
    if not text_start.startswith(b"<"):
        return None
    parser = XMLPullParser(events=("start", "end", "start-ns"))
    doc = _Document(None, set(), {})

    def consume() -> None:
        for event, item in parser.read_events():
            if event == "start-ns":
                prefix, uri = item  # type: ignore[misc]
                doc.prefixes.setdefault(uri, prefix)
            elif event == "start" and doc.root is None:
                doc.root = item  # type: ignore[assignment]
            elif event == "end":
                doc.closed.add(id(item))

    try:
        for offset in range(0, len(head), _CHUNK):
            parser.feed(head[offset:offset + _CHUNK])
            consume()
            if doc.root is not None and offset + _CHUNK < len(head):
                tag = row_tag or infer_row_tag(doc)
                if len(_rows(doc, tag)) >= SAMPLE_RECORDS:
                    return doc, True
        if not sample.truncated:
            parser.close()
            consume()
    except ParseError:
        return None
    if doc.root is None:
        return None
    return doc, False


# ----- row tag ----------------------------------------------------------------------------------
def infer_row_tag(doc: _Document) -> str:
    """The repeated child of the root (see the module docstring)."""
    assert doc.root is not None
    level = doc.root
    while True:
        counts: dict[str, int] = {}
        for child in level:
            name = doc.name(child.tag)
            counts[name] = counts.get(name, 0) + 1
        if not counts:
            return doc.name(level.tag)
        best = max(counts, key=counts.__getitem__)  # first seen wins ties
        if counts[best] > 1:
            return best
        children = list(level)
        if len(children) == 1 and len(children[0]):
            level = children[0]
            continue
        return doc.name(level.tag)


def _rows(doc: _Document, row_tag: str) -> list[Element]:
    """Closed elements named ``row_tag``, outermost only, in document order (at most 1,000)."""
    rows: list[Element] = []
    stack = [doc.root] if doc.root is not None else []
    while stack and len(rows) < SAMPLE_RECORDS:
        element = stack.pop()
        if doc.name(element.tag) == row_tag:
            if id(element) in doc.closed:
                rows.append(element)
            continue
        stack.extend(reversed(list(element)))
    return rows


# ----- types ------------------------------------------------------------------------------------
def xml_widen(a: Type, b: Type) -> tuple[Type, bool]:
    """:func:`widen` plus spark-xml's rules: single vs repeated -> array; text vs struct ->
    struct with ``_VALUE``."""
    if a == b:
        return a, False
    if a == NULL:
        return b, False
    if b == NULL:
        return a, False
    a_array = isinstance(a, tuple) and a[0] == "array"
    b_array = isinstance(b, tuple) and b[0] == "array"
    if a_array and b_array:
        element, conflict = xml_widen(a[1], b[1])
        return ("array", element), conflict
    if a_array:
        return xml_widen(a, ("array", b))
    if b_array:
        return xml_widen(("array", a), b)
    a_struct = isinstance(a, tuple) and a[0] == "struct"
    b_struct = isinstance(b, tuple) and b[0] == "struct"
    if a_struct and b_struct:
        fields, conflict = merge_fields(a[1], b[1], xml_widen)
        return ("struct", fields), conflict
    if a_struct and isinstance(b, str):
        return xml_widen(a, ("struct", [(VALUE_TAG, b)]))
    if b_struct and isinstance(a, str):
        return xml_widen(("struct", [(VALUE_TAG, a)]), b)
    return widen(a, b)


def element_fields(doc: _Document, element: Element) -> list[tuple[str, Type]]:
    """The fields of one element: attributes, then text (``_VALUE``), then children."""
    fields: list[tuple[str, Type]] = [
        (ATTRIBUTE_PREFIX + doc.name(k), infer_text(v)) for k, v in element.attrib.items()
    ]
    children: dict[str, list[Type]] = {}
    for child in element:
        children.setdefault(doc.name(child.tag), []).append(element_type(doc, child))
    if not children and (element.text or "").strip():
        fields.append((VALUE_TAG, infer_text(element.text or "")))
    for name, types in children.items():
        merged: Type = NULL
        for t in types:
            merged, _ = xml_widen(merged, t)
        fields.append((name, ("array", merged) if len(types) > 1 else merged))
    return fields


def element_type(doc: _Document, element: Element) -> Type:
    """A leaf's text type, or a struct of its attributes, text and children."""
    if not len(element) and not element.attrib:
        return infer_text(element.text or "")
    return ("struct", element_fields(doc, element))


# ----- the classifier ---------------------------------------------------------------------------
@dataclass
class XmlClassifier:
    """Glue's XML classifier; ``row_tag`` None is the built-in one (row tag inferred)."""

    name: str = "xml"
    row_tag: str | None = None

    def classify(self, sample: FileSample) -> Classification | None:
        if sample.first_bytes.startswith((b"PAR1", b"ORC", b"Obj\x01")):
            return None
        parsed = _parse(sample, self.row_tag)
        if parsed is None:
            return None
        doc, stopped_early = parsed
        row_tag = self.row_tag or infer_row_tag(doc)
        rows = _rows(doc, row_tag)
        if not rows or doc.root is None:
            return None
        root_name = doc.name(doc.root.tag)
        columns = columns_of((element_fields(doc, row) for row in rows), xml_widen)
        complete = not sample.truncated and not stopped_early and len(rows) < SAMPLE_RECORDS
        how = "given" if self.row_tag else "inferred"
        return Classification(
            classification="xml",
            certainty=1.0,
            columns=columns,
            parameters=text_parameters(
                sample, "xml", rowTag=row_tag,
                **{"xml.input.start": f"<{row_tag}", "xml.input.end": f"</{row_tag}>"}),
            serde={"SerializationLibrary": XML_SERDE,
                   "Parameters": {f"column.xpath.{c.name}": _xpath(row_tag, c.name, c.type)
                                  for c in columns}},
            input_format=XML_INPUT,
            output_format=XML_OUTPUT,
            record_count=len(rows) if complete else None,
            reason=(f"well-formed XML under <{root_name}>; row tag <{row_tag}> "
                    f"({how}): {len(rows)} row(s), {len(columns)} column(s)"
                    + (" (first 1,000 rows)" if stopped_early
                       else " (sample truncated: complete rows only)" if sample.truncated
                       else "")),
            classifier=self.name,
        )


def _xpath(row_tag: str, column: str, hive_type: str) -> str:
    """The Hive XmlSerDe XPath of a column."""
    if column == VALUE_TAG:
        return f"/{row_tag}/text()"
    if column.startswith(ATTRIBUTE_PREFIX):
        return f"/{row_tag}/@{column[len(ATTRIBUTE_PREFIX):]}"
    if hive_type.startswith(("struct<", "array<", "map<")):
        return f"/{row_tag}/{column}"
    return f"/{row_tag}/{column}/text()"


def custom_xml_classifier(name: str, row_tag: str) -> XmlClassifier:
    """A user-defined XML classifier (Glue's XMLClassifier) with its row tag.

    Raises:
        ConfigError: the row tag is empty or not an element name.
    """
    tag = row_tag.strip().strip("<>").strip()
    if not tag or any(ch.isspace() or ch in "<>/=\"'" for ch in tag):
        raise ConfigError(f"XML classifier {name}: bad row tag {row_tag!r}")
    return XmlClassifier(name=name, row_tag=tag)


XML = XmlClassifier()
