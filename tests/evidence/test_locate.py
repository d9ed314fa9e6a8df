"""Locator precedence: allocated data > slack > deleted > bitmap, and gaps/raw volumes."""

from __future__ import annotations

import numpy as np

from forensics.evidence.allocation import _from_bool_array
from forensics.evidence.disk import Volume
from forensics.evidence.locate import Locator, _Layer
from forensics.records import ByteRun, LocationClass


def test_layer_returns_the_covering_range_with_the_greatest_start() -> None:
    layer = _Layer()
    layer.add(0, 100, 0, 0)  # a long range
    layer.add(10, 5, 1, 1000)  # nested inside it
    layer.add(200, 10, 2, 0)
    layer.freeze()
    assert layer.find(12) == (1, 1002)
    assert layer.find(50) == (0, 50)  # past the nested range, still inside the long one
    assert layer.find(150) is None
    assert layer.find(209) == (2, 9) and layer.find(210) is None


def _volume(index: int, kind: str, offset: int, length: int) -> Volume:
    return Volume(index, kind, "mbr", offset, length, length, str(index), "0x83", None, None)


def test_precedence_inside_a_file_system() -> None:
    gap, part = _volume(0, "gap", 0, 1000), _volume(1, "partition", 1000, 9000)
    locator = Locator("disk.dd", 10000)
    locator.add_volume(gap, "gap")
    locator.add_volume(part, "fs")
    locator.add_filesystem(part, "ext2")
    # A deleted file whose first block was reallocated to an allocated file.
    locator.add_file(part, "/old.prn", 12, False, (ByteRun(2000, 2048, 0),), ())
    locator.add_file(
        part, "/new.txt", 13, True, (ByteRun(2000, 100, 0),), (ByteRun(2100, 924, 100),)
    )
    allocated = np.ones(9, dtype=bool)
    allocated[1:4] = False  # units 1000-byte wide: [2000, 5000) free
    locator.set_allocation(part, _from_bool_array(1000, 1000, allocated, "test"))
    locator.freeze()
    assert locator.locate(500).location_class is LocationClass.UNPARTITIONED
    hit = locator.locate(2050)
    assert (hit.location_class, hit.path, hit.file_offset) == (
        LocationClass.ALLOCATED,
        "/new.txt",
        50,
    )
    slack = locator.locate(2500)
    assert (slack.location_class, slack.path, slack.file_offset) == (
        LocationClass.SLACK,
        "/new.txt",
        500,
    )
    deleted = locator.locate(3500)
    assert (deleted.location_class, deleted.path, deleted.file_offset) == (
        LocationClass.DELETED,
        "/old.prn",
        1500,
    )
    assert locator.locate(4500).location_class is LocationClass.UNALLOCATED
    metadata = locator.locate(1500)
    assert metadata.location_class is LocationClass.ALLOCATED and metadata.path is None
    assert "metadata" in str(metadata.address)
    assert (
        str(deleted.address.at(3500, 4))
        == "disk.dd > p1@1000 > ext2 inode 12 /old.prn (deleted) > @0xdac+4"
    )
