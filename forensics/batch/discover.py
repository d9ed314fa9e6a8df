"""Work units from a folder of images or a manifest CSV.

A folder walk keeps files named like disk images: single raw files (``.raw .img .dd .bin``),
the first segment of a split raw set (``.000``/``.001``) and of an EWF set (``.E01``). The
other segments of a set belong to its first one (``open_image`` groups them the same way when
the unit is scanned), so a set is one unit. A manifest names images anywhere and carries asset
metadata (asset tag, make/model, serial, notes) that is stored with the image in the case.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from forensics.errors import InputError
from forensics.evidence.image import open_image

RAW_SUFFIXES = frozenset({".raw", ".img", ".dd", ".bin", ".dmg", ".iso"})
_FIRST_SPLIT = re.compile(r"\.(000|001)$")
_FIRST_EWF = re.compile(r"\.[Ee]01$")
MANIFEST_COLUMNS = ("path", "asset_tag", "make_model", "serial", "notes")
MAX_MANIFEST_ROWS = 100_000
MAX_FIELD = 1000


@dataclass(frozen=True)
class Asset:
    """What the lab knows about the device a drive came from (manifest columns)."""

    asset_tag: str = ""
    make_model: str = ""
    serial: str = ""
    notes: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "asset_tag": self.asset_tag,
            "make_model": self.make_model,
            "serial": self.serial,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Unit:
    """One image to scan: its files (first segment first) and the asset it belongs to."""

    paths: tuple[Path, ...]
    asset: Asset = field(default_factory=Asset)
    # Why discovery could not group the image (e.g. a later segment named in a manifest): the
    # unit is recorded as failed with this message, without being scanned.
    error: str | None = None

    @property
    def key(self) -> str:
        """The unit's identity in the case: its absolute file paths, one a line."""
        return "\n".join(str(p) for p in self.paths)

    @property
    def name(self) -> str:
        return self.paths[0].name


def _segments(first: Path) -> tuple[tuple[Path, ...], str | None]:
    """Every file of the image starting at ``first`` (as the scanner will open it)."""
    try:
        with open_image(first) as image:
            return tuple(Path(p).absolute() for p in image.paths), None
    except InputError as exc:
        return (first,), str(exc)
    except OSError as exc:
        return (first,), f"{first}: cannot be opened: {exc.strerror or exc}"


def _is_candidate(name: str) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    return suffix in RAW_SUFFIXES or bool(_FIRST_SPLIT.search(name) or _FIRST_EWF.search(name))


def discover_folder(folder: Path) -> list[Unit]:
    """Units for the images under ``folder`` (recursively), sorted by path."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root, name).absolute() for name in sorted(files) if _is_candidate(name))
    units: list[Unit] = []
    claimed: set[Path] = set()
    for path in found:
        if path in claimed:
            continue
        paths, error = _segments(path)
        claimed.update(paths)
        units.append(Unit(paths=paths, error=error))
    return sorted(units, key=lambda u: u.key)


def _field(row: dict[str, str | None], name: str) -> str:
    return (row.get(name) or "").strip()[:MAX_FIELD]


def read_manifest(manifest: Path) -> list[Unit]:
    """Units named by a manifest CSV; paths are relative to the manifest's folder."""
    base = manifest.absolute().parent
    units: dict[str, Unit] = {}
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or ()]
            if "path" not in header:
                raise InputError(
                    f"{manifest}: a manifest needs a 'path' column (columns: "
                    + ", ".join(MANIFEST_COLUMNS)
                    + ")"
                )
            reader.fieldnames = header
            for number, row in enumerate(reader, start=2):
                if number > MAX_MANIFEST_ROWS:
                    raise InputError(f"{manifest}: more than {MAX_MANIFEST_ROWS} rows")
                name = _field(row, "path")
                if not name:
                    continue
                path = Path(name) if Path(name).is_absolute() else base / name
                paths, error = _segments(path.absolute())
                asset = Asset(
                    asset_tag=_field(row, "asset_tag"),
                    make_model=_field(row, "make_model"),
                    serial=_field(row, "serial"),
                    notes=_field(row, "notes"),
                )
                unit = Unit(paths=paths, asset=asset, error=error)
                units.setdefault(unit.key, unit)  # a path listed twice is one unit
    except UnicodeDecodeError:
        raise InputError(f"{manifest}: not a UTF-8 CSV manifest") from None
    except csv.Error as exc:
        raise InputError(f"{manifest}: not a readable CSV manifest ({exc})") from None
    except OSError as exc:
        raise InputError(f"{manifest}: cannot be read: {exc.strerror or exc}") from None
    return sorted(units.values(), key=lambda u: u.key)


def discover(target: Path) -> list[Unit]:
    """Units for a folder of images or a manifest CSV."""
    if target.is_dir():
        return discover_folder(target)
    if target.is_file() and target.suffix.lower() == ".csv":
        return read_manifest(target)
    if not target.exists():
        raise InputError(f"{target}: no such file or folder")
    raise InputError(f"{target}: give a folder of images or a manifest .csv")
