"""Relationalize: flatten nested structs and pivot arrays out into child tables.

Glue's naming, as in its legislators example: the root table keeps one row per record, structs
flattened into columns named with dots (``name.first``) and each array replaced by a ``long``
join key with the array's name. The array becomes the table ``<root>_<column>`` with columns
``id`` (that key), ``index`` (the position in the array) and the element flattened under the
prefix ``<column>.val`` (``contact_details.val.type``; a scalar element is ``<column>.val``).
Arrays in those tables are pivoted the same way, recursively (``<root>_<column>.val.<field>``).

Keys are dense longs counted from 1 per table, in the order of the materialized rows. They are
assigned once, on data that is then materialized, so every table and every action sees the same
keys. With a ``staging_path`` every pivoted table is written there as Parquet
(``<staging_path>/<table>``, overwritten) and read back, as Glue stages its pivoted tables (in
CSV); a table that holds arrays (the root too) is written with them and its raw key, and its
output is a projection of what was read back. Without a staging path only the tables that hold
arrays are materialized, with ``localCheckpoint``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.types import is_choice
from etl.transforms.base import Transform
from etl.transforms.paths import quote

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection

KEY = "__relationalize_key"
ELEMENT = "__relationalize_val"
PRESENT = "__relationalize_has_"
_PARTITION_SHIFT = 33  # monotonically_increasing_id: partition index above bit 33
_POSITION_MASK = (1 << _PARTITION_SHIFT) - 1


@dataclass(frozen=True)
class Leaf:
    """One column of a flattened table: its dotted name, how to compute it, and its type."""

    name: str
    column: Column
    dtype: T.DataType


def flatten(column: Column, dtype: T.DataType, name: str) -> list[Leaf]:
    """The leaves of a value: struct fields become ``name.field`` (recursively); arrays, maps,
    choices, empty structs and scalars are leaves."""
    if isinstance(dtype, T.StructType) and dtype.fields and not is_choice(dtype):
        return [
            leaf
            for field in dtype.fields
            for leaf in flatten(column.getField(field.name), field.dataType, f"{name}.{field.name}")
        ]
    return [Leaf(name, column, dtype)]


@dataclass(frozen=True)
class Staging:
    """Where materialized tables live: Parquet under ``path``, else local checkpoints."""

    path: str | None = None

    def keyed(self, df: DataFrame, table: str) -> DataFrame:
        """Materialize a table whose keys must not change between actions."""
        return self._write(df, table) if self.path else df.localCheckpoint(eager=True)

    def leaf(self, df: DataFrame, table: str) -> DataFrame:
        """A child table without arrays: derived deterministically, staged only on request."""
        return self._write(df, table) if self.path else df

    def _write(self, df: DataFrame, table: str) -> DataFrame:
        target = f"{(self.path or '').rstrip('/')}/{table}"
        df.write.mode("overwrite").parquet(target)
        return df.sparkSession.read.schema(df.schema).parquet(target)  # no footer-reading job


def dense_keys(keyed: DataFrame) -> Column:
    """1, 2, 3, ... from the ``monotonically_increasing_id`` in column KEY of materialized data:
    per-partition row counts (one small aggregate) give each partition its offset."""
    raw = F.col(KEY)
    partition = F.shiftright(raw, _PARTITION_SHIFT)
    counts = sorted(tuple(r) for r in keyed.groupBy(partition.alias("p")).count().collect())
    if not counts:
        return raw
    pairs: list[Column] = []
    total = 0
    for part, count in counts:
        pairs += [F.lit(part).cast("long"), F.lit(total).cast("long")]
        total += count
    offset = F.element_at(F.create_map(*pairs), partition)
    return offset + raw.bitwiseAND(F.lit(_POSITION_MASK)) + F.lit(1).cast("long")


def relationalize(df: DataFrame, root: str, staging: Staging) -> dict[str, DataFrame]:
    """``{table name: DataFrame}``: the flattened root table first, then the pivoted arrays."""
    tables: dict[str, DataFrame] = {}
    leaves = [leaf for f in df.schema.fields for leaf in flatten(F.col(quote(f.name)), f.dataType, f.name)]
    _pivot(df, [], leaves, root, root, staging, tables)
    return tables


def _pivot(
    source: DataFrame,
    head: list[str],
    leaves: list[Leaf],
    table: str,
    root: str,
    staging: Staging,
    tables: dict[str, DataFrame],
) -> None:
    names = [*head, *(leaf.name for leaf in leaves)]
    _check_names(table, names, tables)
    flat = source.select(*[F.col(h) for h in head], *[leaf.column.alias(leaf.name) for leaf in leaves])
    arrays = [leaf for leaf in leaves if isinstance(leaf.dtype, T.ArrayType)]
    if not arrays:
        tables[table] = staging.leaf(flat, table) if head else flat
        return
    # Each array's presence is kept as a boolean, so the table's own output reads that flag
    # instead of the whole array back from the staged or checkpointed data.
    present = {leaf.name: f"{PRESENT}{i}" for i, leaf in enumerate(arrays)}
    flat = flat.select("*", *[F.col(quote(name)).isNotNull().alias(flag) for name, flag in present.items()])
    keyed = staging.keyed(flat.withColumn(KEY, F.monotonically_increasing_id()), table)
    keyed = keyed.withColumn(KEY, dense_keys(keyed))
    tables[table] = keyed.select(*[_foreign_key(n, present[n]) if n in present else F.col(quote(n)) for n in names])
    for leaf in arrays:
        assert isinstance(leaf.dtype, T.ArrayType)
        exploded = keyed.select(F.col(KEY).alias("id"), F.posexplode(F.col(quote(leaf.name))).alias("index", ELEMENT))
        element = flatten(F.col(ELEMENT), leaf.dtype.elementType, f"{leaf.name}.val")
        _pivot(exploded, ["id", "index"], element, f"{root}_{leaf.name}", root, staging, tables)


def _foreign_key(name: str, present: str) -> Column:
    """The row's key where the array is present (an empty array still gets one), else null."""
    return F.when(F.col(present), F.col(KEY)).alias(name)


def _check_names(table: str, names: list[str], tables: Mapping[str, DataFrame]) -> None:
    if table in tables:
        raise TransformError(f"Relationalize: two arrays both pivot into the table {table!r}")
    seen: set[str] = set()
    for name in names:
        if name in seen or name in (KEY, ELEMENT) or name.startswith(PRESENT):
            raise TransformError(
                f"Relationalize: table {table!r} would have two columns named {name!r} "
                "(a field name with dots collides with a flattened struct field)"
            )
        seen.add(name)


class Relationalize(Transform):
    """Flattens nested structs and pivots arrays out into separate tables (Glue's Relationalize).

    Returns a DynamicFrameCollection keyed by table name (see the module docstring for the naming
    and the keys). ``options`` is accepted and, as in Glue ("currently unused"), ignored whatever
    its keys. Not pivoted: maps and choice columns stay as they are (Glue documents arrays only).
    Null arrays give a null join key; empty arrays a key with no rows in the child table.
    """

    def __call__(
        self,
        frame: DynamicFrame,
        staging_path: str | None = None,
        name: str = "roottable",
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        from etl.frame.dynamicframe import DynamicFrameCollection

        if not isinstance(name, str) or not name:
            raise TransformError(f"Relationalize: the root table name must be a non-empty string, got {name!r}")
        if options is not None and not isinstance(options, Mapping):
            raise TransformError(f"Relationalize: options must be a dict, got {type(options).__name__}")
        tables = relationalize(frame.toDF(), name, Staging(staging_path or None))
        frames = {
            table: frame.derive(
                df,
                name=table,
                transformation_ctx=transformation_ctx,
                stage_threshold=stageThreshold,
                total_threshold=totalThreshold,
            )
            for table, df in tables.items()
        }
        return DynamicFrameCollection(frames, frame.glue_ctx)
