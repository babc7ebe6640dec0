"""Glue's partition ``Expression`` language (GetPartitions), parsed and evaluated.

Supported: ``= <> != > < >= <=``, ``AND``, ``OR``, ``NOT``, ``[NOT] BETWEEN x AND y``,
``[NOT] IN (...)``, ``[NOT] LIKE 'pat%'``, ``IS [NOT] NULL`` and parentheses, over partition keys,
single-quoted strings and numbers. Values compare by the partition key's declared type (integral
keys as numbers, others as text), with SQL's three-valued logic for nulls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from etl.errors import InvalidInputError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op><>|!=|>=|<=|=|>|<|\(|\)|,)"
    r"|(?P<ident>`[^`]+`|[A-Za-z_][\w]*))"
)
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "LIKE", "IS", "NULL"}
_INTEGRAL = {"int", "integer", "bigint", "smallint", "tinyint", "long", "short", "byte"}
_FRACTIONAL = {"double", "float", "decimal"}

Row = Mapping[str, Any]
Evaluator = Callable[[Row], Any]


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, op, ident, kw, end
    text: str
    pos: int


def tokenize(expression: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(expression):
        if expression[pos:].strip() == "":
            break
        match = _TOKEN.match(expression, pos)
        if not match or match.end() == pos:
            raise InvalidInputError(f"cannot parse expression at position {pos}: {expression[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        text, start = match.group(kind), match.start(kind)
        if kind == "ident" and text.upper() in _KEYWORDS:
            kind, text = "kw", text.upper()
        tokens.append(Token(kind, text, start))
        pos = match.end()
    tokens.append(Token("end", "", len(expression)))
    return tokens


def _coerce(value: Any, key_type: str | None) -> Any:
    if value is None or key_type is None:
        return value
    base = key_type.lower().split("(")[0]
    try:
        if base in _INTEGRAL:
            return value if isinstance(value, float) else int(value)  # 2023.5 is not 2023
        if base in _FRACTIONAL:
            return float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(value)


class _Parser:
    def __init__(self, expression: str, key_types: Mapping[str, str], strict: bool = False) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.i = 0
        self.key_types = {k.lower(): v for k, v in key_types.items()}
        self.strict = strict
        self.last: Token | None = None  # the token of the last operand read

    def _spark_equivalent(self, key_type: str | None, literal: Token | None) -> None:
        """In strict mode, refuse comparisons whose result could differ from Spark SQL's
        implicit casts (a text key against a number, a numeric key against non-numeric text)."""
        if not self.strict or key_type is None or literal is None or literal.kind not in ("num", "str"):
            return
        base = key_type.lower().split("(")[0]
        numeric = base in _INTEGRAL or base in _FRACTIONAL
        text = literal.text[1:-1] if literal.kind == "str" else literal.text
        if not numeric and literal.kind == "num":
            raise InvalidInputError(f"{self.expression!r}: a text key compared with a number")
        if numeric and literal.kind == "str":
            pattern = r"-?\d+" if base in _INTEGRAL else r"-?\d+(\.\d+)?"
            if not re.fullmatch(pattern, text.strip()):
                raise InvalidInputError(f"{self.expression!r}: a numeric key compared with {literal.text}")

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self, kind: str | None = None, text: str | None = None) -> Token:
        tok = self.peek()
        if (kind and tok.kind != kind) or (text and tok.text != text):
            want = text or kind
            raise InvalidInputError(
                f"expected {want} at position {tok.pos} of {self.expression!r}, found {tok.text or 'end'!r}"
            )
        self.i += 1
        return tok

    def accept(self, kind: str, text: str) -> bool:
        if self.peek().kind == kind and self.peek().text == text:
            self.i += 1
            return True
        return False

    def parse(self) -> Evaluator:
        node = self.or_expr()
        self.take("end")
        return node

    def or_expr(self) -> Evaluator:
        parts = [self.and_expr()]
        while self.accept("kw", "OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _or(parts)

    def and_expr(self) -> Evaluator:
        parts = [self.not_expr()]
        while self.accept("kw", "AND"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else _and(parts)

    def not_expr(self) -> Evaluator:
        if self.accept("kw", "NOT"):
            inner = self.not_expr()
            return lambda row: None if (v := inner(row)) is None else not v
        return self.predicate()

    def operand(self) -> tuple[Evaluator, str | None]:
        """An evaluator and, for a key, its declared type."""
        tok = self.peek()
        self.last = tok
        if tok.kind == "ident":
            self.i += 1
            name = tok.text.strip("`")
            if name.lower() not in self.key_types:
                raise InvalidInputError(
                    f"unknown partition key {name!r} in expression; keys: {sorted(self.key_types)}"
                )
            key = name.lower()
            return (lambda row: row.get(key)), self.key_types[key]
        if tok.kind == "str":
            self.i += 1
            value = tok.text[1:-1].replace("''", "'")
            return (lambda row: value), None
        if tok.kind == "num":
            self.i += 1
            number = float(tok.text) if "." in tok.text else int(tok.text)
            return (lambda row: number), None
        if tok.kind == "kw" and tok.text == "NULL":
            self.i += 1
            return (lambda row: None), None
        raise InvalidInputError(f"expected a key or a value at position {tok.pos} of {self.expression!r}")

    def predicate(self) -> Evaluator:
        if self.accept("op", "("):
            inner = self.or_expr()
            self.take("op", ")")
            return inner
        left, left_type = self.operand()
        left_token = self.last
        tok = self.peek()
        negate = False
        if tok.kind == "kw" and tok.text == "NOT" and self.peek(1).text in ("BETWEEN", "IN", "LIKE"):
            self.i += 1
            negate = True
            tok = self.peek()
        if tok.kind == "op" and tok.text in ("=", "<>", "!=", ">", "<", ">=", "<="):
            self.i += 1
            right, right_type = self.operand()
            if left_type and right_type and left_type != right_type and self.strict:
                raise InvalidInputError(f"{self.expression!r}: keys of different types compared")
            self._spark_equivalent(left_type, self.last)
            self._spark_equivalent(right_type, left_token)
            return _compare(tok.text, left, right, left_type or right_type)
        if tok.kind == "kw" and tok.text == "BETWEEN":
            self.i += 1
            low, _ = self.operand()
            self._spark_equivalent(left_type, self.last)
            self.take("kw", "AND")
            high, _ = self.operand()
            self._spark_equivalent(left_type, self.last)
            node = _and([_compare(">=", left, low, left_type), _compare("<=", left, high, left_type)])
            return _negate(node) if negate else node
        if tok.kind == "kw" and tok.text == "IN":
            self.i += 1
            self.take("op", "(")
            options = [self.operand()[0]]
            self._spark_equivalent(left_type, self.last)
            while self.accept("op", ","):
                options.append(self.operand()[0])
                self._spark_equivalent(left_type, self.last)
            self.take("op", ")")
            node = _or([_compare("=", left, o, left_type) for o in options])
            return _negate(node) if negate else node
        if tok.kind == "kw" and tok.text == "LIKE":
            self.i += 1
            pattern, _ = self.operand()
            if self.strict and left_type and left_type.lower() not in ("string", "varchar", "char"):
                raise InvalidInputError(f"{self.expression!r}: LIKE on a non-text key")
            node = _like(left, pattern)
            return _negate(node) if negate else node
        if tok.kind == "kw" and tok.text == "IS":
            self.i += 1
            is_not = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return (lambda row: left(row) is not None) if is_not else (lambda row: left(row) is None)
        raise InvalidInputError(
            f"expected an operator at position {tok.pos} of {self.expression!r}, found {tok.text or 'end'!r}"
        )


def _negate(node: Evaluator) -> Evaluator:
    return lambda row: None if (v := node(row)) is None else not v


def _and(parts: list[Evaluator]) -> Evaluator:
    def run(row: Row) -> bool | None:
        values = [p(row) for p in parts]
        if any(v is False for v in values):
            return False
        return None if any(v is None for v in values) else True
    return run


def _or(parts: list[Evaluator]) -> Evaluator:
    def run(row: Row) -> bool | None:
        values = [p(row) for p in parts]
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else False
    return run


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
}


def _compare(op: str, left: Evaluator, right: Evaluator, key_type: str | None) -> Evaluator:
    fn = _OPS[op]

    def run(row: Row) -> bool | None:
        a, b = _coerce(left(row), key_type), _coerce(right(row), key_type)
        if a is None or b is None:
            return None
        try:
            return fn(a, b)
        except TypeError:
            return fn(str(a), str(b))
    return run


def _like(left: Evaluator, pattern: Evaluator) -> Evaluator:
    def run(row: Row) -> bool | None:
        value, pat = left(row), pattern(row)
        if value is None or pat is None:
            return None
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pat))
        return re.fullmatch(regex, str(value), re.DOTALL) is not None
    return run


def compile_expression(
    expression: str, key_types: Mapping[str, str], *, spark_equivalent: bool = False
) -> Callable[[Row], bool]:
    """Compile ``expression`` over partition keys (name -> Glue type) into a row predicate.

    With ``spark_equivalent`` the expression is refused (InvalidInputError) wherever its result
    could differ from Spark SQL's implicit casts, so a caller can fall back to Spark.

    Raises:
        InvalidInputError: the expression does not parse or names an unknown key.
    """
    node = _Parser(expression, key_types, strict=spark_equivalent).parse()
    return lambda row: node({k.lower(): v for k, v in row.items()}) is True
