"""Carving, end to end: jobs that linger only in free blocks, slack, or a medium without a file
system are recovered byte for byte, with their location, completeness and (where the directory
entry survives) the deleted file they were.

Images come from real tools (fixtures/carving.py: mke2fs -d + debugfs, mkfs.vfat + mtools,
split, dd) and the jobs from Ghostscript; the expected offsets from debugfs/mtools metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yara

from fixtures import carving, secrets
from fixtures.carving import CarvingImage, Placed
from forensics.carve import CARVE_NAMESPACE, Carver, candidates_in, carve_rules, find_candidates
from forensics.cli import main
from forensics.detect.rules import RuleSet, load_rules
from forensics.detect.scanner import Detector
from forensics.evidence.address import EvidenceAddress
from forensics.evidence.locate import Location
from forensics.records import LocationClass
from forensics.report.json_report import write_report
from forensics.scan import ScanOptions, open_evidence, run_record, scan_image, utc_now
from forensics.store import CaseStore

pytestmark = pytest.mark.skipif(
    not all(__import__("shutil").which(t) for t in ("gs", "mke2fs", "debugfs", "mkfs.vfat")),
    reason="fixture tools missing (make setup installs them)",
)


def _scan(image: Path, out: Path, chunk_size: int | None = None) -> dict[str, Any]:
    if chunk_size is None:
        assert main(["scan", str(image), "-o", str(out), "-q"]) in (0, 1)
        return json.loads((out / "report.json").read_text())
    rules = load_rules()
    run = run_record("pfa scan test", rules, utc_now())
    out.mkdir(parents=True, exist_ok=True)
    with CaseStore(out / "case.sqlite") as store, open_evidence(image) as opened:
        run_id = store.start_run(run)
        options = ScanOptions(rules, chunk_size=chunk_size)
        result = scan_image(opened, options, store, run_id)
        write_report(store, run, result.image_id, out / "report.json", False)
    return json.loads((out / "report.json").read_text())


def _top_jobs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [j for j in report["jobs"] if j["parent_job_id"] is None]


def _job_at(report: dict[str, Any], offset: int) -> dict[str, Any]:
    found = [j for j in _top_jobs(report) if j["image_offset"] == offset]
    assert len(found) == 1, (offset, [(j["image_offset"], j["format"]) for j in _top_jobs(report)])
    return found[0]


def _medium_bytes(paths: tuple[Path, ...] | Path, offset: int, length: int) -> bytes:
    segments = paths if isinstance(paths, tuple) else (paths,)
    whole = b"".join(p.read_bytes() for p in segments)
    return whole[offset : offset + length]


def _assert_recovered(report: dict[str, Any], placed: Placed, fmt: str, cls: str) -> dict:
    job = _job_at(report, placed.image_offset)
    assert job["format"] == fmt
    assert job["carved"] is True
    assert job["location_class"] == cls
    assert job["length"] == len(placed.data)
    assert job["sha256"] == placed.sha256
    assert job["address"]["chain"][-2]["kind"] == "carve"
    assert job["byte_runs"] == [
        {"image_offset": placed.image_offset, "length": len(placed.data), "file_offset": 0}
    ]
    return job


@pytest.fixture(scope="module")
def ext4(tmp_path_factory: pytest.TempPathFactory) -> tuple[CarvingImage, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("ext4-carving")
    built = carving.build_ext4_carving(out / "img")
    before = hashlib.sha256(built.path.read_bytes()).hexdigest()
    report = _scan(built.path, out / "case")
    report["__case__"] = str(out / "case")
    return built, report, before


def test_kernel_deleted_job_recovered_and_named_by_its_directory_entry(ext4: Any) -> None:
    built, report, _ = ext4
    job = _assert_recovered(report, built.jobs["payroll"], "pjl", "unallocated")
    assert job["complete"] is True
    assert job["metadata"]["job_name"] == "payroll"
    assert job["metadata"]["user"] == "hr-clerk"
    assert job["deleted_file"] == {
        "path": "/spool/payroll.prn",
        "inode": built.inodes["payroll"],
        "size": 0,
        "matched_by": "name",
    }
    assert job["path"] == "/spool/payroll.prn"
    assert any("recovered by carving" in note for note in job["notes"])
    # The PCL XL payload inside was parsed too, as a child of the carved job.
    children = [j for j in report["jobs"] if j["parent_job_id"] == job["job_id"]]
    assert [c["format"] for c in children] == ["pclxl"]
    assert children[0]["carved"] is True


def test_deleted_job_with_kept_size_matched_by_size(ext4: Any) -> None:
    built, report, _ = ext4
    job = _assert_recovered(report, built.jobs["quarterly"], "pjl", "unallocated")
    assert job["deleted_file"]["path"] == "/spool/00017.prn"
    assert job["deleted_file"]["matched_by"] == "size"


def test_job_written_to_free_blocks_without_inode(ext4: Any) -> None:
    built, report, _ = ext4
    job = _assert_recovered(report, built.jobs["nofile"], "pjl", "unallocated")
    assert job["complete"] is True
    assert job["deleted_file"] is None and job["path"] is None
    assert job["metadata"]["job_name"] == "board-minutes"
    assert job["metadata"]["user"] == "secretary"


def test_job_with_overwritten_head_recovered_from_its_tail(ext4: Any) -> None:
    built, report, _ = ext4
    surviving = built.jobs["tail-surviving"]
    job = _job_at(report, surviving.image_offset)
    assert job["carved"] is True and job["complete"] is False
    assert job["length"] == len(surviving.data)
    assert job["sha256"] == surviving.sha256
    assert job["metadata"]["job_name"] == "settlement"  # from the surviving @PJL EOJ NAME
    assert any("head overwritten" in note for note in job["notes"])
    assert "tail" in job["address"]["chain"][-2]["label"]


def test_carved_copy_of_allocated_job_is_linked_not_reported_twice(ext4: Any) -> None:
    built, report, _ = ext4
    keep, copy = built.jobs["keep"], built.jobs["keep-copy"]
    original = _job_at(report, keep.image_offset)
    assert original["location_class"] == "allocated" and original["carved"] is False
    assert original["byte_runs"] == [
        {"image_offset": keep.image_offset, "length": len(keep.data), "file_offset": 0}
    ]
    assert [
        (c["image_offset"], c["length"], c["location_class"]) for c in original["carved_copies"]
    ] == [(copy.image_offset, len(copy.data), "unallocated")]
    assert not [j for j in _top_jobs(report) if j["image_offset"] == copy.image_offset]
    assert len([j for j in _top_jobs(report) if j["sha256"] == keep.sha256]) == 1


def test_carving_reports_nothing_else_and_leaves_evidence_unchanged(ext4: Any) -> None:
    built, report, before = ext4
    expected = {built.jobs[k].image_offset for k in ("payroll", "quarterly", "nofile", "keep")} | {
        built.jobs["tail-surviving"].image_offset
    }
    assert {j["image_offset"] for j in _top_jobs(report)} == expected
    assert report["summary"]["jobs_by_format_and_location"]
    assert hashlib.sha256(built.path.read_bytes()).hexdigest() == before


def test_pfa_jobs_lists_carved_jobs(ext4: Any, capsys: pytest.CaptureFixture[str]) -> None:
    built, report, _ = ext4
    case = Path(report["__case__"])
    assert main(["jobs", str(case), "--artefacts", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    carved = {j["image_offset"] for j in jobs if j["carved"] and j["parent_job_id"] is None}
    assert built.jobs["payroll"].image_offset in carved
    assert built.jobs["keep-copy"].image_offset not in carved


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[CarvingImage, dict[str, Any]]:
    out = tmp_path_factory.mktemp("split-carving")
    built = carving.build_split_carving(out / "img")
    # 64 KiB chunks: the PWG raster job (≈125 KiB) is followed across chunks, the PDF crosses
    # both a chunk and the segment boundary.
    return built, _scan(built.path, out / "case", chunk_size=64 * 1024)


def test_job_straddling_split_segments(split: Any) -> None:
    built, report = split
    pdf = built.jobs["pdf"]
    assert pdf.image_offset < 4 * 1024 * 1024 < pdf.image_offset + len(pdf.data)
    job = _assert_recovered(report, pdf, "pdf", "raw")
    assert job["complete"] is True
    assert _medium_bytes(built.segments, pdf.image_offset, len(pdf.data)) == pdf.data


def test_fax_tiff_and_long_raster_job_carved_whole(split: Any) -> None:
    built, report = split
    fax = _assert_recovered(report, built.jobs["fax"], "tiff", "raw")
    assert fax["complete"] is True and fax["pages"] == 1
    raster = _assert_recovered(report, built.jobs["raster"], "pwg-raster", "raw")
    assert raster["complete"] is True and raster["pages"] == 1
    assert len(built.jobs["raster"].data) > 64 * 1024  # longer than a chunk


def test_job_cut_off_by_end_of_medium_is_a_fragment(split: Any) -> None:
    built, report = split
    surviving = built.jobs["cut-surviving"]
    job = _job_at(report, surviving.image_offset)
    assert job["carved"] is True and job["complete"] is False
    assert job["length"] == len(surviving.data)
    assert job["sha256"] == surviving.sha256
    assert job["metadata"]["job_name"] == "cutoff"
    assert any("medium ends" in note for note in job["notes"])


def test_default_chunking_gives_the_same_jobs(split: Any, tmp_path: Path) -> None:
    built, report = split
    again = _scan(built.path, tmp_path / "case")

    def key(r: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted((j["image_offset"], j["length"], j["sha256"]) for j in _top_jobs(r))

    assert key(again) == key(report)


def test_job_in_fat_cluster_slack(tmp_path: Path) -> None:
    built = carving.build_fat_slack_carving(tmp_path / "img")
    report = _scan(built.path, tmp_path / "case")
    job = _assert_recovered(report, built.jobs["slack"], "pjl", "slack")
    assert job["metadata"]["job_name"] == "memo" and job["metadata"]["user"] == "jdoe"
    assert job["address"]["chain"][-3]["kind"] == "slack"


# --------------------------------------------------------------------------- the Carver alone


def _free(offset: int) -> Location:
    return Location(LocationClass.UNALLOCATED, EvidenceAddress())


def _carve(medium: bytes, chunk: int) -> Carver:
    carver = Carver(len(medium), _free)
    for pos in range(0, len(medium), chunk):
        core = memoryview(medium)[pos : pos + chunk]
        lead = max(0, pos - 4096)
        buf = medium[lead : pos + chunk + 4096]
        accept_end = None if pos + chunk >= len(medium) else pos - lead + len(core)
        found, dropped = find_candidates(buf, lead, pos - lead, accept_end)
        carver.feed(pos, core, found, dropped)
    carver.finish()
    return carver


def test_nested_signatures_are_not_carved_twice() -> None:
    """A PJL job holding PostScript holding '%PDF-' text: one region, the outer job."""
    inner = b"%!PS-Adobe-3.0\n(%PDF-1.4 in a string) show showpage\n%%EOF\n"
    job = (
        carving.UEL + b'@PJL JOB NAME="x"\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n' + inner
        + carving.UEL + b'@PJL EOJ NAME="x"\r\n' + carving.UEL
    )  # fmt: skip
    medium = bytes(8192) + job + bytes(8192)
    regions = _carve(medium, 4096).regions
    assert [(r.format, r.image_offset, r.length, r.complete) for r in regions] == [
        ("pjl", 8192, len(job), True)
    ]


def test_hostile_candidates_are_bounded() -> None:
    """Thousands of bare signatures in random bytes: no crash, no region without a parse."""
    import random

    rng = random.Random(7)
    noise = bytearray(rng.randbytes(1024 * 1024))
    for _ in range(3000):
        at = rng.randrange(len(noise) - 16)
        noise[at : at + 5] = rng.choice(
            [b"%PDF-", b"II*\x00\x08", b"\xff\xd8\xff\xe0\x00", b"PK\x03\x04\x14"]
        )
    carver = _carve(bytes(noise), 64 * 1024)
    assert carver.candidates_seen >= 2500  # some placements overlap
    for region in carver.regions:
        assert 0 < region.length <= 32 * 1024 * 1024
        assert region.image_offset + region.length <= len(noise)


# --------------------------------------------------------------------------- every carvable format

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def _ghostscript(device: str, tmp_path: Path, *extra: str) -> bytes:
    page = carving._postscript("carve me", ["Carving test page", "Account 4711"])
    return carving.ghostscript(device, page, tmp_path, *extra)


def _carvable_objects(tmp_path: Path) -> dict[str, bytes]:
    """One instance of each carvable format, from a real producer where Linux has one."""
    from tests.formats import spec_builders
    from tests.formats import winspool_builders as wb

    page = wb.build_emf(wb.text_page(["Carved spool page"]), document="carve.docx")
    objects = {
        "postscript": _ghostscript("ps2write", tmp_path),
        "jpeg": _ghostscript("jpeggray", tmp_path, "-r50"),
        "cups-raster": _ghostscript("cups", tmp_path, "-r50"),
        "urf": _ghostscript("urf", tmp_path, "-r50"),
        "pclxl": _ghostscript("pxlcolor", tmp_path, "-r75")[len(carving.UEL) :],
        "emfspool": wb.build_spool("carve.docx", "IP_10.0.0.5", [page, page]),
        "shd": wb.build_shd(
            signature=0x5123,
            wide=True,
            job_id=17,
            strings={
                "user": "carol",
                "document": "carve.docx",
                "printer": "HR-MFP",
                "computer": "\\\\HR-PC",
                "datatype": "NT EMF 1.008",
            },
            submitted=(2024, 3, 0, 12, 9, 30, 0, 0),
            pages=2,
            spl_size=4096,
        ),
        "lpd-control": spec_builders.lpd_control_file(
            [
                ("H", "ws7"),
                ("P", "jdoe"),
                ("J", "carve"),
                ("l", "dfA017ws7"),
                ("U", "dfA017ws7"),
                ("N", "carve.txt"),
            ]
        ),
    }
    # pxlcolor output starts "UEL @PJL ..."; from the PCL XL stream header on it is PCL XL.
    objects["pclxl"] = objects["pclxl"][objects["pclxl"].index(b") HP-PCL XL;") :]
    objects["pclxl"] = objects["pclxl"][: objects["pclxl"].rindex(carving.UEL)]
    ipp = SAMPLES / "plaso" / "mac_cups_ipp"
    if ipp.is_file():
        objects["cups-control"] = ipp.read_bytes()
    return objects


def test_every_carvable_format_is_carved_whole(tmp_path: Path) -> None:
    objects = _carvable_objects(tmp_path)
    medium = bytearray(64 * 1024)
    placed: dict[str, tuple[int, int]] = {}
    for name, data in objects.items():
        offset = len(medium)
        medium += data + bytes(-len(data) % 4096 + 8192)
        placed[name] = (offset, len(data))
    regions = _carve(bytes(medium), 64 * 1024).regions
    found = {r.format: (r.image_offset, r.length, r.complete) for r in regions}
    for name, (offset, length) in placed.items():
        start, carved, complete = found[name]
        assert (start, complete) == (offset, True), (name, found[name], offset, length)
        # A shadow file ends at the last byte its header points at: the 4-byte alignment
        # padding after its last string is not part of it.
        assert carved == length or (name == "shd" and 0 < length - carved < 4), (name, carved)
        assert not any(medium[offset + carved : offset + length])
    assert len(regions) == len(placed), [(r.format, r.image_offset) for r in regions]


def test_one_joined_yara_pass_finds_what_two_passes_find() -> None:
    """The stream matches the detection and carve rules in one YARA pass (RuleSet.joined); the
    split of its matches gives the same detections and candidates as a pass of each set."""

    job = (
        carving.UEL + b'@PJL JOB NAME="x"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE'
        + f"SSN {secrets.SSN} mail {secrets.EMAIL}".encode() + b"\x1bE" + carving.UEL
    )  # fmt: skip
    buf = bytes(4096) + job + b"%!PS-Adobe-3.0\n%%EOF\n" + bytes(4096)
    rules = load_rules()
    joined = rules.joined(CARVE_NAMESPACE, carve_rules().source)
    matches = joined.match(data=buf)
    assert {m.namespace == CARVE_NAMESPACE for m in matches} == {True, False}
    detector = Detector(rules)
    searched = [m for m in matches if m.namespace != CARVE_NAMESPACE]
    carving_matches = [m for m in matches if m.namespace == CARVE_NAMESPACE]
    alone_found = detector.scan(buf, 100)
    assert {d.rule for d in alone_found} >= {"pii_ssn_formatted", "pii_email"}
    assert detector.scan(buf, 100, matches=searched) == alone_found
    alone = find_candidates(buf, 100, 0, None)
    assert alone[0] and candidates_in(carving_matches, buf, 100, 0, None) == alone
    with pytest.raises(ValueError, match="taken"):
        rules.joined(rules.sources[0][0], carve_rules().source)


def test_rules_that_cannot_be_joined_are_matched_in_two_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the joined rule set does not compile, the stream falls back to one YARA pass per rule
    set and recovers the same jobs and findings."""
    built = carving.build_ext4_carving(tmp_path / "built")
    joined = _scan(built.path, tmp_path / "joined")

    def cannot_join(self: RuleSet, namespace: str, source: str) -> yara.Rules:
        raise yara.Error("cannot join")

    monkeypatch.setattr(RuleSet, "joined", cannot_join)
    apart = _scan(built.path, tmp_path / "apart")
    assert any(job["carved"] for job in _top_jobs(joined))
    for key in ("jobs", "findings", "problems"):
        assert apart[key] == joined[key], key
