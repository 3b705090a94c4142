"""The local cluster's simulated under file systems: a folder per scheme and bucket.

The stand-in cache CLIs serve ``scheme://bucket/path`` from ``<cluster>/ufs/scheme/bucket/path``
(``lifecycle.local.standin.cache.ufs_local_path``), so a Dataset on the local cluster mounts whatever is
in that folder. ``fluidlc cluster ufs add s3://bucket/path`` fills one with files; ``fluidlc run``
fills the folders its sample mounts. The files are sparse: a simulated terabyte costs no disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifecycle.api.units import format_bytes, parse_quantity
from lifecycle.api.validation import scheme_of
from lifecycle.local.standin.cache import StandinError, ufs_local_path

DEFAULT_SIZE = "1Gi"
# Mount points the cache tool never mounts itself: pod volumes (local://, pvc://) and references to
# another Dataset; the simulated UFS has no folder for them.
NOT_MOUNTED_BY_THE_CACHE = ("local", "pvc", "dataset")
DEFAULT_FILES = 3


class UfsError(ValueError):
    """A URI the simulated UFS cannot hold, or a size or count that makes no sense."""


@dataclass(frozen=True)
class Filled:
    uri: str
    folder: Path
    files: int
    total_bytes: int

    def __str__(self) -> str:
        return f"{self.uri}: {self.files} file(s), {format_bytes(self.total_bytes)} in {self.folder}"


def folder(ufs_root: Path, uri: str) -> Path:
    """Where the stand-ins look for ``uri``; UfsError for a URI no cache tool mounts itself."""
    scheme = scheme_of(uri)
    if scheme is None:
        raise UfsError(f"{uri!r} has no scheme; give the mountPoint as a Dataset has it, e.g. s3://bucket/path")
    if scheme in NOT_MOUNTED_BY_THE_CACHE:
        raise UfsError(f"{uri!r}: {scheme}:// is not mounted by the cache tool (it is a volume of the pods or "
                       "another Dataset), so the simulated UFS has no folder for it")
    rest = uri.partition("://")[2].strip("/")
    if not rest:
        raise UfsError(f"{uri!r} names no bucket; e.g. s3://bucket/path")
    try:
        return ufs_local_path(ufs_root, uri)
    except StandinError as exc:  # '..' in the path
        raise UfsError(str(exc)) from None


def parse_size(text: str) -> int:
    try:
        size = int(parse_quantity(text))
    except ValueError as exc:
        raise UfsError(str(exc)) from None
    if size < 0:
        raise UfsError(f"--size {text!r} is negative")
    return size


def add(ufs_root: Path, uri: str, size: int, files: int = DEFAULT_FILES, *, keep_existing: bool = False) -> Filled:
    """``files`` files ``part-00000``... of ``size`` bytes in all in the folder of ``uri``.

    Existing part files are resized, unless ``keep_existing``; other files in the folder stay."""
    if files < 0:
        raise UfsError(f"--files {files} is negative")
    target = folder(ufs_root, uri)
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    for index in range(files):
        part = target / f"part-{index:05d}"
        share = size // files + (1 if index < size % files else 0)
        if keep_existing and part.exists():
            total += part.stat().st_size
            continue
        with part.open("wb") as f:
            f.truncate(share)  # sparse: the size is simulated, not written
        total += share
    return Filled(uri, target, files, total)


def fill_for(ufs_root: Path, documents: list[dict[str, Any]]) -> list[Filled]:
    """A few files behind every UFS mount of the Datasets in ``documents`` that has none yet."""
    filled = []
    for doc in documents:
        if doc.get("kind") != "Dataset":
            continue
        for mount in (doc.get("spec") or {}).get("mounts") or []:
            uri = str(mount.get("mountPoint", ""))
            if scheme_of(uri) in (None, *NOT_MOUNTED_BY_THE_CACHE):
                continue
            filled.append(add(ufs_root, uri, 6 << 20, keep_existing=True))
    return filled
