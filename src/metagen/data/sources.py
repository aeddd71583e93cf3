"""A folder or a zip archive seen the same way: a list of relative file paths and their bytes.

Loaders take either the official zip of a data set or its unpacked folder through this one type.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from metagen.data.cache import digest_file, digest_files
from metagen.errors import InputError


class FileTree:
    """Read-only view of the files under a folder or inside a zip archive."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise InputError(f"path not found: {self.path}")
        self.is_zip = self.path.is_file()
        if self.is_zip:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(f"{self.path}: not a readable zip archive ({exc})") from None
            self._files = sorted(i.filename for i in self._zip.infolist() if not i.is_dir() and not _hidden(i.filename))
        else:
            self._files = sorted(
                p.relative_to(self.path).as_posix()
                for p in self.path.rglob("*")
                if p.is_file() and not _hidden(p.relative_to(self.path).as_posix())
            )

    def files(self) -> list[str]:
        """Relative POSIX paths of every file, sorted."""
        return self._files

    def dirs(self) -> set[str]:
        """Relative POSIX paths of every folder that holds a file, or that exists in the folder."""
        found = {str(PurePosixPath(f).parent) for f in self._files}
        if not self.is_zip:
            found |= {p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_dir()}
        else:
            found |= {i.filename.rstrip("/") for i in self._zip.infolist() if i.is_dir()}
        return found

    def read(self, rel: str) -> bytes:
        try:
            return self._zip.read(rel) if self.is_zip else (self.path / rel).read_bytes()
        except (zipfile.BadZipFile, OSError, KeyError) as exc:
            raise InputError(f"{self.display(rel)}: cannot be read ({exc})") from None

    def display(self, rel: str) -> str:
        """How error messages name a file: its path, or ``archive.zip:member``."""
        return f"{self.path}:{rel}" if self.is_zip else str(self.path / rel)

    def digest(self) -> str:
        """sha256 of the source's content (the archive's bytes, or every file's path and bytes)."""
        if self.is_zip:
            return digest_file(self.path)
        return digest_files(self.path, [self.path / f for f in self._files])


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(rel).parts)


def locate_tree(root: str | Path, stem: str, zip_name: str, subfolder: str, what: str) -> tuple[FileTree, str]:
    """Find a data set shipped as ``zip_name`` that unpacks to ``stem/``.

    ``root`` may be the zip itself, the unpacked ``stem`` folder, or a folder holding either,
    directly or in ``subfolder``. Returns the tree and the prefix of ``stem`` inside it.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise InputError(f"{what} not found: {root} does not exist")
    if root.is_file():
        return FileTree(root), stem
    if root.name == stem:
        return FileTree(root), ""
    for base in (root, root / subfolder):
        if (base / stem).is_dir():
            return FileTree(base / stem), ""
        if (base / zip_name).is_file():
            return FileTree(base / zip_name), stem
    raise InputError(f"{what} not found under {root}: expected {zip_name} or a {stem}/ folder")
