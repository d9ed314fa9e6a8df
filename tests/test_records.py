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


def test_written_out_to_dict_of_print_jobs_and_events_matches_the_fields() -> None:
    """PrintJob and TimelineEvent write their dicts out for speed; they must hold every field."""
    import dataclasses

    from forensics.records import (
        FieldSource,
        FieldValue,
        JobLink,
        PrintJob,
        Record,
        TimelineEvent,
    )

    link = JobLink("J1", "wrapper", "first artefact", "pjl", ("pjl",), "allocated", "/a", 3)
    source = FieldSource("J1", "pjl", "metadata.user", "img > p1")
    job = PrintJob(
        "P1", None, "u", None, None, None, 1, None, "spooled", "complete", "allocated",
        (link,), {"user": (FieldValue("u", source),)}, ("user",),
    )  # fmt: skip
    event = TimelineEvent("2024-01-01T00:00:00.000000Z", 1, "File modified", "m", "file")
    for record in (job, event):
        generic = Record.to_dict(record)
        assert record.to_dict() == generic
        assert set(generic) == {f.name for f in dataclasses.fields(record)}
