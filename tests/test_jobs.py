"""Jobs end to end: real print data (groff -Tlj4 PCL inside a PJL job) as a loose file and inside
an ext2 image with the job deleted; pfa jobs and pfa extract as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import secrets
from fixtures.tools import debugfs, make_ext

PROJECT = Path(__file__).resolve().parent.parent
UEL = b"\x1b%-12345X"
SENTENCE = f"Patient Name: Jane Example, SSN {secrets.SSN} was admitted on Tuesday."


def pfa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def pjl_job(tmp_path: Path, job_name: str = "payroll.docx") -> bytes:
    """A PJL job around real PCL 5 from groff -Tlj4, as a Windows driver would send it."""
    source = tmp_path / "doc.ms"
    source.write_text(f".LP\nQuarterly report\n.LP\n{SENTENCE}\n")
    pcl = subprocess.run(
        ["groff", "-ms", "-Tlj4", str(source)], check=True, capture_output=True
    ).stdout
    header = (
        UEL
        + b"@PJL JOB NAME=\"" + job_name.encode("latin-1") + b"\"\r\n"
        + b"@PJL SET USERNAME=\"jdoe\"\r\n"
        + b"@PJL SET JOBNAME=\"" + job_name.encode("latin-1") + b"\"\r\n"
        + b"@PJL SET HOLD=ON\r\n@PJL SET HOLDTYPE=PRIVATE\r\n@PJL SET HOLDKEY=\"4711\"\r\n"
        + b"@PJL ENTER LANGUAGE=PCL\r\n"
    )  # fmt: skip
    return header + pcl + UEL + b'@PJL EOJ NAME="' + job_name.encode("latin-1") + b'"\r\n' + UEL


@pytest.fixture
def loose_job(tmp_path: Path) -> Path:
    path = tmp_path / "00017.prn"
    path.write_bytes(pjl_job(tmp_path))
    return path


def spool_image(
    tmp_path: Path, files: dict[str, bytes], size: int, deleted: tuple[str, ...] = ()
) -> Path:
    """An ext2 image (``mke2fs -d`` through fixtures.tools.make_ext) holding ``files``, with
    the files in ``deleted`` then removed by debugfs."""
    image = tmp_path / "spool.img"
    make_ext(
        image,
        size,
        files,
        fstype="ext2",
        block_size=1024,
        label="spool",
        uuid="6f1c0b8e-0000-4000-8000-000000000011",
        work=tmp_path,
    )
    for path in deleted:
        debugfs(image, f"rm {path}", write=True, work=tmp_path)
    return image


def test_loose_pjl_job_is_parsed_and_its_text_scanned(loose_job: Path, tmp_path: Path) -> None:
    done = pfa("scan", str(loose_job), "-o", str(tmp_path / "out"), "-q", "--reveal")
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["image"]["format"] == "file"
    pjl = next(j for j in report["jobs"] if j["format"] == "pjl")
    assert pjl["metadata"]["user"] == "jdoe"
    assert pjl["metadata"]["job_name"] == "payroll.docx"
    assert pjl["metadata"]["hold"] == "PRIVATE"
    assert pjl["metadata"]["pin_masked"] == "********" and pjl["metadata"]["pin"] == "4711"
    pcl = next(j for j in report["jobs"] if j["format"] == "pcl5")
    assert pcl["parent_job_id"] == pjl["job_id"] and pcl["format_chain"] == ["pjl", "pcl5"]
    assert pcl["file_offset"] > 0 and pcl["length"] > 0
    # groff puts cursor moves between words: only the decoded text holds the patient's name.
    name = [f for f in report["findings"] if f["value"] == "Jane Example"]
    assert name and name[0]["job_id"] == pcl["job_id"] and name[0]["image_offset"] is None
    assert "pcl5 job" in name[0]["address"]["text"]
    # The SSN is plain in the raw bytes: reported once, with its exact offset in the file.
    ssn = [f for f in report["findings"] if f["value"] == secrets.SSN]
    assert len(ssn) == 1 and ssn[0]["stream_offset"] == loose_job.read_bytes().index(
        secrets.SSN.encode()
    )
    assert report["summary"]["jobs_by_format_and_location"]["pjl"] == {"allocated": 1}


def test_masked_pin_without_reveal(loose_job: Path, tmp_path: Path) -> None:
    pfa("scan", str(loose_job), "-o", str(tmp_path / "out"), "-q")
    text = (tmp_path / "out" / "report.json").read_text()
    report = json.loads(text)
    pjl = next(j for j in report["jobs"] if j["format"] == "pjl")
    assert "pin" not in pjl["metadata"] and pjl["metadata"]["pin_masked"] == "********"
    assert "Jane Example" not in text


def test_jobs_and_extract_commands(loose_job: Path, tmp_path: Path) -> None:
    listed = pfa("jobs", str(loose_job), "--artefacts", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    pcl = next(j for j in jobs if j["format"] == "pcl5")
    # One print job: the PJL wrapper (user, hold) and its PCL payload (pages) together.
    table = pfa("jobs", str(loose_job))
    assert "print jobs (1)" in table.stdout
    assert "jdoe" in table.stdout and "held" in table.stdout and "payroll.docx" in table.stdout
    objects = pfa("jobs", str(loose_job), "--artefacts")
    assert "pjl>pcl5" in objects.stdout
    out = tmp_path / "extracted"
    done = pfa("extract", str(loose_job), "--job", pcl["job_id"], "-o", str(out))
    assert done.returncode == 0, done.stderr
    files = {p.suffix: p for p in out.iterdir()}
    raw = files[".bin"].read_bytes()
    assert raw.startswith(b"\x1bE") or raw.startswith(b"\x1b")  # the PCL payload itself
    assert raw == loose_job.read_bytes()[pcl["file_offset"] : pcl["file_offset"] + pcl["length"]]
    # The decoded text keeps its words; the values the rules confirm stay masked…
    text = files[".txt"].read_text()
    assert "Patient Name: J*** E******, SSN ***-**-8714 was admitted" in text
    # …unless the examiner asks for them.
    revealed = tmp_path / "revealed"
    done = pfa("extract", str(loose_job), "--job", pcl["job_id"], "-o", str(revealed), "--reveal")
    assert done.returncode == 0, done.stderr
    (text_file,) = revealed.glob("*.txt")
    assert SENTENCE in text_file.read_text()
    assert json.loads(files[".json"].read_text())["job_id"] == pcl["job_id"]
    unknown = pfa("extract", str(loose_job), "--job", "Jnope", "-o", str(out))
    assert unknown.returncode == 2 and "no job Jnope" in unknown.stderr


def test_extract_names_are_safe(tmp_path: Path) -> None:
    hostile = tmp_path / "job.prn"
    hostile.write_bytes(pjl_job(tmp_path, job_name="../../etc/passwd\x01x"))
    jobs = json.loads(pfa("jobs", str(hostile), "--artefacts", "--json").stdout)
    pjl = next(j for j in jobs if j["format"] == "pjl")
    out = tmp_path / "x"
    assert pfa("extract", str(hostile), "--job", pjl["job_id"], "-o", str(out)).returncode == 0
    for written in out.iterdir():
        assert written.parent == out
        assert "/" not in written.name and ".." not in written.name
        assert all(c.isalnum() or c in "._-" for c in written.name)


def test_deleted_job_in_an_image(tmp_path: Path) -> None:
    """A PJL job spooled to ext2 and deleted: the job is recovered, class deleted, with path."""
    image = spool_image(
        tmp_path, {"spool/00017.prn": pjl_job(tmp_path)}, 4 << 20, deleted=("/spool/00017.prn",)
    )
    jobs = json.loads(pfa("jobs", str(image), "--artefacts", "--json").stdout)
    pjl = next(j for j in jobs if j["format"] == "pjl")
    assert pjl["location_class"] == "deleted" and pjl["path"] == "/spool/00017.prn"
    assert pjl["metadata"]["user"] == "jdoe"
    assert pjl["image_offset"] is not None and pjl["findings"] >= 1
    assert image.read_bytes()[pjl["image_offset"] : pjl["image_offset"] + 9] == UEL


SHD_SAMPLE = PROJECT.parent / "shared" / "samples" / "safebreach" / "00002.SHD"


@pytest.mark.skipif(not SHD_SAMPLE.exists(), reason="shared sample 00002.SHD not present")
def test_spool_folder_pairs_shadow_and_spool_files(tmp_path: Path) -> None:
    """A copied spool\\PRINTERS folder: the real 00002.SHD pairs with its 00002.SPL (EMF spool)."""
    import shutil

    sys.path.insert(0, str(PROJECT / "tests" / "formats"))
    from winspool_builders import build_emf, build_spool, text_page

    printers = tmp_path / "PRINTERS"
    printers.mkdir()
    shutil.copyfile(SHD_SAMPLE, printers / "00002.SHD")
    page = build_emf(text_page([SENTENCE]))
    (printers / "00002.SPL").write_bytes(build_spool("Untitled", "LPT1:", [page]))
    done = pfa("scan", str(printers), "-o", str(tmp_path / "out"), "-q", "--reveal")
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    shd = next(j for j in report["jobs"] if j["format"] == "shd")
    spl = next(j for j in report["jobs"] if j["format"] == "emfspool")
    assert shd["paired_with"] == [spl["job_id"]] and spl["paired_with"] == [shd["job_id"]]
    assert shd["metadata"]["host"] == "P-B0X" and shd["metadata"]["user"] == "SYSTEM"
    assert spl["path"] == "/00002.SPL" and spl["pages"] == 1
    # The EMF text is UTF-16 in the raw bytes and whole only in the decoded page text.
    names = [f for f in report["findings"] if f["value"] == "Jane Example"]
    assert names and names[0]["job_id"] == spl["job_id"]


def test_a_foreign_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    foreign = tmp_path / "device.sqlite"  # printers keep SQLite databases of their own
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE jobs (id INTEGER)")
    db.commit()
    db.close()
    before = hashlib.sha256(foreign.read_bytes()).hexdigest()
    done = pfa("jobs", str(foreign))
    assert done.returncode == 2 and "not a pfa case database" in done.stderr
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == before
    assert not (tmp_path / "device.sqlite-wal").exists()


def test_extract_from_an_earlier_scan_in_another_folder(loose_job: Path, tmp_path: Path) -> None:
    out = tmp_path / "case"
    assert pfa("scan", str(loose_job), "-o", str(out), "-q").returncode == 1
    jobs = json.loads(pfa("jobs", str(out), "--artefacts", "--json").stdout)
    pjl = next(j for j in jobs if j["format"] == "pjl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-m", "forensics", "extract", str(out), "--job", pjl["job_id"], "-o", "x"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (raw,) = (elsewhere / "x").glob("*.bin")
    assert raw.read_bytes() == loose_job.read_bytes()


def test_output_folder_inside_the_evidence_folder_is_not_scanned(tmp_path: Path) -> None:
    evidence = tmp_path / "spool"
    evidence.mkdir()
    (evidence / "note.txt").write_text(f"SSN {secrets.SSN}\n")
    assert pfa("scan", str(evidence), "-o", str(evidence / "out"), "-q").returncode == 1
    report = json.loads((evidence / "out" / "report.json").read_text())
    assert report["summary"]["files"] == 1


def test_a_damaged_job_is_kept_and_is_a_problem(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pdf"
    sample = PROJECT.parent / "shared" / "samples" / "cups" / "testfile.pdf"
    if not sample.exists():
        pytest.skip("shared sample testfile.pdf not present")
    cut.write_bytes(sample.read_bytes()[:40000])  # the tail (xref, trailer) is gone
    done = pfa("scan", str(cut), "-o", str(tmp_path / "out"), "-q")
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (pdf,) = [j for j in report["jobs"] if j["format"] == "pdf"]
    assert pdf["complete"] is False and pdf["texts"]
    damaged = [p for p in report["problems"] if p["code"] == "damaged-job"]
    assert damaged and pdf["job_id"] in damaged[0]["message"]


PWG_SAMPLE = PROJECT.parent / "shared" / "samples" / "cups" / "onepage-letter-300-black-1.pwg"


@pytest.mark.skipif(not PWG_SAMPLE.exists(), reason="shared PWG sample not present")
def test_extract_writes_raster_pages_as_png(tmp_path: Path) -> None:
    from PIL import Image

    jobs = json.loads(pfa("jobs", str(PWG_SAMPLE), "--artefacts", "--json").stdout)
    (job,) = jobs
    assert (
        pfa(
            "extract", str(PWG_SAMPLE), "--job", job["job_id"], "-o", str(tmp_path / "x")
        ).returncode
        == 0
    )
    (png,) = (tmp_path / "x").glob("*-page-001.png")
    with Image.open(png) as page:
        assert page.size == (2550, 3300)
        gray = page.convert("L")
        histogram = gray.histogram()
        white, black = histogram[255], histogram[0]
        assert white > black > 0  # a printed page: mostly paper, some ink (black on white)
        assert gray.getpixel((10, 10)) == 255  # the margin is white, not inverted


def test_extract_writes_fax_pages_as_png(tmp_path: Path) -> None:
    doc = tmp_path / "fax.ps"
    doc.write_text("%!PS\n/Helvetica findfont 24 scalefont setfont\n"
                   "72 700 moveto (Fax page one) show showpage\n"
                   "72 700 moveto (Fax page two) show showpage\n")  # fmt: skip
    fax = tmp_path / "fax.tif"
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=tiffg4", f"-sOutputFile={fax}", str(doc)],
        check=True,
    )
    (job,) = json.loads(pfa("jobs", str(fax), "--artefacts", "--json").stdout)
    assert job["format"] == "tiff" and job["pages"] == 2
    assert (
        pfa("extract", str(fax), "--job", job["job_id"], "-o", str(tmp_path / "x")).returncode == 0
    )
    assert len(list((tmp_path / "x").glob("*-page-*.png"))) == 2


def test_job_files_found_the_same_while_yara_runs_as_by_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk only queues user files; their heads are sniffed for job formats while the YARA
    threads match (small chunks: many waits), or by the walk itself past MAX_UNSNIFFED. Either
    way the same job files are parsed, in the walk's order."""
    import forensics.scan as scan_module
    from tests.test_chunking import scan_small_chunks

    job = pjl_job(tmp_path)
    files: dict[str, bytes] = {}
    for number in range(40):
        files[f"spool/{number:05d}.prn"] = job.replace(b"4711", b"%04d" % number)
        files[f"docs/note{number}.txt"] = f"note {number}\n".encode() * 50
    image = spool_image(tmp_path, files, 8 << 20)

    def job_paths(out: Path, max_unsniffed: int) -> list[str]:
        monkeypatch.setattr(scan_module, "MAX_UNSNIFFED", max_unsniffed)
        out.mkdir()
        report = scan_small_chunks(image, out)  # 64 KiB chunks: many waits on YARA
        return [j["path"] for j in report["jobs"] if j["format"] == "pjl"]

    queued = job_paths(tmp_path / "queued", scan_module.MAX_UNSNIFFED)
    by_walk = job_paths(tmp_path / "walk", 0)
    assert queued == by_walk
    assert sorted(queued) == [f"/spool/{number:05d}.prn" for number in range(40)]


def test_job_files_read_by_the_workers_are_the_ones_the_scan_would_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a raw image the worker that parses a job file reads its bytes itself; the jobs,
    findings and print jobs are those of the scan reading every file and sending it over,
    deleted files (read through the runs TSK still knows) included."""
    from forensics.cli import main
    from forensics.evidence.image import RawImage

    files = {
        f"spool/{number:05d}.prn": pjl_job(tmp_path, f"report{number}.docx") for number in range(12)
    }
    image = spool_image(tmp_path, files, 8 << 20, deleted=("/spool/00003.prn",))

    def report(out: Path) -> dict:
        assert main(["scan", str(image), "-o", str(out), "-q", "--no-pages", "--jobs", "2"]) == 1
        return json.loads((out / "report.json").read_text())

    by_workers = report(tmp_path / "workers")
    monkeypatch.setattr(RawImage, "forks_share", False)  # the scan reads and sends each file
    sent = report(tmp_path / "sent")
    for key in ("jobs", "findings", "print_jobs", "problems"):
        assert by_workers[key] == sent[key], key
    assert len(by_workers["jobs"]) >= 24  # PJL wrappers and their PCL payloads
    deleted = [j for j in by_workers["jobs"] if j["location_class"] == "deleted"]
    assert [j["path"] for j in deleted if j["format"] == "pjl"] == ["/spool/00003.prn"]
    assert "read" in by_workers["image"]["profile"]["job_step_seconds"]
    assert "read" not in sent["image"]["profile"]["job_step_seconds"]


def test_a_job_file_a_worker_cannot_read_is_a_problem(tmp_path: Path) -> None:
    """The image file shrank after it was opened: the worker's read fails and the source comes
    back as unreadable (the scan records an unreadable-file Problem), nothing is raised."""
    from forensics.detect.rules import load_rules
    from forensics.detect.scanner import Detector
    from forensics.evidence.address import EvidenceAddress
    from forensics.evidence.image import RawImage
    from forensics.jobs import JobExtractor, JobSource, extract_all
    from forensics.records import ByteRun, LocationClass

    path = tmp_path / "disk.img"
    path.write_bytes(pjl_job(tmp_path) * 64)
    size = path.stat().st_size
    with RawImage(path) as opened:
        with open(path, "r+b") as shrink:  # a copy made here, never evidence
            shrink.truncate(size // 4)
        sources = [
            JobSource(
                data=b"",
                address=EvidenceAddress(),
                location_class=LocationClass.ALLOCATED,
                path=f"/job{number}.prn",
                runs=(ByteRun(size // 2, 4096, 0),),
                unread=4096,
            )
            for number in range(8)
        ]
        extractor = JobExtractor(Detector(load_rules()), reveal=False)
        results = list(extract_all(extractor, sources, len(sources), 2, opened))
    assert len(results) == 8
    for source, extracted in results:
        assert extracted.unreadable is not None and source.path in extracted.unreadable
        assert "short read" in extracted.unreadable and not extracted.jobs


def test_sources_go_to_workers_in_bounded_batches_and_come_back_in_order(tmp_path: Path) -> None:
    """Small job files share a worker task (BATCH_SOURCES at most, or until a batch holds
    BATCH_BYTES); a large one ends its batch. The results come back in the sources' order, the
    same as extracting them one by one in this process."""
    from forensics.detect.rules import load_rules
    from forensics.detect.scanner import Detector
    from forensics.evidence.address import EvidenceAddress
    from forensics.jobs import (
        BATCH_BYTES,
        BATCH_SOURCES,
        JobExtractor,
        JobSource,
        _batches,
        extract_all,
    )
    from forensics.records import LocationClass

    def source(number: int, data: bytes) -> JobSource:
        return JobSource(
            data=data,
            address=EvidenceAddress(),
            location_class=LocationClass.ALLOCATED,
            path=f"/spool/{number:05d}.prn",
            name=f"{number:05d}.prn",
        )

    small = pjl_job(tmp_path)
    large = small + b"\0" * BATCH_BYTES  # a job, then padding: past the batch bound alone
    sources = [source(n, large if n in (5, 6, 30) else small) for n in range(40)]
    batches = list(_batches(sources))
    assert [s for batch in batches for s in batch] == sources
    for batch in batches:
        assert len(batch) <= BATCH_SOURCES
        # only a batch's last source may take it to BATCH_BYTES or past
        assert sum(len(s.data) for s in batch[:-1]) < BATCH_BYTES
    assert [len(batch) for batch in batches[:3]] == [6, 1, 8]  # 0-5, 6 alone, then full

    extractor = JobExtractor(Detector(load_rules()), reveal=False)
    parallel = list(extract_all(extractor, sources, len(sources), 2))
    serial = list(extract_all(extractor, sources, len(sources), 1))
    assert [s.path for s, _ in parallel] == [s.path for s in sources]
    for (_, in_worker), (_, here) in zip(parallel, serial, strict=True):
        assert [job.to_dict() for job in in_worker.jobs] == [job.to_dict() for job in here.jobs]
        assert in_worker.texts == here.texts
        assert [f.to_dict() for f in in_worker.findings] == [f.to_dict() for f in here.findings]
    assert all(extracted.jobs for _, extracted in parallel)
