"""Run a crawler: list, classify, group, then reconcile the catalog under the spec's policies."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from etl.catalog import Catalog
from etl.catalog.crawls import CrawledFile, CrawlStore
from etl.crawler.classifiers.base import Classifier, builtin_classifiers
from etl.crawler.discover import DataFile, FileVerdict, TablePlan, group_tables, list_files
from etl.crawler.model import Classification
from etl.crawler.sample import FileSample
from etl.crawler.spec import CrawlerSpec
from etl.crawler.tables import FileStats, partition_inputs, table_input
from etl.errors import ClassificationError, EntityNotFoundError, EtlError

log = logging.getLogger("etl.crawler")

PARALLEL_FROM_FILES = 500  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 8
_WORKER_CRAWLER: Crawler | None = None


def _classify_in_worker(f: DataFile) -> tuple[DataFile, Classification | None, FileStats | None, str | None]:
    assert _WORKER_CRAWLER is not None
    return _WORKER_CRAWLER._classify_file(f)

# What makes two table definitions "different" (stats alone do not archive a new version).
_STRUCTURAL = ("Columns", "Location", "InputFormat", "OutputFormat", "SerdeInfo")


@dataclass
class FileError:
    path: str
    reason: str


@dataclass
class CrawlResult:
    run_id: int | None
    crawler: str
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    tables_unchanged: list[str] = field(default_factory=list)
    tables_deleted: list[str] = field(default_factory=list)
    tables_deprecated: list[str] = field(default_factory=list)
    partitions_added: int = 0
    partitions_deleted: int = 0
    files_read: int = 0
    files_skipped: int = 0
    errors: list[FileError] = field(default_factory=list)
    logged_changes: list[str] = field(default_factory=list)
    plans: list[TablePlan] = field(default_factory=list)
    duration: float = 0.0


def classify(sample: FileSample, classifiers: list[Classifier]) -> Classification | None:
    """Custom classifiers first (in order), then Glue's built-ins; the first certainty 1.0
    wins, else the highest certainty above zero."""
    best: Classification | None = None
    for classifier in classifiers:
        verdict = classifier.classify(sample)
        if verdict is None or verdict.certainty <= 0:
            continue
        if not verdict.classifier:
            verdict.classifier = classifier.name
        if verdict.certainty >= 1.0:
            return verdict
        if best is None or verdict.certainty > best.certainty:
            best = verdict
    return best


def _estimate(sample: FileSample, verdict: Classification) -> FileStats:
    if verdict.record_count is not None:
        return FileStats(verdict.record_count, True)
    try:
        lines = sample.lines()
        head = len(sample.head)
    except ClassificationError:
        return FileStats(0, False)
    if not lines or not head:
        return FileStats(0, False)
    return FileStats(max(1, round(sample.size * len(lines) / head)), False)


class Crawler:
    """One crawler spec bound to a catalog."""

    def __init__(self, spec: CrawlerSpec, catalog: Catalog) -> None:
        self.spec = spec
        self.catalog = catalog
        self.store = CrawlStore(catalog)
        self.classifiers = [*spec.custom(), *builtin_classifiers()]

    # ----- classification ------------------------------------------------------------------
    def _classify_file(self, f: DataFile) -> tuple[DataFile, Classification | None, FileStats | None, str | None]:
        try:
            sample = FileSample.of(f.path)
            verdict = classify(sample, self.classifiers)
            if verdict is None:
                return f, None, None, "no classifier matched (UNKNOWN)"
            if sample.compression and "compressionType" not in verdict.parameters:
                verdict.parameters["compressionType"] = sample.compression
            return f, verdict, _estimate(sample, verdict), None
        except (ClassificationError, OSError) as exc:
            return f, None, None, str(exc)
        except Exception as exc:  # a classifier bug must not lose the crawl; it is reported
            return f, None, None, f"{type(exc).__name__}: {exc}"

    def _classify_all(
        self, files: list[DataFile], result: CrawlResult
    ) -> tuple[list[FileVerdict], dict[str, FileStats]]:
        chosen = self._sampled(files)
        verdicts: dict[str, FileVerdict] = {}
        stats: dict[str, FileStats] = {}
        for f, verdict, stat, error in self._map_classify(chosen):
            if error is not None:
                result.errors.append(FileError(f.path, error))
                result.files_skipped += 1
                continue
            assert verdict is not None and stat is not None
            verdicts[f.path] = FileVerdict(f, verdict)
            stats[f.path] = stat
            result.files_read += 1
        # Files left out by SampleSize take the verdict of a sampled file in their folder.
        by_folder = {v.file.folder: v for v in verdicts.values()}
        for f in files:
            if f.path not in verdicts and f.folder in by_folder and f not in chosen:
                ref = by_folder[f.folder]
                verdicts[f.path] = FileVerdict(f, ref.classification)
                ref_stat = stats[ref.file.path]
                per_byte = ref_stat.records / ref.file.size if ref.file.size else 0
                stats[f.path] = FileStats(round(per_byte * f.size), False)
        return [verdicts[f.path] for f in files if f.path in verdicts], stats

    def _map_classify(self, files: list[DataFile]) -> Iterator[tuple[DataFile, Classification | None,
                                                                     FileStats | None, str | None]]:
        """Classify ``files`` in order. Classification is pure Python (GIL-bound): threads
        measured slower than a loop, so large crawls fork one process per core instead."""
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
        if len(files) < PARALLEL_FROM_FILES or workers < 2 or "fork" not in mp.get_all_start_methods():
            return map(self._classify_file, files)
        global _WORKER_CRAWLER
        _WORKER_CRAWLER = self  # inherited by the forked workers, never pickled
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"))
        chunk = max(1, len(files) // (workers * 8))

        def results() -> Iterator[tuple[DataFile, Classification | None, FileStats | None, str | None]]:
            with pool:
                yield from pool.map(_classify_in_worker, files, chunksize=chunk)

        return results()

    def _sampled(self, files: list[DataFile]) -> list[DataFile]:
        if not self.spec.sample_size:
            return files
        per_folder: dict[str, list[DataFile]] = defaultdict(list)
        for f in files:
            per_folder[f.folder].append(f)
        return [f for group in per_folder.values() for f in group[: self.spec.sample_size]]

    # ----- planning --------------------------------------------------------------------------
    def plan(
        self, result: CrawlResult, previous: dict[str, CrawledFile] | None
    ) -> tuple[list[TablePlan], dict[str, FileStats], list[DataFile]]:
        grouping = self.spec.configuration.grouping
        plans: list[TablePlan] = []
        all_stats: dict[str, FileStats] = {}
        listed: list[DataFile] = []
        for target in self.spec.targets.s3_targets:
            loc, files, deltas = list_files(target.path, target.exclusions)
            for root in deltas:
                # Parquet files of a Delta table include removed versions: never crawl them as Parquet.
                result.logged_changes.append(
                    f"{loc.spark_path(loc.root)}/{root}: Delta table (has _delta_log); not crawled as files")
            listed.extend(files)
            if previous is not None:
                # CRAWL_NEW_FOLDERS_ONLY: files read by an earlier crawl are not read again.
                new = [f for f in files if f.path not in previous]
                result.files_skipped += len(files) - len(new)
                files = new
            verdicts, stats = self._classify_all(files, result)
            all_stats.update(stats)
            if previous is not None:
                verdicts, known = self._into_known_tables(verdicts, loc)
                plans.extend(known)
            if verdicts:
                include_name = os.path.basename(loc.root.rstrip("/")) or "root"
                plans.extend(group_tables(
                    verdicts, loc, include_name=include_name,
                    combine_compatible=grouping.table_grouping_policy == "CombineCompatibleSchemas",
                    table_level=grouping.table_level_configuration,
                ))
        return plans, all_stats, listed

    def _into_known_tables(self, verdicts: list[FileVerdict], loc: Any) -> tuple[list[FileVerdict], list[TablePlan]]:
        """CRAWL_NEW_FOLDERS_ONLY: new files below a table this crawler made earlier belong to
        that table (they are its new partitions); grouping them on their own would make a new
        table of them. Returns the files left over and one plan per known table."""
        try:
            tables = self.catalog.get_tables(self.spec.database_name)["TableList"]
        except EntityNotFoundError:
            return verdicts, []
        base = loc.spark_path(loc.root).rstrip("/")
        prefix = self.spec.table_prefix.lower()
        known = []
        for table in tables:
            location = table.get("StorageDescriptor", {}).get("Location", "").rstrip("/")
            if table.get("Parameters", {}).get("UPDATED_BY_CRAWLER") != self.spec.name:
                continue
            if location != base and not location.startswith(base + "/"):
                continue
            name = table["Name"][len(prefix):] if prefix and table["Name"].startswith(prefix) else table["Name"]
            keys = [k["Name"] for k in table.get("PartitionKeys", [])]
            known.append((location[len(base):].strip("/"), name, location, keys))
        known.sort(key=lambda k: len(k[0]), reverse=True)  # the deepest table root first
        plans: dict[str, TablePlan] = {}
        rest = []
        for v in verdicts:
            for root, name, location, keys in known:
                if not root or v.file.folder == root or v.file.folder.startswith(root + "/"):
                    if name not in plans:
                        why = f"{root or '.'}: new files of existing table {prefix}{name} (CRAWL_NEW_FOLDERS_ONLY)"
                        plans[name] = TablePlan(name, root, location, [], list(keys), [why])
                    plans[name].files.append(v)
                    break
            else:
                rest.append(v)
        return rest, list(plans.values())

    # ----- running ---------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False) -> CrawlResult:
        """Crawl and update the catalog (or, with ``dry_run``, only plan: for ``explain``)."""
        started = time.perf_counter()
        spec = self.spec
        result = CrawlResult(run_id=None, crawler=spec.name)
        if not dry_run:
            self.catalog.ensure_database(spec.database_name, f"created by crawler {spec.name}")
            self.store.put_crawler(spec.name, spec.model_dump(by_alias=True, exclude_none=True))
            result.run_id = self.store.start_run(spec.name)
        new_only = spec.recrawl_policy.recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY"
        try:
            previous = self.store.crawled_files(spec.name) if new_only else None
            if previous is not None and not previous:
                previous = None  # first crawl: everything is new
            plans, stats, listed = self.plan(result, previous)
            result.plans = plans
            if not dry_run:
                self._apply(plans, stats, result, full=previous is None)
                owner = {v.file.path: p.name for p in plans for v in p.files}
                self.store.record_files(
                    spec.name,
                    [CrawledFile(f.path, f.folder, f.size, f.mtime, owner.get(f.path)) for f in listed
                     if f.path in owner or previous is None],
                    replace=previous is None,
                )
        except EtlError as exc:
            result.duration = time.perf_counter() - started
            if result.run_id is not None:
                self.store.finish_run(result.run_id, state="FAILED", message=str(exc), **self._counts(result))
            raise
        result.duration = time.perf_counter() - started
        if result.run_id is not None:
            self.store.finish_run(result.run_id, state="SUCCEEDED", **self._counts(result))
        return result

    @staticmethod
    def _counts(result: CrawlResult) -> dict[str, Any]:
        return {
            "tables_created": len(result.tables_created),
            "tables_updated": len(result.tables_updated),
            "tables_deleted": len(result.tables_deleted),
            "partitions_added": result.partitions_added,
            "partitions_deleted": result.partitions_deleted,
            "files_read": result.files_read,
            "files_skipped": result.files_skipped,
            "errors": [{"path": e.path, "reason": e.reason} for e in result.errors],
            "summary": {"created": result.tables_created, "updated": result.tables_updated,
                        "unchanged": result.tables_unchanged, "deleted": result.tables_deleted,
                        "deprecated": result.tables_deprecated, "logged": result.logged_changes},
        }

    def _apply(self, plans: list[TablePlan], stats: dict[str, FileStats], result: CrawlResult, *, full: bool) -> None:
        spec = self.spec
        db = spec.database_name
        update = spec.schema_change_policy.update_behavior == "UPDATE_IN_DATABASE"
        planned_names = set()
        for plan in plans:
            name = f"{spec.table_prefix}{plan.name}".lower()
            planned_names.add(name)
            wanted = table_input(plan, name, spec.name, stats)
            try:
                current = self.catalog.get_table(db, name)["Table"]
            except EntityNotFoundError:
                current = None
            if current is None:
                self.catalog.create_table(db, wanted)
                result.tables_created.append(name)
            elif full:
                self._reconcile_table(db, name, current, wanted, update, result)
            else:
                result.tables_unchanged.append(name)
            self._reconcile_partitions(db, name, plan, stats, result, full=full)
        if full:
            self._handle_vanished(db, planned_names, result)

    def _reconcile_table(self, db: str, name: str, current: dict[str, Any], wanted: dict[str, Any],
                         update: bool, result: CrawlResult) -> None:
        sd_now, sd_new = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
        structural = any(sd_now.get(k) != sd_new.get(k) for k in _STRUCTURAL) or \
            current.get("PartitionKeys", []) != wanted["PartitionKeys"] or \
            current.get("Parameters", {}).get("classification") != wanted["Parameters"]["classification"]
        if not structural:
            # Fresh statistics, same structure: no new version (Glue's SkipArchive).
            self.catalog.update_table(db, wanted, VersionId=current["VersionId"], SkipArchive=True)
            result.tables_unchanged.append(name)
            return
        if not update:
            result.logged_changes.append(f"{name}: schema changed; not applied (UpdateBehavior LOG)")
            log.warning("crawler %s: table %s changed; UpdateBehavior LOG leaves it", self.spec.name, name)
            return
        self.catalog.update_table(db, wanted, VersionId=current["VersionId"])
        result.tables_updated.append(name)

    def _reconcile_partitions(self, db: str, name: str, plan: TablePlan, stats: dict[str, FileStats],
                              result: CrawlResult, *, full: bool) -> None:
        wanted = partition_inputs(plan, stats)
        existing = {tuple(p["Values"]) for p in self.catalog.get_partitions(db, name)["Partitions"]}
        new = [p for p in wanted if tuple(p["Values"]) not in existing]
        if new:
            errors = self.catalog.batch_create_partition(db, name, new)["Errors"]
            result.partitions_added += len(new) - len(errors)
        if full:
            gone = existing - {tuple(p["Values"]) for p in wanted}
            if gone and self.spec.schema_change_policy.delete_behavior == "DELETE_FROM_DATABASE":
                self.catalog.batch_delete_partition(db, name, [{"Values": list(v)} for v in gone])
                result.partitions_deleted += len(gone)
            elif gone:
                result.logged_changes.append(f"{name}: {len(gone)} partition(s) no longer found; kept")

    def _handle_vanished(self, db: str, planned: set[str], result: CrawlResult) -> None:
        """Tables this crawler made earlier whose data is gone, per DeleteBehavior."""
        behavior = self.spec.schema_change_policy.delete_behavior
        for table in self.catalog.get_tables(db)["TableList"]:
            params = table.get("Parameters", {})
            if params.get("UPDATED_BY_CRAWLER") != self.spec.name or table["Name"] in planned:
                continue
            if behavior == "DELETE_FROM_DATABASE":
                self.catalog.delete_table(db, table["Name"])
                result.tables_deleted.append(table["Name"])
            elif behavior == "DEPRECATE_IN_DATABASE":
                if "DEPRECATED_BY_CRAWLER" not in params:
                    wanted = {k: table[k] for k in ("StorageDescriptor", "PartitionKeys", "TableType", "Parameters")
                              if k in table}
                    wanted["Name"] = table["Name"]
                    wanted["Parameters"] = {**params, "DEPRECATED_BY_CRAWLER": json.dumps(time.time())}
                    self.catalog.update_table(db, wanted, VersionId=table["VersionId"])
                result.tables_deprecated.append(table["Name"])
            else:
                result.logged_changes.append(f"{table['Name']}: data no longer found; kept (DeleteBehavior LOG)")
