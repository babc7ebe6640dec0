"""Walk crawl targets: list data files, then group them into tables and partitions.

Grouping follows Glue's documented behaviour. Starting at the include path, a folder becomes one
table when all files below it share a classification, their schemas are similar (or the
``CombineCompatibleSchemas`` policy is on) and they sit at the same depth; its sub-folders then
become partitions (``key=value`` folders give the key's name, others ``partition_0``, ...).
Otherwise each sub-folder is tried on its own. Every decision is recorded as a reason so
``etl crawler explain`` can show why folders were grouped or split.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import unquote

from etl.crawler.model import Classification
from etl.io import listing

_KEY_VALUE = re.compile(r"^([^=/]+)=(.*)$")
SIMILARITY_THRESHOLD = 0.7  # Glue: schemas are "similar" when this share of columns match


@dataclass(frozen=True)
class DataFile:
    path: str  # filesystem path
    relative: str  # path below the include path, '/'-separated
    size: int
    mtime: float

    @property
    def folder(self) -> str:
        return self.relative.rsplit("/", 1)[0] if "/" in self.relative else ""


def delta_roots(listed: list[listing.pafs.FileInfo], loc: listing.Location) -> list[str]:
    """Folders below the include path that hold a Delta table (a ``_delta_log`` folder)."""
    return sorted(
        info.path[: -len("/_delta_log")][len(loc.root):].strip("/")
        for info in listed
        if info.type == listing.pafs.FileType.Directory and info.base_name == "_delta_log"
    )


def list_files(
    include_path: str, exclusions: list[str] | None = None
) -> tuple[listing.Location, list[DataFile], list[str]]:
    """Data files under ``include_path`` (hidden names, ``_temporary`` and empty files left out)
    and the Delta table folders found there, whose files are left out too: one listing."""
    loc = listing.locate(include_path)
    listed = listing.entries(loc)
    deltas = delta_roots(listed, loc)
    skip = tuple(f"{d}/" for d in deltas)
    files = []
    for info in listing.data_files(loc, exclusions=exclusions, listed=listed):
        if info.size == 0:
            continue
        relative = info.path[len(loc.root):].lstrip("/")
        if "" in deltas or (skip and relative.startswith(skip)):
            continue
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        files.append(DataFile(info.path, relative, info.size, mtime))
    return loc, files, deltas


@dataclass
class FileVerdict:
    file: DataFile
    classification: Classification


@dataclass
class TablePlan:
    """One table the crawl found."""

    name: str
    root: str  # folder below the include path ("" = the include path itself)
    location: str
    files: list[FileVerdict]
    partition_keys: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def partition_values(self, verdict: FileVerdict) -> list[str]:
        parts = _folder_parts(verdict.file.folder, self.root)
        return [unquote(m.group(2)) if (m := _KEY_VALUE.match(p)) else p for p in parts]


def _folder_parts(folder: str, root: str) -> list[str]:
    below = folder[len(root):].strip("/") if root else folder
    return [p for p in below.split("/") if p]


def _column_names(c: Classification) -> frozenset[str]:
    return frozenset(col.name.lower() for col in c.columns)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / max(len(a), len(b))


def _compatible(verdicts: list[FileVerdict], root: str, combine: bool) -> tuple[bool, str]:
    kinds = {v.classification.classification for v in verdicts}
    if len(kinds) > 1:
        return False, f"split: mixed classifications {sorted(kinds)}"
    depths = {len(_folder_parts(v.file.folder, root)) for v in verdicts}
    if len(depths) > 1:
        return False, f"split: files at different folder depths {sorted(depths)}"
    if combine:
        return True, "grouped: CombineCompatibleSchemas"
    schemas = list({_column_names(v.classification) for v in verdicts})
    worst = min(similarity(a, b) for a in schemas for b in schemas)
    if worst < SIMILARITY_THRESHOLD:
        return False, f"split: schemas only {worst:.0%} similar (< {SIMILARITY_THRESHOLD:.0%})"
    return True, f"grouped: one {kinds.pop()} format, schemas >= {worst:.0%} similar, same depth"


def _single_plain_child(members: list[FileVerdict], root: str) -> str | None:
    """The one sub-folder every file sits in, when it is not a key=value folder."""
    firsts = {(_folder_parts(v.file.folder, root) or [""])[0] for v in members}
    if len(firsts) != 1:
        return None
    child = firsts.pop()
    return child if child and not _KEY_VALUE.match(child) else None


def _partition_key_names(plan: TablePlan) -> list[str]:
    depth = len(_folder_parts(plan.files[0].file.folder, plan.root))
    names = []
    for i in range(depth):
        keys = set()
        for v in plan.files:
            part = _folder_parts(v.file.folder, plan.root)[i]
            match = _KEY_VALUE.match(part)
            keys.add(match.group(1) if match else None)
        names.append(keys.pop() if len(keys) == 1 and None not in keys else f"partition_{i}")
    return names


def group_tables(
    verdicts: list[FileVerdict],
    loc: listing.Location,
    *,
    include_name: str,
    combine_compatible: bool = False,
    table_level: int | None = None,
) -> list[TablePlan]:
    """Group classified files into tables (see the module docstring).

    Args:
        include_name: the table name used when the include path itself is the table.
        table_level: Glue's TableLevelConfiguration, counted from the include path (1 = the
            include path, 2 = its sub-folders, ...); forces where table roots are.
    """
    plans: list[TablePlan] = []

    def visit(root: str, members: list[FileVerdict], level: int, trail: list[str]) -> None:
        ok, why = _compatible(members, root, combine_compatible)
        if table_level is not None:
            here = level >= table_level
            why = "TableLevelConfiguration" + ("" if ok else f"; {why}")
        else:
            here = ok
        label = root or "."
        only_child = _single_plain_child(members, root)
        if here and table_level is None and only_child:
            # Glue would make "<root>" a table partitioned by partition_0 with one value; a lone
            # plain sub-folder is the table itself.
            why = f"the only sub-folder {only_child!r} is not a key=value partition; it is the table"
            visit(f"{root}/{only_child}".strip("/"), members, level + 1, [*trail, f"{label}: {why}"])
            return
        if here:
            plan = _plan(root, members, [*trail, f"{label}: {why}"])
            plan.partition_keys = _partition_key_names(plan) if ok else []
            plans.append(plan)
            return
        children: dict[str, list[FileVerdict]] = defaultdict(list)
        direct: list[FileVerdict] = []
        for v in members:
            parts = _folder_parts(v.file.folder, root)
            (children[parts[0]] if parts else direct).append(v)
        note = f"{label}: {why}"
        if direct:
            plans.append(_plan(root, direct, [*trail, note, f"{label}: its own files form a table"]))
        for child, child_members in sorted(children.items()):
            visit(f"{root}/{child}".strip("/"), child_members, level + 1, [*trail, note])

    def _plan(root: str, members: list[FileVerdict], reasons: list[str]) -> TablePlan:
        name = include_name if not root else root.rsplit("/", 1)[-1]
        location = loc.spark_path(f"{loc.root}/{root}".rstrip("/"))
        return TablePlan(_table_name(name), root, location, members, reasons=reasons)

    visit("", verdicts, 1, [])
    _dedupe_names(plans)
    return plans


def _table_name(folder: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", unquote(folder)).strip("_").lower()
    return name or "root"


def _dedupe_names(plans: list[TablePlan]) -> None:
    """Glue appends a hash when names clash; we append the parent folder, then a counter."""
    seen: dict[str, int] = defaultdict(int)
    for plan in plans:
        seen[plan.name] += 1
    clashes = {n for n, c in seen.items() if c > 1}
    used: set[str] = set()
    for plan in plans:
        if plan.name in clashes and "/" in plan.root:
            parent = plan.root.rsplit("/", 2)[-2]
            plan.name = f"{_table_name(parent)}_{plan.name}"
        base, i = plan.name, 1
        while plan.name in used:
            i += 1
            plan.name = f"{base}_{i}"
        used.add(plan.name)

