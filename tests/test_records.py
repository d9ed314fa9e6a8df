"""Records serialise the way docs/report-schema.md says."""

from __future__ import annotations

import dataclasses

from forensics.evidence.address import EvidenceAddress, step
from forensics.records import Finding, LocationClass, Record, _plain


def test_finding_to_dict_matches_the_generic_form() -> None:
    address = EvidenceAddress((step("image", "x.dd", size=10), step("gap", "gap@0"))).at(5, 3)
    finding = Finding(
        rule="r",
        category="pii",
        severity="high",
        description="d",
        value_masked="***",
        value_sha256="0" * 64,
        context_masked="c",
        location_class=LocationClass.UNPARTITIONED,
        image_offset=5,
        length=3,
        encoding="ascii",
        address=address,
        path=None,
        inode=None,
    )
    generic = Record.to_dict(finding)
    assert finding.to_dict() == generic == _plain(finding)
    assert set(generic) == {f.name for f in dataclasses.fields(Finding)}
    assert generic["address"]["text"] == "x.dd > gap@0 > @0x5+3"
    assert generic["address"]["chain"][-1] == {
        "kind": "offset",
        "label": "@0x5+3",
        "length": 3,
        "image_offset": 5,
    }
