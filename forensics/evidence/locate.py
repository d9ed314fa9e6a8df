"""Attribute an absolute image offset to where it lives: file, deleted file, slack, free space, gap.

The scan reads the image once, front to back; every hit found in those raw bytes is then located
here. Within a file-system volume the most specific claim wins, in this order: data of an
allocated file, slack of an allocated file, blocks still referenced by a deleted file, then the
file system's allocation bitmap (free → unallocated, in use → file-system metadata).
"""

from __future__ import annotations

import bisect
import functools
from array import array
from dataclasses import dataclass

import numpy as np

from forensics.evidence.address import EvidenceAddress, Step, step
from forensics.evidence.allocation import AllocationMap
from forensics.evidence.disk import Volume
from forensics.records import ByteRun, LocationClass


@dataclass(frozen=True)
class Location:
    """Where an offset lives, and the evidence chain up to (not including) the offset step."""

    location_class: LocationClass
    address: EvidenceAddress
    path: str | None = None
    inode: int | None = None
    file_id: int | None = None
    file_offset: int | None = None  # offset of the byte inside the file (data or slack)


class _Layer:
    """Byte ranges that may overlap; lookup returns the covering range with the greatest start.

    Ranges are collected in compact ``array('q')`` columns (32 bytes a run, so a heavily
    fragmented file system does not blow the memory bound) and frozen sorted by start, still as
    arrays: ``bisect`` reads them in C, several times faster than a scalar numpy search.
    """

    def __init__(self) -> None:
        self._columns = tuple(array("q") for _ in range(4))  # start, end, file index, offset
        self.starts, self.ends, self.files, self.offsets = self._columns
        self._max_end = array("q")

    def add(self, start: int, length: int, file_index: int, file_offset: int) -> None:
        if length > 0:
            for column, value in zip(
                self._columns, (start, start + length, file_index, file_offset), strict=True
            ):
                column.append(value)

    def freeze(self) -> None:
        starts, ends, files, offsets = (np.frombuffer(c, dtype=np.int64) for c in self._columns)
        order = np.argsort(starts, kind="stable")
        self.starts, self.ends, self.files, self.offsets = (
            array("q", column[order].tobytes()) for column in (starts, ends, files, offsets)
        )
        max_end = np.maximum.accumulate(ends[order]) if ends.size else ends
        self._max_end = array("q", max_end.tobytes())
        self._columns = tuple(array("q") for _ in range(4))

    def find(self, offset: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(self.starts, offset) - 1
        while i >= 0 and self._max_end[i] > offset:
            if self.ends[i] > offset:
                return self.files[i], self.offsets[i] + offset - self.starts[i]
            i -= 1
        return None


@dataclass(frozen=True)
class _FileRef:
    path: str
    inode: int | None
    allocated: bool
    file_id: int | None


class _FsLocator:
    def __init__(self, base: EvidenceAddress, fs_type: str, start: int, end: int):
        self.base = base
        self.fs_type = fs_type
        self.start = start
        self.end = end
        self.files: list[_FileRef] = []
        self.resident = _Layer()  # NTFS values inside MFT entries: more specific than $MFT
        self.data = _Layer()
        self.slack = _Layer()
        self.deleted = _Layer()
        self.allocation: AllocationMap | None = None
        # The address of each file a hit was found in, built once: a file holds many hits.
        self._file_addresses: dict[int, EvidenceAddress] = {}

    def file_step(self, ref: _FileRef) -> Step:
        state = "allocated" if ref.allocated else "deleted"
        label = f"{self.fs_type} inode {ref.inode} {ref.path} ({state})"
        return step("file", label, path=ref.path, inode=ref.inode, state=state, fs=self.fs_type)

    def locate(self, offset: int) -> Location:
        for layer, cls in (
            (self.resident, None),
            (self.data, LocationClass.ALLOCATED),
            (self.slack, LocationClass.SLACK),
            (self.deleted, LocationClass.DELETED),
        ):
            found = layer.find(offset)
            if found is None:
                continue
            ref = self.files[found[0]]
            if cls is None:
                cls = LocationClass.ALLOCATED if ref.allocated else LocationClass.DELETED
            address = self._file_addresses.get(found[0])
            if address is None:
                address = self._file_addresses[found[0]] = self.base.then(self.file_step(ref))
            if cls is LocationClass.SLACK:
                address = address.then(step("slack", "slack", file_offset=found[1]))
            return Location(cls, address, ref.path, ref.inode, ref.file_id, found[1])
        state = self.allocation.state_at(offset) if self.allocation is not None else None
        if state is None and self.allocation is not None and offset < self.allocation.origin:
            state = True  # before the first allocation unit: boot sector, FATs, root directory
        if state is True:
            return self._metadata
        if state is None and self.allocation is not None and offset >= self.allocation.end:
            return self._volume_slack
        # Free per the bitmap, or no bitmap: no file claims it (approximation noted in a Problem).
        return self._free

    @functools.cached_property
    def _metadata(self) -> Location:
        label = f"{self.fs_type} metadata/in-use block"
        return Location(LocationClass.ALLOCATED, self.base.then(step("fs-metadata", label)))

    @functools.cached_property
    def _volume_slack(self) -> Location:
        label = "volume slack (past the file system's last unit)"
        return Location(LocationClass.UNALLOCATED, self.base.then(step("unallocated", label)))

    @functools.cached_property
    def _free(self) -> Location:
        label = f"{self.fs_type} free space"
        return Location(LocationClass.UNALLOCATED, self.base.then(step("unallocated", label)))


class Locator:
    """Maps absolute image offsets to Locations; build with ``add_*`` then ``freeze``."""

    def __init__(self, image_label: str, image_size: int):
        self.image_step = step("image", image_label, size=image_size)
        self._volumes: list[tuple[int, int, Volume, str]] = []  # (start, end, volume, mode)
        self._fs: dict[int, _FsLocator] = {}
        self._starts: list[int] = []

    def _volume_address(self, volume: Volume) -> EvidenceAddress:
        if volume.kind == "gap":
            label = f"gap@{volume.offset}"
            kind = "gap"
        elif volume.kind == "whole":
            label = "whole image (no partition table)"
            kind = "volume"
        else:
            label = f"p{volume.slot or volume.index}@{volume.offset}"
            kind = "partition"
        nxt = step(
            kind,
            label,
            index=volume.index,
            offset=volume.offset,
            length=volume.length,
            slot=volume.slot,
            scheme=volume.scheme,
        )
        return EvidenceAddress((self.image_step, nxt))

    def add_volume(self, volume: Volume, mode: str) -> None:
        """``mode``: "fs" (file system opened), "raw" (unopenable) or "gap"."""
        self._volumes.append((volume.offset, volume.offset + volume.length, volume, mode))

    def add_filesystem(self, volume: Volume, fs_type: str) -> None:
        self._fs[volume.index] = _FsLocator(
            self._volume_address(volume), fs_type, volume.offset, volume.offset + volume.length
        )

    def set_allocation(self, volume: Volume, allocation: AllocationMap | None) -> None:
        self._fs[volume.index].allocation = allocation

    def add_file(
        self,
        volume: Volume,
        path: str,
        inode: int | None,
        allocated: bool,
        runs: tuple[ByteRun, ...],
        slack: tuple[ByteRun, ...],
        file_id: int | None = None,
        resident: bool = False,
    ) -> None:
        fsl = self._fs[volume.index]
        index = len(fsl.files)
        fsl.files.append(_FileRef(path, inode, allocated, file_id))
        layer = fsl.resident if resident else fsl.data if allocated else fsl.deleted
        for run in runs:
            layer.add(run.image_offset, run.length, index, run.file_offset)
        if allocated:
            for run in slack:
                fsl.slack.add(run.image_offset, run.length, index, run.file_offset)

    def file_address(
        self, volume: Volume, path: str, inode: int | None, allocated: bool
    ) -> EvidenceAddress:
        fsl = self._fs[volume.index]
        return fsl.base.then(fsl.file_step(_FileRef(path, inode, allocated, None)))

    def freeze(self) -> None:
        self._volumes.sort(key=lambda v: (v[0], v[1]))
        self._starts = [v[0] for v in self._volumes]
        for fsl in self._fs.values():
            fsl.resident.freeze()
            fsl.data.freeze()
            fsl.slack.freeze()
            fsl.deleted.freeze()

    def locate(self, offset: int) -> Location:
        i = bisect.bisect_right(self._starts, offset) - 1
        # Partitions may overlap (a Problem elsewhere); take the last volume that covers offset.
        while i >= 0:
            start, end, volume, mode = self._volumes[i]
            if start <= offset < end:
                if mode == "fs":
                    return self._fs[volume.index].locate(offset)
                address = self._volume_address(volume)
                if mode == "gap":
                    return Location(LocationClass.UNPARTITIONED, address)
                return Location(LocationClass.RAW, address.then(step("raw", "raw volume")))
            i -= 1
        return Location(
            LocationClass.UNPARTITIONED,
            EvidenceAddress((self.image_step, step("gap", "outside every volume"))),
        )
