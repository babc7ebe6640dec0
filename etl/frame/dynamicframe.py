"""DynamicFrame: Glue's frame, as a thin pure-Python wrapper over a Spark DataFrame.

It carries the good records (a DataFrame) and the error records of every stage so far, so a
pipeline keeps going past bad input and can still account for every record it did not process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from etl.errors import ErrorThresholdExceededError
from etl.frame.records import empty_errors, union_errors
from etl.frame.types import tree_string

if TYPE_CHECKING:
    from etl.context import GlueContext


class DynamicFrame:
    """A distributed collection of records with Glue's API.

    Args:
        df: the good records.
        glue_ctx: the :class:`~etl.context.GlueContext` it belongs to.
        name: a label used in logs and error records.
        errors: error records of this stage *and* every stage upstream.
        stage_errors: error records produced by the stage that made this frame.
        stage_threshold / total_threshold: maxima checked by :meth:`assertErrorThreshold`
            (0 means no limit, as in Glue).
    """

    def __init__(
        self,
        df: DataFrame,
        glue_ctx: GlueContext,
        name: str = "",
        *,
        errors: DataFrame | None = None,
        stage_errors: DataFrame | None = None,
        stage_threshold: int = 0,
        total_threshold: int = 0,
        transformation_ctx: str = "",
    ) -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name
        self._stage_errors = stage_errors
        self._errors = union_errors(errors, stage_errors) if errors is not None else stage_errors
        self._stage_threshold = stage_threshold
        self._total_threshold = total_threshold
        self.transformation_ctx = transformation_ctx

    # ----- construction ---------------------------------------------------------------------
    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx: GlueContext, name: str = "") -> DynamicFrame:
        """Wrap a DataFrame (Glue: ``DynamicFrame.fromDF(df, glueContext, "name")``)."""
        return cls(dataframe, glue_ctx, name)

    def derive(
        self,
        df: DataFrame,
        *,
        stage_errors: DataFrame | None = None,
        name: str | None = None,
        transformation_ctx: str = "",
        stage_threshold: int = 0,
        total_threshold: int = 0,
    ) -> DynamicFrame:
        """A new frame downstream of this one (for transform authors): upstream errors carry
        over, ``stage_errors`` are this stage's error records, and the thresholds are checked
        now, raising :class:`~etl.errors.ErrorThresholdExceededError` when crossed."""
        frame = DynamicFrame(
            df,
            self.glue_ctx,
            self.name if name is None else name,
            errors=self._errors,
            stage_errors=stage_errors,
            stage_threshold=stage_threshold,
            total_threshold=total_threshold,
            transformation_ctx=transformation_ctx,
        )
        if stage_threshold or total_threshold:
            frame.assertErrorThreshold()
        return frame

    def toDF(self, options: Mapping[str, Any] | None = None) -> DataFrame:
        """The good records as a Spark DataFrame."""
        return self._df

    # ----- inspection -----------------------------------------------------------------------
    def schema(self) -> T.StructType:
        return self._df.schema

    def printSchema(self) -> None:
        """Print the schema as Glue does, choice types with their alternatives."""
        print(tree_string(self._df.schema), end="")

    def show(self, num_rows: int = 20) -> None:
        """Print the first records as JSON, one per line, as Glue does."""
        for line in self._df.toJSON().take(num_rows):
            print(line)

    def count(self) -> int:
        return self._df.count()

    def getNumPartitions(self) -> int:
        return self._df.rdd.getNumPartitions()

    def __repr__(self) -> str:
        cols = ", ".join(f"{f.name}: {f.dataType.simpleString()}" for f in self._df.schema.fields)
        return f"DynamicFrame({self.name or 'unnamed'}: {cols})"

    # ----- errors ---------------------------------------------------------------------------
    def errorsCount(self) -> int:
        """Error records of this frame and every upstream stage."""
        return self._errors.count() if self._errors is not None else 0

    def stageErrorsCount(self) -> int:
        """Error records produced by the stage that made this frame."""
        return self._stage_errors.count() if self._stage_errors is not None else 0

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        """All error records so far (columns: transformation_ctx, info, error_message, source,
        input)."""
        errors = self._errors if self._errors is not None else empty_errors(self._df.sparkSession)
        return DynamicFrame(errors, self.glue_ctx, f"{self.name}_errors")

    def assertErrorThreshold(self) -> None:
        """Raise when the stage or total error counts exceed the frame's thresholds."""
        label = self.transformation_ctx or self.name or "frame"
        if self._stage_threshold:
            stage = self.stageErrorsCount()
            if stage > self._stage_threshold:
                raise ErrorThresholdExceededError(label, "stage", stage, self._stage_threshold)
        if self._total_threshold:
            total = self.errorsCount()
            if total > self._total_threshold:
                raise ErrorThresholdExceededError(label, "total", total, self._total_threshold)

    # ----- partitioning and set operations --------------------------------------------------
    def repartition(self, num_partitions: int, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return self.derive(self._df.repartition(num_partitions), transformation_ctx=transformation_ctx)

    def coalesce(
        self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self.derive(df, transformation_ctx=transformation_ctx)

    def union(self, other_frame: DynamicFrame, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Records of both frames; columns missing on one side are null (schemas are merged)."""
        df = self._df.unionByName(other_frame.toDF(), allowMissingColumns=True)
        frame = self.derive(df, transformation_ctx=transformation_ctx)
        frame._errors = union_errors(self._errors, other_frame._errors)
        return frame

    def mergeDynamicFrame(
        self,
        stage_dynamic_frame: DynamicFrame,
        primary_keys: list[str],
        transformation_ctx: str = "",
        options: Mapping[str, Any] | None = None,
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Glue's merge: records of the staging frame replace source records with the same
        primary keys; unmatched source records (duplicates included) are kept."""
        from etl.transforms.merge import merge_frames

        df = merge_frames(self._df, stage_dynamic_frame.toDF(), primary_keys)
        frame = self.derive(
            df,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
        frame._errors = union_errors(self._errors, stage_dynamic_frame._errors)
        return frame

    # ----- transforms (Glue's method spellings; each delegates to its Transform class) --------
    def apply_mapping(
        self,
        mappings: Sequence[Sequence[str]],
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        strict: bool = False,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.apply_mapping.ApplyMapping`."""
        from etl.transforms.apply_mapping import ApplyMapping

        return ApplyMapping.apply(
            frame=self,
            mappings=mappings,
            caseSensitive=case_sensitive,
            strict=strict,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    applyMapping = apply_mapping

    def resolveChoice(
        self,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.resolve_choice.ResolveChoice`."""
        from etl.transforms.resolve_choice import ResolveChoice

        return ResolveChoice.apply(
            frame=self,
            specs=specs,
            choice=choice,
            database=database,
            table_name=table_name,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
            catalog_id=catalog_id,
        )

    resolve_choice = resolveChoice

    def drop_fields(
        self,
        paths: Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.fields.DropFields`."""
        from etl.transforms.fields import DropFields

        return DropFields.apply(
            frame=self,
            paths=paths,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def select_fields(
        self,
        paths: Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.fields.SelectFields`."""
        from etl.transforms.fields import SelectFields

        return SelectFields.apply(
            frame=self,
            paths=paths,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def drop_null_fields(
        self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0, totalThreshold: int = 0
    ) -> DynamicFrame:
        """See :class:`etl.transforms.fields.DropNullFields`."""
        from etl.transforms.fields import DropNullFields

        return DropNullFields.apply(
            frame=self,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def rename_field(
        self,
        oldName: str,
        newName: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.fields.RenameField`."""
        from etl.transforms.fields import RenameField

        return RenameField.apply(
            frame=self,
            old_name=oldName,
            new_name=newName,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def unnest(
        self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0, totalThreshold: int = 0
    ) -> DynamicFrame:
        """See :class:`etl.transforms.fields.UnnestFrame`."""
        from etl.transforms.fields import UnnestFrame

        return UnnestFrame.apply(
            frame=self,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def filter(
        self,
        f: Callable[[Any], bool],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.python_functions.Filter`."""
        from etl.transforms.python_functions import Filter

        return Filter.apply(
            frame=self,
            f=f,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def map(
        self,
        f: Callable[[Any], Any],
        preservesPartitioning: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.python_functions.Map`."""
        from etl.transforms.python_functions import Map

        return Map.apply(
            frame=self,
            f=f,
            preservesPartitioning=preservesPartitioning,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def join(
        self,
        paths1: Sequence[str],
        paths2: Sequence[str],
        frame2: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.join.Join`."""
        from etl.transforms.join import Join

        return Join.apply(
            frame1=self,
            frame2=frame2,
            keys1=paths1,
            keys2=paths2,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def split_fields(
        self,
        paths: Sequence[str],
        name1: str,
        name2: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        """See :class:`etl.transforms.split.SplitFields`."""
        from etl.transforms.split import SplitFields

        return SplitFields.apply(
            frame=self,
            paths=paths,
            name1=name1,
            name2=name2,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def split_rows(
        self,
        comparison_dict: Mapping[str, Mapping[str, Any]],
        name1: str,
        name2: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        """See :class:`etl.transforms.split.SplitRows`."""
        from etl.transforms.split import SplitRows

        return SplitRows.apply(
            frame=self,
            comparison_dict=comparison_dict,
            name1=name1,
            name2=name2,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def relationalize(
        self,
        root_table_name: str,
        staging_path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        """See :class:`etl.transforms.relationalize.Relationalize`."""
        from etl.transforms.relationalize import Relationalize

        return Relationalize.apply(
            frame=self,
            staging_path=staging_path,
            name=root_table_name,
            options=options,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def unbox(
        self,
        path: str,
        format: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        **options: Any,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.unbox.Unbox`."""
        from etl.transforms.unbox import Unbox

        return Unbox.apply(
            frame=self,
            path=path,
            format=format,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
            **options,
        )

    def spigot(
        self,
        path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.spigot.Spigot`."""
        from etl.transforms.spigot import Spigot

        return Spigot.apply(
            frame=self,
            path=path,
            options=options,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )

    def fill_missing_values(
        self,
        missing_values_column: str,
        output_column: str = "",
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """See :class:`etl.transforms.fill_missing.FillMissingValues`."""
        from etl.transforms.fill_missing import FillMissingValues

        return FillMissingValues.apply(
            frame=self,
            missing_values_column=missing_values_column,
            output_column=output_column,
            transformation_ctx=transformation_ctx,
            info=info,
            stageThreshold=stageThreshold,
            totalThreshold=totalThreshold,
        )


class DynamicFrameCollection:
    """A named set of DynamicFrames (Glue: ``DynamicFrameCollection(dict, glue_ctx)``)."""

    def __init__(self, dynamic_frames: Mapping[str, DynamicFrame], glue_ctx: GlueContext) -> None:
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __contains__(self, key: object) -> bool:
        return key in self._frames

    def keys(self) -> list[str]:
        return list(self._frames.keys())

    def values(self) -> list[DynamicFrame]:
        return list(self._frames.values())

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        """The frame stored under ``key``."""
        if key not in self._frames:
            from etl.errors import TransformError

            raise TransformError(f"no frame named {key!r} in the collection (keys: {self.keys()})")
        return self._frames[key]

    def map(
        self, callable: Callable[[DynamicFrame, str], DynamicFrame], transformation_ctx: str = ""
    ) -> DynamicFrameCollection:
        """Apply ``callable(frame, transformation_ctx)`` to every frame."""
        return DynamicFrameCollection(
            {k: callable(v, f"{transformation_ctx}:{k}") for k, v in self._frames.items()},
            self.glue_ctx,
        )

    def flatmap(
        self,
        f: Callable[[DynamicFrame, str], DynamicFrame | DynamicFrameCollection],
        transformation_ctx: str = "",
    ) -> DynamicFrameCollection:
        """Apply ``f`` to every frame and flatten: a returned frame is kept under its name (or
        the input's key when unnamed), a returned collection contributes all its frames."""
        out: dict[str, DynamicFrame] = {}
        for key, frame in self._frames.items():
            result = f(frame, f"{transformation_ctx}:{key}")
            if isinstance(result, DynamicFrameCollection):
                out.update(result._frames)
            else:
                out[result.name or key] = result
        return DynamicFrameCollection(out, self.glue_ctx)

    def __repr__(self) -> str:
        return f"DynamicFrameCollection({self.keys()})"
