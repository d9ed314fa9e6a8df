"""The command line as a user meets it: help, version, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forensics import __version__

PROJECT = Path(__file__).resolve().parent.parent
DEMO = PROJECT / "fixtures" / "demo" / "printer-demo.img"


def pfa(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def test_version() -> None:
    done = pfa("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"pfa {__version__}"


def test_help_explains_every_command_and_option() -> None:
    top = pfa("--help")
    assert top.returncode == 0
    for word in ("info", "scan", "exit codes", "--version", "--debug"):
        assert word in top.stdout
    scan = pfa("scan", "--help")
    for option in ("--output", "--rules", "--reveal", "--no-hash", "--quiet"):
        assert option in scan.stdout
    info = pfa("info", "--help")
    for option in ("--no-hash", "--json"):
        assert option in info.stdout


def assert_one_line_error(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("pfa: error: ")
    assert fragment in lines[0]


def test_missing_image(tmp_path: Path) -> None:
    assert_one_line_error(
        pfa("scan", str(tmp_path / "nope.dd"), "-o", str(tmp_path / "o")), "no such file"
    )
    assert_one_line_error(pfa("info", str(tmp_path / "nope.dd")), "no such file")


def test_a_folder_is_a_logical_acquisition(tmp_path: Path) -> None:
    spool = tmp_path / "PRINTERS"
    (spool / "sub").mkdir(parents=True)
    (spool / "sub" / "notes.txt").write_text("Employee SSN 536-22-8714\n")
    (spool / "empty.dat").write_bytes(b"")
    done = pfa("scan", str(spool), "-o", str(tmp_path / "o"), "-q", "--reveal")
    assert done.returncode == 1, done.stderr
    import json

    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["image"]["format"] == "folder"
    (finding,) = report["findings"]
    assert finding["path"] == "/sub/notes.txt" and finding["stream_offset"] == 13
    assert finding["image_offset"] is None
    assert finding["address"]["text"].endswith("PRINTERS > /sub/notes.txt > stream@0xd+11")


def test_empty_and_tiny_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.dd"
    empty.write_bytes(b"")
    assert_one_line_error(pfa("scan", str(empty), "-o", str(tmp_path / "o")), "empty")
    tiny = tmp_path / "tiny.dd"
    tiny.write_bytes(b"not a disk")
    assert_one_line_error(pfa("scan", str(tiny), "-o", str(tmp_path / "o2")), "too small")


def test_broken_e01(tmp_path: Path) -> None:
    fake = tmp_path / "broken.E01"
    fake.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + os.urandom(4096))
    assert_one_line_error(pfa("scan", str(fake), "-o", str(tmp_path / "o")), "E01")
    assert_one_line_error(pfa("info", str(fake)), "E01")


def test_bad_rules(tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    assert_one_line_error(
        pfa("scan", str(DEMO), "-o", out, "--rules", str(tmp_path / "none")), "does not exist"
    )
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.yar").write_text('rule broken { strings: $a = "x" condition: $b }')
    assert_one_line_error(pfa("scan", str(DEMO), "-o", out, "--rules", str(bad)), "do not compile")
    empty = tmp_path / "norules"
    empty.mkdir()
    assert_one_line_error(pfa("scan", str(DEMO), "-o", out, "--rules", str(empty)), "no .yar")


def test_output_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "report"
    target.write_text("x")
    assert_one_line_error(pfa("scan", str(DEMO), "-o", str(target)), "not a folder")


def test_usage_error_exits_2() -> None:
    done = pfa("scan")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_scan_demo_prints_summary_and_exits_1(tmp_path: Path) -> None:
    done = pfa("scan", str(DEMO), "-o", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    assert "verdict: sensitive" in done.stdout
    assert "financial" in done.stdout
    assert (tmp_path / "out" / "report.json").exists()
    assert "536-22-8714" not in done.stdout


def test_user_rules_are_used_beside_shipped(tmp_path: Path) -> None:
    rules = tmp_path / "mine"
    rules.mkdir()
    (rules / "mine.yar").write_text(
        'rule addrbook_header { meta: category = "custom" severity = "low" '
        'description = "address book header" strings: $h = "DisplayName,Email" condition: $h }'
    )
    done = pfa(
        "scan", str(DEMO), "-o", str(tmp_path / "out"), "--rules", str(rules), "-q", "--reveal"
    )
    assert done.returncode == 1, done.stderr
    import json

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    hits = [f for f in report["findings"] if f["rule"] == "addrbook_header"]
    assert [h["path"] for h in hits] == ["/ADDRBOOK.CSV"]
    assert hits[0]["category"] == "custom"
    assert any(f["rule"].startswith("financial") for f in report["findings"])


def test_info_lists_partitions_and_hashes() -> None:
    done = pfa("info", str(DEMO), "--json")
    assert done.returncode == 0, done.stderr
    import json

    info = json.loads(done.stdout)
    assert info["partition_scheme"] == "mbr"
    assert {v.get("filesystem") for v in info["volumes"]} >= {"fat16", "ext2"}
    import hashlib

    assert info["hashes"]["sha256"] == hashlib.sha256(DEMO.read_bytes()).hexdigest()


@pytest.mark.parametrize("flag", ["--no-hash"])
def test_info_no_hash(flag: str) -> None:
    done = pfa("info", str(DEMO), flag)
    assert done.returncode == 0
    assert "sha256" not in done.stdout


def test_unknown_validator_in_user_rule(tmp_path: Path) -> None:
    rules = tmp_path / "typo"
    rules.mkdir()
    (rules / "typo.yar").write_text(
        'rule typo { meta: category = "custom" severity = "low" description = "x" '
        'validator = "lun" strings: $a = "4556" condition: $a }'
    )
    done = pfa("scan", str(DEMO), "-o", str(tmp_path / "o"), "--rules", str(rules))
    assert_one_line_error(done, "unknown validator 'lun'")
