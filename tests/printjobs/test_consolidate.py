"""Print-job consolidation per job family, from real producers: Ghostscript PCL XL in a PJL job
with HP accounting attributes, plaso's real macOS CUPS control file with a Ghostscript PDF and
page_log lines, the real SafeBreach .SHD with an EMF spool file, LPD control + data files,
device job logs; conflicting, partial, carved and log-only cases. Scanned as a user runs pfa,
and read back from report.json and pfa jobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.builders import pxl_print_job
from tests.formats.spec_builders import lpd_control_file

PROJECT = Path(__file__).resolve().parents[2]
SAMPLES = PROJECT.parent / "shared" / "samples"
MAC_CUPS_IPP = SAMPLES / "plaso" / "mac_cups_ipp"
SHD_SAMPLE = SAMPLES / "safebreach" / "00002.SHD"
UEL = "\x1b%-12345X"


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


def scan(folder: Path, out: Path) -> dict[str, Any]:
    done = pfa("scan", str(folder), "-o", str(out), "-q", "--no-pages")
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report


def values(job: dict[str, Any], name: str) -> list[Any]:
    return [v["value"] for v in job["fields"].get(name, [])]


def sources(job: dict[str, Any], name: str) -> list[str]:
    return [f"{v['source']['format']} {v['source']['field']}" for v in job["fields"].get(name, [])]


def hp_driver_job(work: Path, title: str, user: str, stamp: str) -> bytes:
    """Ghostscript PCL XL wrapped in the PJL header an HP UPD driver writes: JobAcct1..5
    accounting attributes (user, machine, domain, local time, GUID) and a driver COMMENT."""
    body = pxl_print_job(work, title, user, ["Quarterly results", "Account 4471"])
    accounting = (
        f'@PJL SET JOBATTR="JobAcct1={user}"\r\n'
        '@PJL SET JOBATTR="JobAcct2=WS-FIN-07"\r\n'
        '@PJL SET JOBATTR="JobAcct3=CORP"\r\n'
        f'@PJL SET JOBATTR="JobAcct4={stamp}"\r\n'
        '@PJL SET JOBATTR="JobAcct5=0c1f3a52-9d43-4c4e-a2c1-5f0d7f1e2b11"\r\n'
        f'@PJL COMMENT "Username: {user}; App Filename: {title}.xlsx; 3-4-2024"\r\n'
    ).encode()
    head = f'{UEL}@PJL JOB NAME="{title}"\r\n'.encode()
    assert body.startswith(head)
    return head + accounting + body[len(head) :]


def test_pjl_wrapper_and_payload_are_one_job_with_accounting_fields(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "00042.prn").write_bytes(
        hp_driver_job(tmp_path, "budget", "mkeller", "20240304162011")
    )
    report = scan(spool, tmp_path / "out")
    objects = [j for j in report["jobs"]]
    assert {j["format"] for j in objects} >= {"pjl", "pclxl"}
    (job,) = report["print_jobs"]
    assert job["user"] == "mkeller" and job["host"] == "WS-FIN-07"
    assert values(job, "domain") == ["CORP"]
    assert values(job, "job_uuid") == ["0c1f3a52-9d43-4c4e-a2c1-5f0d7f1e2b11"]
    # The pages come from the PCL XL payload: the PJL wrapper has none.
    assert job["pages"] == 1 and sources(job, "pages") == ["pclxl metadata.pages"]
    # JobAcct4 is the client's local time: kept, and said to have no known zone.
    (submitted,) = job["fields"]["submitted"]
    assert submitted["value"] == "2024-03-04T16:20:11"
    assert submitted["time_zone"].startswith("unknown")
    assert submitted["source"]["field"] == "metadata.extra[client_time_local]"
    assert job["time"] == "2024-03-04T16:20:11"
    roles = {link["role"]: link for link in job["artefacts"]}
    assert roles["content"]["reason"].startswith("embedded in ")
    assert roles["content"]["format_chain"] == ["pjl", "pclxl"]
    assert job["recoverable"] == "complete" and job["state"] == "spooled"
    assert job["location"] == "allocated"


def _cups_spool(tmp_path: Path) -> Path:
    if not MAC_CUPS_IPP.exists():
        pytest.skip(f"shared sample {MAC_CUPS_IPP} not present")
    spool = tmp_path / "cups"
    spool.mkdir()
    shutil.copyfile(MAC_CUPS_IPP, spool / "c00001")
    page = tmp_path / "a.ps"
    page.write_text(
        "%!PS\n/Helvetica findfont 14 scalefont setfont\n72 700 moveto (Assignment) show\nshowpage\n"
    )
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
         f"-sOutputFile={spool / 'd00001-001'}", str(page)],
        check=True,
    )  # fmt: skip
    # page_log lines cupsd wrote for job 1 (the control file's job) and for job 2, whose
    # control and data files are gone: cupsd-logs(5) PageLogFormat of CUPS 1.5+.
    (spool / "page_log").write_text(
        "RHULBW moxilo 1 [03/Nov/2013:18:07:25 +0000] 1 1 - localhost Assignament 1 na_letter_8.5x11in one-sided\n"
        "RHULBW moxilo 1 [03/Nov/2013:18:07:28 +0000] 2 1 - localhost Assignament 1 na_letter_8.5x11in one-sided\n"
        "RHULBW moxilo 1 [03/Nov/2013:18:07:31 +0000] 3 1 - localhost Assignament 1 na_letter_8.5x11in one-sided\n"
        "RHULBW jsmith 2 [04/Nov/2013:09:15:00 +0000] 1 2 - lab-pc-3 Thesis draft na_letter_8.5x11in two-sided-long-edge\n"
    )
    return spool


def test_cups_control_data_and_page_log_lines_are_one_job(tmp_path: Path) -> None:
    report = scan(_cups_spool(tmp_path), tmp_path / "out")
    jobs = {job["user"]: job for job in report["print_jobs"]}
    assert set(jobs) == {"moxilo", "jsmith"}
    job = jobs["moxilo"]
    roles = sorted(link["role"] for link in job["artefacts"])
    assert roles == ["content", "control", "log"]
    reasons = {link["role"]: link["reason"] for link in job["artefacts"]}
    assert reasons["content"].startswith("spool pair: same spool job (cups:00001)")
    assert reasons["log"] == "log entry: same job number 1 and user and printer"
    assert job["document"] == "Assignament 1" and job["printer"] == "RHULBW"
    # Times, each with its source: IPP time-at-creation/processing/completed and the log.
    assert job["time"] == "2013-11-03T18:07:21Z"
    assert "cups-control metadata.submitted" in sources(job, "submitted")
    assert values(job, "printed")[:2] == ["2013-11-03T18:07:21Z", "2013-11-03T18:07:25Z"]
    assert sources(job, "printed")[1].startswith("cups-page-log line 1")
    assert job["pages"] == 3 and job["state"] == "printed" and job["recoverable"] == "complete"
    assert values(job, "job_uuid") == ["urn:uuid:d51116d9-143c-3863-62aa-6ef0202de49a"]
    # Job 2 is known only from its page_log line: a job with nothing to recover.
    gone = jobs["jsmith"]
    assert gone["recoverable"] == "metadata only" and gone["location"] == "log only"
    assert gone["pages"] == 2 and gone["host"] == "lab-pc-3" and gone["state"] == "printed"
    assert gone["time"] == "2013-11-04T09:15:00Z"
    (device,) = report["device_artefacts"]
    assert device["kind"] == "page log" and device["holds"]["job entries"] == 2
    assert sorted(device["print_jobs"]) == sorted(j["print_job_id"] for j in jobs.values())


@pytest.mark.skipif(not SHD_SAMPLE.exists(), reason="shared sample 00002.SHD not present")
def test_shadow_and_spool_file_are_one_job(tmp_path: Path) -> None:
    sys.path.insert(0, str(PROJECT / "tests" / "formats"))
    from winspool_builders import build_emf, build_spool, text_page

    printers = tmp_path / "PRINTERS"
    printers.mkdir()
    shutil.copyfile(SHD_SAMPLE, printers / "00002.SHD")
    page = build_emf(text_page(["Quarterly figures"]))
    (printers / "00002.SPL").write_bytes(build_spool("Untitled", "LPT1:", [page]))
    report = scan(printers, tmp_path / "out")
    (job,) = report["print_jobs"]
    assert job["user"] == "SYSTEM" and job["host"] == "P-B0X"
    assert sorted(link["role"] for link in job["artefacts"]) == ["content", "control"]
    assert "winspool:00002" in next(
        link["reason"] for link in job["artefacts"] if link["role"] == "content"
    )
    assert sources(job, "submitted") == ["shd metadata.submitted"]
    assert job["fields"]["submitted"][0]["time_zone"] == "UTC"  # SYSTEMTIME from the spooler
    assert job["pages"] == 1


def test_lpd_pair_with_conflicting_user_keeps_both_values(tmp_path: Path) -> None:
    """An LPD control file says alice; the PJL inside its data file says bob: both kept."""
    spool = tmp_path / "lpd"
    spool.mkdir()
    cf = lpd_control_file(
        [("H", "ws-7"), ("P", "alice"), ("J", "Payroll"), ("l", "dfA017ws-7"), ("N", "payroll.pcl")]
    )
    (spool / "cfA017ws-7").write_bytes(cf)
    (spool / "dfA017ws-7").write_bytes(pxl_print_job(tmp_path, "Payroll", "bob", ["Salaries"]))
    report = scan(spool, tmp_path / "out")
    (job,) = report["print_jobs"]
    assert "user" in job["conflicts"]
    assert values(job, "user") == ["alice", "bob"]  # the control file first, then the wrapper
    assert sources(job, "user") == ["lpd-control metadata.user", "pjl metadata.user"]
    assert job["user"] == "alice" and job["host"] == "ws-7"
    assert sorted(link["role"] for link in job["artefacts"]) == ["content", "control", "wrapper"]


def test_truncated_payload_is_partial(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    whole = pxl_print_job(tmp_path, "memo", "ckent", ["Line one", "Line two"])
    (spool / "00007.prn").write_bytes(whole[: len(whole) // 2])
    report = scan(spool, tmp_path / "out")
    (job,) = report["print_jobs"]
    assert job["user"] == "ckent" and job["recoverable"] == "partial"


def test_job_log_rows_join_their_job_or_stand_alone(tmp_path: Path) -> None:
    """A device job log: the row naming the spooled job (same document name and user, 3 minutes
    after the client time) joins it; the other row is a metadata-only job."""
    spool = tmp_path / "dev"
    spool.mkdir()
    (spool / "00042.prn").write_bytes(
        hp_driver_job(tmp_path, "budget", "mkeller", "20240304162011")
    )
    (spool / "joblog.csv").write_text(
        "Date,User,Document,Pages,Status\n"
        "2024-03-04 16:23:40,mkeller,budget,1,Printed\n"
        "2024-03-05 08:01:00,rbauer,Offer 2024-117.docx,4,Cancelled\n"
    )
    report = scan(spool, tmp_path / "out")
    jobs = {job["user"]: job for job in report["print_jobs"]}
    assert set(jobs) == {"mkeller", "rbauer"}
    joined = jobs["mkeller"]
    log_link = next(link for link in joined["artefacts"] if link["role"] == "log")
    assert log_link["reason"] == "log entry: same job name and user, time within 15 minutes"
    assert joined["state"] == "printed"  # the log says so
    alone = jobs["rbauer"]
    assert alone["recoverable"] == "metadata only" and alone["state"] == "cancelled"
    assert alone["document"] == "Offer 2024-117.docx" and alone["pages"] == 4
    (device,) = report["device_artefacts"]
    assert device["kind"] == "job log" and device["holds"]["job entries"] == 2


def test_pfa_jobs_lists_print_jobs_and_device_artefacts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scan(_cups_spool(tmp_path), out)
    table = pfa("jobs", str(out))
    assert table.returncode == 0, table.stderr
    assert "print jobs (2)" in table.stdout and "device artefacts (1)" in table.stdout
    assert "metadata only" in table.stdout and "moxilo" in table.stdout
    listed = json.loads(pfa("jobs", str(out), "--json").stdout)
    assert len(listed["print_jobs"]) == 2 and len(listed["device_artefacts"]) == 1
    objects = json.loads(pfa("jobs", str(out), "--artefacts", "--json").stdout)
    assert {o["format"] for o in objects} == {"cups-control", "pdf", "cups-page-log"}


def test_consolidation_is_deterministic(tmp_path: Path) -> None:
    spool = _cups_spool(tmp_path)
    first = scan(spool, tmp_path / "one")["print_jobs"]
    second = scan(spool, tmp_path / "two")["print_jobs"]
    assert [j["print_job_id"] for j in first] == [j["print_job_id"] for j in second]
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_hold_pin_is_masked_in_every_output_unless_revealed(tmp_path: Path) -> None:
    """A held PJL job with its PIN: the print job says held with a masked PIN; the PIN itself is
    in no output of a masked case, and is a field of the job with --reveal."""
    spool = tmp_path / "spool"
    spool.mkdir()
    job = pxl_print_job(tmp_path, "private", "okafor", ["Medical leave"])
    head = f'{UEL}@PJL JOB NAME="private"\r\n'.encode()
    hold = b'@PJL SET HOLD=ON\r\n@PJL SET HOLDTYPE=PRIVATE\r\n@PJL SET HOLDKEY="80613"\r\n'
    (spool / "00009.prn").write_bytes(head + hold + job[len(head) :])
    out = tmp_path / "out"
    report = scan(spool, out)
    (print_job,) = report["print_jobs"]
    assert print_job["state"] == "held" and print_job["hold"] == "PRIVATE"
    assert print_job["pin_masked"] and "80613" not in print_job["pin_masked"]
    formats = ["json", "jsonl", "csv", "html", "dfxml", "case", "bodyfile", "timesketch"]
    exports = tmp_path / "exports"
    done = pfa("report", str(out), "-f", ",".join(formats), "-o", str(exports))
    assert done.returncode == 0, done.stderr
    written = [p for p in exports.rglob("*") if p.is_file()]
    assert len(written) >= len(formats)
    for path in [*written, out / "report.json", out / "report.html"]:
        assert "80613" not in path.read_text(encoding="utf-8"), path
    revealed = tmp_path / "revealed"
    done = pfa("scan", str(spool), "-o", str(revealed), "-q", "--no-pages", "--reveal")
    assert done.returncode in (0, 1), done.stderr
    (print_job,) = json.loads((revealed / "report.json").read_text())["print_jobs"]
    assert values(print_job, "pin") == ["80613"]
