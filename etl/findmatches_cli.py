"""``etl findmatches ...``: create a FindMatches transform, teach it from labels, measure it, run it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

findmatches_app = typer.Typer(help="FindMatches: dedupe records, taught from labels.", no_args_is_help=True)
console = Console(soft_wrap=True)

CatalogOption = typer.Option(None, "--catalog", help="Catalog URL (default: $ETL_CATALOG_URL or SQLite).")
PathOption = typer.Option(None, "--path", help="Read the records here instead of the transform's table.")
FormatOption = typer.Option("parquet", "--format", help="Format of --path: parquet, csv, json, ...")


def _store(catalog: str | None):  # type: ignore[no-untyped-def]
    from etl.catalog import Catalog
    from etl.findmatches.store import MLTransformStore

    return MLTransformStore(Catalog(catalog))


def _glue(store):  # type: ignore[no-untyped-def]
    from etl.context import GlueContext
    from etl.session import get_session

    return GlueContext(get_session("etl-findmatches"), catalog=store.catalog)


def _source(path: str | None, fmt: str):  # type: ignore[no-untyped-def]
    from etl.findmatches.service import Source

    return Source(path, fmt)


@findmatches_app.command("create")
def create(
    name: str,
    primary_key: str = typer.Option(..., "--primary-key", help="The records' unique id column."),
    database: str = typer.Option(None, "--database", help="Catalog database of the input table."),
    table: str = typer.Option(None, "--table", help="Input table (Glue: InputRecordTables)."),
    columns: str = typer.Option(None, "--columns", help="Comma-separated columns to compare (default: all)."),
    precision_recall: float = typer.Option(0.5, "--precision-recall-tradeoff", help="0 precision .. 1 recall."),
    accuracy_cost: float = typer.Option(0.5, "--accuracy-cost-tradeoff", help="0 cheaper .. 1 more accurate."),
    enforce_labels: bool = typer.Option(False, "--enforce-provided-labels", help="Labels override the model."),
    description: str = typer.Option("", "--description"),
    catalog: str = CatalogOption,
) -> None:
    """Create a FindMatches transform (Glue: CreateMLTransform)."""
    from etl.config import parse_model
    from etl.findmatches.params import FindMatchesParameters

    params = parse_model(
        {
            "primary_key_column_name": primary_key,
            "precision_recall_tradeoff": precision_recall,
            "accuracy_cost_tradeoff": accuracy_cost,
            "enforce_provided_labels": enforce_labels,
            "columns": [c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        },
        FindMatchesParameters,
        source="findmatches create",
    )
    stored = _store(catalog).create_transform(name, params, description, input_database=database, input_table=table)
    console.print(f"created FindMatches transform [bold]{stored.name}[/] ({stored.status})")


@findmatches_app.command("show")
def show(name: str, catalog: str = CatalogOption) -> None:
    """Print a transform in Glue's GetMLTransform shape (JSON)."""
    console.print_json(json.dumps(_store(catalog).get_transform(name).to_glue(), default=str))


@findmatches_app.command("labeling-set")
def labeling_set(
    name: str,
    output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),  # noqa: B008
    sets: int = typer.Option(10, "--sets", help="Number of labeling sets."),
    set_size: int = typer.Option(10, "--set-size", help="Records per set."),
    seed: int = typer.Option(0, "--seed"),
    path: str = PathOption,
    fmt: str = FormatOption,
    catalog: str = CatalogOption,
) -> None:
    """Write a labeling file of informative record sets to label (fill in the `label` column)."""
    from etl.findmatches import service

    store = _store(catalog)
    written = service.labeling_set(
        _glue(store), store, name, output, source=_source(path, fmt), num_sets=sets, set_size=set_size, seed=seed
    )
    console.print(f"wrote {written} record(s) to {output}: give records of one entity the same label in each set")


@findmatches_app.command("import-labels")
def import_labels(
    name: str,
    labels_file: Path,
    replace: bool = typer.Option(False, "--replace", help="Forget earlier labels (Glue: ReplaceAllLabels)."),
    catalog: str = CatalogOption,
) -> None:
    """Import a filled-in labeling file."""
    from etl.findmatches import service

    store = _store(catalog)
    count = service.import_labels(store, name, labels_file, replace=replace)
    console.print(f"imported {count} label(s); {name} now has {store.label_count(name)}")


@findmatches_app.command("export-labels")
def export_labels(name: str, output: Path, catalog: str = CatalogOption) -> None:
    """Write the transform's labels as a labeling file."""
    from etl.findmatches.labels import export_labels as export

    count = export(_store(catalog), name, output)
    console.print(f"exported {count} label(s) to {output}")


@findmatches_app.command("train")
def train(name: str, path: str = PathOption, fmt: str = FormatOption, catalog: str = CatalogOption) -> None:
    """Fit the transform's model from its labels (unsupervised when it has none) and store it."""
    from etl.findmatches import service

    store = _store(catalog)
    result = service.train(_glue(store), store, name, source=_source(path, fmt))
    quality = "labelled" if result.model.quality_estimated else "unsupervised: quality unestimated"
    console.print(
        f"trained {name}: {result.model.kind} model ({quality}) from {result.labeled_pairs} labelled pair(s) "
        f"and {result.candidate_pairs} candidate pair(s); threshold {result.model.threshold(0.5):.3f} at 0.5"
    )
    _print_importance(result.model.column_importance())


def _print_importance(importance: dict[str, float]) -> None:
    table = Table("column", "importance")
    for column, value in sorted(importance.items(), key=lambda kv: -kv[1]):
        table.add_row(column, f"{value:.3f}")
    console.print(table)


@findmatches_app.command("evaluate")
def evaluate(
    name: str,
    folds: int = typer.Option(5, "--folds"),
    path: str = PathOption,
    fmt: str = FormatOption,
    as_json: bool = typer.Option(False, "--json", help="Print Glue's FindMatchesMetrics as JSON."),
    catalog: str = CatalogOption,
) -> None:
    """Estimate precision, recall, F1 and the PR curve's area by cross-validation on the labels."""
    from etl.findmatches import service

    store = _store(catalog)
    report = service.evaluate(_glue(store), store, name, source=_source(path, fmt), folds=folds)
    if as_json:
        console.print_json(json.dumps(report.to_glue()))
        return
    console.print(
        f"{name}: precision {report.precision:.3f}, recall {report.recall:.3f}, F1 {report.f1:.3f}, "
        f"area under PR curve {report.area_under_pr_curve:.3f} ({report.labeled_pairs} labelled pairs, "
        f"{report.folds} folds, threshold {report.threshold:.3f})"
    )
    console.print(
        f"confusion: TP {report.true_positives}, FP {report.false_positives}, "
        f"TN {report.true_negatives}, FN {report.false_negatives}"
    )
    _print_importance(report.column_importance)


@findmatches_app.command("run")
def run(
    name: str,
    output: str = typer.Option(..., "--output", "-o", help="Where to write the records with match_id."),
    out_format: str = typer.Option("parquet", "--output-format", help="parquet, csv, json or delta."),
    confidence: bool = typer.Option(False, "--confidence", help="Add match_confidence_score."),
    path: str = PathOption,
    fmt: str = FormatOption,
    catalog: str = CatalogOption,
) -> None:
    """Run the transform over its input and write every record with its match_id."""
    from etl.findmatches import service

    store = _store(catalog)
    glue = _glue(store)
    result = service.run(glue, store, name, source=_source(path, fmt), with_confidence=confidence)
    options: dict[str, Any] = {"path": output}
    glue.write_data_frame.from_options(
        result.frame, connection_type="file", connection_options=options, format=out_format
    )
    from pyspark.sql import functions as F

    summary = result.frame.groupBy("match_id").count().agg(F.count("*"), F.max("count")).first()
    assert summary is not None
    quality = "labelled model" if result.quality_estimated else "unsupervised model: quality unestimated"
    console.print(f"{name}: {summary[0]} entities (largest has {summary[1]} records), {quality}; wrote {output}")
    for stage in result.stages:
        console.print(f"  {stage.name}: {stage.seconds:.2f}s, {stage.rows} rows")
    for note in result.notes:
        console.print(f"  note: {note}")
