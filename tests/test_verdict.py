"""The verdict policy (docs/verdict-policy.md): severity decides "sensitive", not any finding.

Unit tests of ``decide`` under each threshold, and scans of loose spool folders through the
library (real YARA, real SQLite): a folder that holds only a telephone number and an e-mail
address is ``residual-data``; one with a card number is ``sensitive``; the report states the
policy it applied and the exit code under it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics.detect.rules import load_rules
from forensics.detect.scanner import Detector
from forensics.loose import scan_loose
from forensics.report.json_report import write_report
from forensics.store import CaseStore
from forensics.verdict import SEVERITIES, Evidence, Verdict, VerdictPolicy, decide


def _evidence(counts: dict[tuple[str, str], int], files: int = 1) -> Evidence:
    return Evidence(
        findings=sum(counts.values()),
        user_files_with_content=files,
        residual_units=0,
        random_units=0,
        structured_units=0,
        constant_units=0,
        zero_units=0,
        unit_bytes=65536,
        findings_by_severity=counts,
    )


def test_low_severity_identifiers_alone_are_residual_data() -> None:
    verdict, reasons = decide(_evidence({("low", "pii"): 3}))
    assert verdict is Verdict.RESIDUAL_DATA
    assert (
        reasons[0]
        == "3 finding(s) below the sensitive threshold (3 low): reported, not sensitive on their own"
    )
    assert "1 file(s) with recoverable content" in reasons


def test_low_findings_on_a_medium_without_files_are_still_residual_data() -> None:
    # The finding itself proves that data is left (e.g. in free space of a raw volume).
    verdict, _ = decide(_evidence({("low", "pii"): 1}, files=0))
    assert verdict is Verdict.RESIDUAL_DATA


def test_high_and_critical_findings_are_sensitive_by_default() -> None:
    verdict, reasons = decide(
        _evidence({("critical", "financial"): 2, ("high", "credentials"): 1, ("low", "pii"): 4})
    )
    assert verdict is Verdict.SENSITIVE
    assert reasons == [
        "3 validated finding(s) of severity high or above (2 financial, 1 credentials)",
        "4 finding(s) below the sensitive threshold (4 low): reported, not sensitive on their own",
    ]


@pytest.mark.parametrize(
    ("threshold", "severity", "expected"),
    [
        ("high", "medium", Verdict.RESIDUAL_DATA),
        ("medium", "medium", Verdict.SENSITIVE),
        ("medium", "low", Verdict.RESIDUAL_DATA),
        ("low", "low", Verdict.SENSITIVE),
        ("critical", "high", Verdict.RESIDUAL_DATA),
        ("critical", "critical", Verdict.SENSITIVE),
    ],
)
def test_threshold_is_user_adjustable(threshold: str, severity: str, expected: Verdict) -> None:
    policy = VerdictPolicy(sensitive_at=threshold)
    assert decide(_evidence({(severity, "pii"): 1}), policy)[0] is expected


def test_no_findings_says_so() -> None:
    verdict, reasons = decide(_evidence({}))
    assert verdict is Verdict.RESIDUAL_DATA
    assert reasons[0] == "no finding of severity high or above"


def test_callers_without_a_breakdown_keep_any_finding_sensitive() -> None:
    ev = Evidence(1, 0, 0, 0, 0, 0, 0, 65536)
    assert decide(ev)[0] is Verdict.SENSITIVE


def test_policy_exit_codes() -> None:
    default = VerdictPolicy()
    gate = VerdictPolicy(fail_on="sensitive")
    assert [default.exit_code(v) for v in Verdict] == [0, 0, 1, 1]
    assert [gate.exit_code(v) for v in Verdict] == [0, 0, 0, 1]


def test_policy_is_validated_and_described() -> None:
    with pytest.raises(ValueError, match="sensitive_at"):
        VerdictPolicy(sensitive_at="severe")
    with pytest.raises(ValueError, match="fail_on"):
        VerdictPolicy(fail_on="never")
    assert VerdictPolicy().to_dict() == {
        "sensitive_at": "high",
        "sensitive_severities": ["high", "critical"],
        "fail_on": "residual",
        "description": "sensitive: at least one validated finding of severity high/critical; "
        "low/medium findings alone give residual-data; exit 1 on residual-data and sensitive",
    }
    assert VerdictPolicy(sensitive_at="low").to_dict()["sensitive_severities"] == list(SEVERITIES)


def _scan_folder(tmp_path: Path, files: dict[str, str], policy: VerdictPolicy) -> dict:
    spool = tmp_path / "spool"
    spool.mkdir()
    for name, text in files.items():
        (spool / name).write_text(text, encoding="utf-8")
    rules = load_rules()
    with CaseStore(tmp_path / "case.sqlite") as store:
        run = {
            "tool_version": "test",
            "command_line": "pfa scan spool",
            "host": "test",
            "rules_sha256": rules.sha256,
            "started": "2026-01-01T00:00:00Z",
        }
        run_id = store.start_run(run)
        result = scan_loose(spool, Detector(rules), store, run_id, False, policy=policy)
        report_path = tmp_path / "report.json"
        write_report(store, run, result.image_id, report_path, reveal=False)
    return json.loads(report_path.read_text(encoding="utf-8"))


def test_a_folder_with_only_contact_details_is_not_sensitive(tmp_path: Path) -> None:
    report = _scan_folder(
        tmp_path,
        {"help.txt": "Help desk: call (312) 867-4420 or write to desk.team@contoso.com\n"},
        VerdictPolicy(),
    )
    verdict = report["verdict"]
    assert {f["severity"] for f in report["findings"]} == {"low"}
    assert verdict["verdict"] == "residual-data"
    assert verdict["exit_code"] == 1
    assert verdict["policy"]["sensitive_at"] == "high"
    assert "below the sensitive threshold" in verdict["reasons"][0]


def test_the_same_folder_under_a_low_threshold_is_sensitive(tmp_path: Path) -> None:
    report = _scan_folder(
        tmp_path,
        {"help.txt": "Help desk: call (312) 867-4420 or write to desk.team@contoso.com\n"},
        VerdictPolicy(sensitive_at="low"),
    )
    assert report["verdict"]["verdict"] == "sensitive"
    assert report["verdict"]["policy"]["sensitive_severities"] == list(SEVERITIES)


def test_a_card_number_is_sensitive_and_gates_a_sensitive_only_script(tmp_path: Path) -> None:
    report = _scan_folder(
        tmp_path,
        {"receipt.txt": "Card: 4556 7375 8689 9855 exp 04/29\n"},
        VerdictPolicy(fail_on="sensitive"),
    )
    assert report["verdict"]["verdict"] == "sensitive"
    assert report["verdict"]["exit_code"] == 1
    assert report["verdict"]["policy"]["fail_on"] == "sensitive"


def test_residual_data_passes_a_sensitive_only_gate(tmp_path: Path) -> None:
    report = _scan_folder(
        tmp_path, {"memo.txt": "Lunch menu for Friday.\n"}, VerdictPolicy(fail_on="sensitive")
    )
    assert report["verdict"]["verdict"] == "residual-data"
    assert report["verdict"]["exit_code"] == 0


def test_cli_applies_and_reports_the_policy(tmp_path: Path) -> None:
    from forensics.cli import main

    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "help.txt").write_text("Call the help desk on (312) 867-4420.\n", encoding="utf-8")

    def scan(*options: str) -> tuple[int, dict]:
        out = tmp_path / f"out{len(options)}{'-'.join(options)}"
        rc = main(["scan", str(spool), "-o", str(out), "-q", "--no-pages", *options])
        return rc, json.loads((out / "report.json").read_text(encoding="utf-8"))

    rc, report = scan()
    assert (rc, report["verdict"]["verdict"]) == (1, "residual-data")
    assert report["run"]["options"]["policy"]["sensitive_at"] == "high"
    rc, report = scan("--fail-on", "sensitive")
    assert (rc, report["verdict"]["exit_code"]) == (0, 0)
    rc, report = scan("--sensitive-at", "low")
    assert (rc, report["verdict"]["verdict"]) == (1, "sensitive")
    assert report["verdict"]["policy"]["sensitive_at"] == "low"


def test_policy_table_in_docs_matches_the_shipped_rules() -> None:
    """docs/verdict-policy.md lists every shipped rule with its real severity and outcome."""
    import re

    from forensics.detect.rules import rule_meta

    doc = (Path(__file__).parent.parent / "docs" / "verdict-policy.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): (m.group(2), m.group(3), m.group(4))
        for m in re.finditer(r"^\| `(\w+)` \| (\w+) \| (\w+) \| (yes|no) \|$", doc, re.MULTILINE)
    }
    policy = VerdictPolicy()
    expected = {}
    for rule in load_rules().rules:
        meta = rule_meta(rule.meta)
        outcome = "yes" if policy.is_sensitive(meta["severity"]) else "no"
        expected[rule.identifier] = (meta["category"], meta["severity"], outcome)
    assert rows == expected
