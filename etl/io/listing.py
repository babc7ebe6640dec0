"""List data files and Hive-style partition folders without Spark.

Listing goes through ``pyarrow.fs`` (local disks, S3, GCS, HDFS), so partition pruning can decide
which folders to open before Spark sees a single path. Names that Spark and Glue treat as hidden
(``_SUCCESS``, ``_temporary``, ``.crc``, dot files) are skipped.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

from etl.errors import DataSourceError

_PARTITION_DIR = re.compile(r"^([^=/]+)=(.*)$")


@dataclass(frozen=True)
class Location:
    """A path as the user wrote it, with the filesystem that serves it."""

    fs: pafs.FileSystem
    root: str  # path inside ``fs``
    prefix: str  # what to put back in front of fs paths for Spark ("" for local, "s3a://" ...)

    def spark_path(self, fs_path: str) -> str:
        return f"{self.prefix}{fs_path}"


def locate(path: str) -> Location:
    """Resolve a user path (local, ``file://``, ``s3://``, ``s3a://``) to a filesystem."""
    parsed = urlparse(path)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file"):
        local = unquote(parsed.path) if scheme == "file" else path
        return Location(pafs.LocalFileSystem(), os.path.abspath(local).rstrip("/") or "/", "")
    if scheme in ("s3", "s3a", "s3n"):
        fs, inner = pafs.FileSystem.from_uri("s3://" + path.split("://", 1)[1])
        return Location(fs, inner.rstrip("/"), f"{scheme}://")
    try:
        fs, inner = pafs.FileSystem.from_uri(path)
    except Exception as exc:  # pyarrow raises several types for unknown schemes
        raise DataSourceError(f"cannot list {path!r}: {exc}") from exc
    return Location(fs, inner.rstrip("/"), f"{scheme}://")


def is_hidden(name: str) -> bool:
    """Spark's rule: names starting with ``_`` or ``.`` are not data (``_SUCCESS``, ``.crc``);
    ``_key=value`` folders are partitions, dot names never are (``.out=1.staging-...``)."""
    return name.startswith(".") or (name.startswith("_") and "=" not in name)


@dataclass(frozen=True)
class PartitionDir:
    """A leaf partition folder and its key/value pairs, outermost key first."""

    path: str
    values: tuple[tuple[str, str], ...]


def _entries(loc: Location, directory: str) -> list[pafs.FileInfo]:
    try:
        return loc.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=False))
    except FileNotFoundError as exc:
        raise DataSourceError(f"path not found: {loc.spark_path(directory)}") from exc


def partition_dirs(loc: Location) -> list[PartitionDir]:
    """Walk ``key=value`` folders below ``loc.root``; the folders' files are never listed.

    Returns an empty list when the root holds no partition folders.
    """
    info = loc.fs.get_file_info(loc.root)
    if info.type == pafs.FileType.NotFound:
        raise DataSourceError(f"path not found: {loc.spark_path(loc.root)}")
    found: list[PartitionDir] = []
    frontier: list[tuple[str, tuple[tuple[str, str], ...]]] = [(loc.root, ())]
    while frontier:
        directory, values = frontier.pop()
        subdirs = []
        for entry in _entries(loc, directory):
            if entry.type != pafs.FileType.Directory or is_hidden(entry.base_name):
                continue
            match = _PARTITION_DIR.match(entry.base_name)
            if match:
                subdirs.append((entry.path, (*values, (match.group(1), unquote(match.group(2))))))
        if subdirs:
            frontier.extend(subdirs)
        elif values:
            found.append(PartitionDir(directory, values))
    return sorted(found, key=lambda p: p.path)


def entries(loc: Location, *, recurse: bool = True) -> list[pafs.FileInfo]:
    """Every file and folder below the root (one listing call), or the root itself if it is a
    file.

    Raises:
        DataSourceError: the root does not exist.
    """
    info = loc.fs.get_file_info(loc.root)
    if info.type == pafs.FileType.NotFound:
        raise DataSourceError(f"path not found: {loc.spark_path(loc.root)}")
    if info.type == pafs.FileType.File:
        return [info]
    return loc.fs.get_file_info(pafs.FileSelector(loc.root, recursive=recurse, allow_not_found=True))


def data_files(
    loc: Location,
    *,
    recurse: bool = True,
    exclusions: list[str] | None = None,
    listed: list[pafs.FileInfo] | None = None,
) -> list[pafs.FileInfo]:
    """Data files below the root, minus hidden names and Glue-style exclusion globs.

    Exclusion globs are matched against the path relative to the root, as Glue does
    (``**.json``, ``logs/*.tmp``); ``*`` stays within a folder, ``**`` crosses folders.
    ``listed`` reuses the result of :func:`entries` instead of listing again.
    """
    patterns = [_glob_regex(p) for p in exclusions or []]
    found = listed if listed is not None else entries(loc, recurse=recurse)
    if len(found) == 1 and found[0].path.rstrip("/") == loc.root and found[0].type == pafs.FileType.File:
        return found
    files = []
    for entry in found:
        if entry.type != pafs.FileType.File:
            continue
        relative = entry.path[len(loc.root):].lstrip("/")
        if any(is_hidden(part) for part in relative.split("/")):
            continue
        if any(p.fullmatch(relative) for p in patterns):
            continue
        files.append(entry)
    return sorted(files, key=lambda f: f.path)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Glue exclusion glob to a regex: ``**`` crosses folders, ``*`` and ``?`` do not."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "{":
            end = pattern.find("}", i)
            if end < 0:
                out.append(re.escape(pattern[i]))
                i += 1
                continue
            alternatives = pattern[i + 1 : end].split(",")
            # each alternative is a glob itself, as in Java's and the shell's globs: {*.tmp,logs/**}
            out.append("(?:" + "|".join(_glob_regex(a).pattern for a in alternatives) + ")")
            i = end + 1
        elif pattern[i] == "[":
            end = pattern.find("]", i)
            out.append(fnmatch.translate(pattern[i : end + 1])[4:-3] if end > 0 else re.escape("["))
            i = end + 1 if end > 0 else i + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
