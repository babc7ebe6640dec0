"""Glue's partition Expression language: parser and evaluator, directly (no database)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from etl.catalog.expression import compile_expression, tokenize
from etl.errors import InvalidInputError

STRINGS = {"a": "string", "b": "string", "c": "string"}


def holds(expression: str, row: dict[str, Any], key_types: dict[str, str] | None = None) -> bool:
    return compile_expression(expression, key_types or STRINGS)(row)


# ----- structure -----------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    expr = "a = '1' OR b = '1' AND c = '1'"  # a = 1 OR (b = 1 AND c = 1)
    assert holds(expr, {"a": "1", "b": "0", "c": "0"}) is True  # (a OR b) AND c would be False
    assert holds(expr, {"a": "0", "b": "1", "c": "0"}) is False
    assert holds(expr, {"a": "0", "b": "1", "c": "1"}) is True
    expr = "a = '1' AND b = '1' OR c = '1'"  # (a AND b) OR c
    assert holds(expr, {"a": "0", "b": "0", "c": "1"}) is True  # a AND (b OR c) would be False


def test_parentheses_override_precedence() -> None:
    expr = "(a = '1' OR b = '1') AND c = '1'"
    assert holds(expr, {"a": "1", "b": "0", "c": "0"}) is False
    assert holds(expr, {"a": "1", "b": "0", "c": "1"}) is True
    assert holds("((((a = '1'))))", {"a": "1"}) is True
    assert (
        holds("a = '1' AND (b = '2' OR (c = '3' AND a = '1'))", {"a": "1", "b": "0", "c": "3"})
        is True
    )


def test_not() -> None:
    assert holds("NOT a = '1'", {"a": "2"}) is True
    assert holds("NOT a = '1'", {"a": "1"}) is False
    assert holds("NOT NOT a = '1'", {"a": "1"}) is True
    # NOT binds tighter than AND: (NOT a = 1) AND b = 1
    assert holds("NOT a = '1' AND b = '1'", {"a": "0", "b": "0"}) is False
    assert holds("NOT a = '1' AND b = '1'", {"a": "0", "b": "1"}) is True
    assert holds("NOT (a = '1' AND b = '1')", {"a": "0", "b": "0"}) is True
    assert holds("a NOT IN ('1', '2')", {"a": "3"}) is True
    assert holds("a NOT LIKE '1%'", {"a": "10"}) is False
    assert holds("a NOT BETWEEN '1' AND '3'", {"a": "4"}) is True


def test_keywords_and_keys_are_case_insensitive() -> None:
    types = {"Year": "int", "region": "string"}
    assert holds(
        "YEAR = 2024 and REGION in ('eu') Or year is null", {"year": "2024", "region": "eu"}, types
    )
    assert holds("year = 2024", {"YEAR": "2024"}, types) is True
    assert holds("`Year` between 2000 aNd 2030", {"year": "2024"}, types) is True


def test_operators() -> None:
    row = {"a": "m"}
    cases = {
        "a = 'm'": True,
        "a <> 'm'": False,
        "a != 'x'": True,
        "a > 'l'": True,
        "a < 'l'": False,
        "a >= 'm'": True,
        "a <= 'm'": True,
        "a > 'm'": False,
        "a IN ('x', 'm')": True,
        "a IN ('x')": False,
        "a BETWEEN 'a' AND 'z'": True,
        "a BETWEEN 'n' AND 'z'": False,
    }
    assert {expr: holds(expr, row) for expr in cases} == cases


def test_like_wildcards_are_sql_not_regex() -> None:
    assert holds("a LIKE 'us%'", {"a": "us-west"}) is True
    assert holds("a LIKE 'us%'", {"a": "eu"}) is False
    assert holds("a LIKE '_u'", {"a": "eu"}) is True
    assert holds("a LIKE '_u'", {"a": "euu"}) is False
    assert holds("a LIKE '%'", {"a": ""}) is True
    assert holds("a LIKE 'x.y'", {"a": "xzy"}) is False  # '.' is literal
    assert holds("a LIKE 'x.y'", {"a": "x.y"}) is True
    assert holds("a LIKE '(a)+'", {"a": "(a)+"}) is True
    assert holds("a LIKE 'line%'", {"a": "line1\nline2"}) is True


# ----- NULL: SQL's three-valued logic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a = '1'", False),
        ("a <> '1'", False),  # unknown, not true
        ("NOT a = '1'", False),  # NOT unknown is unknown
        ("NOT a <> '1'", False),
        ("a IS NULL", True),
        ("a IS NOT NULL", False),
        ("NOT a IS NULL", False),
        ("a IN ('1', '2')", False),
        ("a NOT IN ('1', '2')", False),
        ("a BETWEEN '1' AND '2'", False),
        ("a NOT BETWEEN '1' AND '2'", False),
        ("a LIKE '%'", False),
        ("a NOT LIKE '%'", False),
        ("a = '1' OR b = '2'", True),  # unknown OR true = true
        ("a = '1' OR b = '3'", False),  # unknown OR false = unknown
        ("NOT (a = '1' OR b = '3')", False),  # NOT unknown = unknown
        ("a = '1' AND b = '2'", False),  # unknown AND true = unknown
        ("NOT (a = '1' AND b = '2')", False),
        ("NOT (a = '1' AND b = '3')", True),  # unknown AND false = false; NOT false = true
        ("a = NULL", False),  # comparing with NULL is unknown, even NULL = NULL
        ("NOT a = NULL", False),
        ("b IN ('2', NULL)", True),
        ("b NOT IN ('3', NULL)", False),  # true AND unknown = unknown
    ],
)
def test_three_valued_logic_with_null_values(expression: str, expected: bool) -> None:
    row = {"a": None, "b": "2"}
    assert holds(expression, row) is expected
    assert holds(expression, {"b": "2"}) is expected  # an absent key is NULL too


# ----- literals and types ----------------------------------------------------------------------


def test_quoted_strings_with_doubled_quotes() -> None:
    assert holds("a = 'it''s'", {"a": "it's"}) is True
    assert holds("a = 'it''s'", {"a": "it''s"}) is False
    assert holds("a = ''''", {"a": "'"}) is True
    assert holds("a = ''", {"a": ""}) is True
    assert holds("a IN ('o''hara', 'x')", {"a": "o'hara"}) is True
    assert holds("a = 'x AND b = (y) OR ''z'''", {"a": "x AND b = (y) OR 'z'"}) is True
    assert holds("a = 'Ünïcödé ☃'", {"a": "Ünïcödé ☃"}) is True


@pytest.mark.parametrize(
    "key_type", ["int", "INT", "bigint", "smallint", "tinyint", "integer", "long"]
)
def test_integral_keys_compare_numerically(key_type: str) -> None:
    types = {"n": key_type}
    assert holds("n > '9'", {"n": "10"}, types) is True  # as text, '10' < '9'
    assert holds("n > 9", {"n": "10"}, types) is True
    assert holds("n < 9", {"n": "10"}, types) is False
    assert holds("n = '007'", {"n": "7"}, types) is True
    assert holds("n BETWEEN 9 AND 100", {"n": "10"}, types) is True
    assert holds("n IN ('9', '10')", {"n": "10"}, types) is True
    assert holds("'100' > n", {"n": "20"}, types) is True  # the key on the right
    assert holds("n > -1", {"n": "0"}, types) is True


def test_string_keys_compare_as_text() -> None:
    types = {"s": "string"}
    assert holds("s > '9'", {"s": "10"}, types) is False
    assert holds("s < '9'", {"s": "10"}, types) is True
    assert holds("s = 7", {"s": "7"}, types) is True  # a number literal against a text key
    assert holds("s = '007'", {"s": "7"}, types) is False
    assert holds("s BETWEEN '9' AND '10'", {"s": "9"}, types) is False
    assert holds("s > 'a'", {"s": "b"}, {"s": "varchar(10)"}) is True


def test_fractional_keys_compare_numerically() -> None:
    assert holds("d > 2.5", {"d": "10.25"}, {"d": "double"}) is True
    assert holds("d = 1", {"d": "1.0"}, {"d": "float"}) is True
    assert holds("d < '9.5'", {"d": "10"}, {"d": "decimal(10,2)"}) is False


def test_fractional_literal_against_an_integral_key_is_not_truncated() -> None:
    types = {"n": "int"}
    assert holds("n < 2023.5", {"n": "2023"}, types) is True
    assert holds("n = 2023.5", {"n": "2023"}, types) is False
    assert holds("n > 2022.5", {"n": "2023"}, types) is True


def test_unparsable_values_of_an_integral_key_do_not_crash() -> None:
    types = {"n": "int"}
    row = {"n": "__HIVE_DEFAULT_PARTITION__"}
    assert holds("n = 5", row, types) is False
    assert holds("n = '__HIVE_DEFAULT_PARTITION__'", row, types) is True
    holds("n > 5", row, types)  # compares as text; must not raise


def test_tokenize() -> None:
    tokens = tokenize("year >= 10 AND `my key` IN ('a''b', -2.5)")
    assert [(t.kind, t.text) for t in tokens] == [
        ("ident", "year"),
        ("op", ">="),
        ("num", "10"),
        ("kw", "AND"),
        ("ident", "`my key`"),
        ("kw", "IN"),
        ("op", "("),
        ("str", "'a''b'"),
        ("op", ","),
        ("num", "-2.5"),
        ("op", ")"),
        ("end", ""),
    ]
    assert [t.pos for t in tokens][:4] == [0, 5, 8, 11]


def test_backquoted_keys() -> None:
    assert holds("`my key` = 'x'", {"my key": "x"}, {"my key": "string"}) is True


# ----- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("a = '1' AND", 11),  # ends where a predicate should start
        ("a = = '1'", 4),
        ("a = '1')", 7),
        ("(a = '1'", 8),
        ("a '1'", 2),
        ("a BETWEEN '1' '2'", 14),
        ("a IN ()", 6),
        ("a IN ('1' '2')", 10),
        ("a IS '1'", 5),
        ("", 0),
        ("AND a = '1'", 0),
    ],
)
def test_syntax_errors_name_the_position(expression: str, position: int) -> None:
    with pytest.raises(InvalidInputError) as info:
        compile_expression(expression, STRINGS)
    message = str(info.value)
    assert re.search(rf"\bposition {position}\b", message), message


@pytest.mark.parametrize(
    ("expression", "bad"),
    [
        ("a @ '1'", "@"),
        ("a = 'unterminated", "'unterminated"),
        ("a = '1' ; b = '2'", ";"),
    ],
)
def test_unreadable_text_names_its_position(expression: str, bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        compile_expression(expression, STRINGS)
    message = str(info.value)
    found = re.search(r"position (\d+)", message)
    assert found, message
    start = int(found.group(1))
    # the reported position is where the unreadable text begins (at most the blanks before it)
    assert expression[start:].lstrip().startswith(bad), message
    assert bad in message


def test_unknown_key_is_named() -> None:
    with pytest.raises(InvalidInputError, match=r"'month'") as info:
        compile_expression("year = 2024 AND month = 1", {"year": "int", "region": "string"})
    assert "region" in str(info.value) and "year" in str(info.value)  # the known keys are listed
    with pytest.raises(InvalidInputError, match="region"):
        compile_expression("region = 'eu'", {})
