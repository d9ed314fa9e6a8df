"""Windows shadow files (.SHD): the real Windows 10 x64 sample, hand-built 2000/XP/7 layouts, hostility.

The real sample is SafeBreach ``Spooler_DoS/00002.SHD`` (signature 0x5123, crafted with a zero port
offset). The other layouts are built by the construct Structs that ``winspool_builders`` writes from
the documented structures (ReactOS localspl SHD_HEADER, SafeBreach SHD.bt); no Linux tool writes
them. Hostile variants overwrite single fields of those bytes or of the real sample.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from construct import Construct, Int32ul, Int64ul

from forensics.formats.base import NotThisFormat, ParseContext, candidates
from forensics.formats.shd import ShdParser, sid_to_string
from tests.formats import winspool_builders as wb

SAMPLE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "safebreach" / "00002.SHD"
)
USER_SID = wb.binary_sid(5, 21, 1004336348, 1177238915, 682003330, 1001)
USER_SID_TEXT = "S-1-5-21-1004336348-1177238915-682003330-1001"
ADMINS = wb.binary_sid(5, 32, 544)


def _overwrite(data: bytearray, at: int, field: Construct, value: int) -> None:
    data[at : at + field.sizeof()] = field.build(value)


def _sample() -> bytes:
    if not SAMPLE.exists():
        pytest.skip(f"shared sample missing: {SAMPLE}")
    return SAMPLE.read_bytes()


def test_real_windows10_x64_sample() -> None:
    data = _sample()
    assert ShdParser.sniff(data[:512], "00002.SHD")
    assert ShdParser in candidates(data[:512], "00002.SHD")
    job = ShdParser().parse(data, ParseContext(name="00002.SHD"))
    meta = job.metadata
    assert meta.job_id == "2"
    assert meta.user == "SYSTEM"
    assert meta.document_name == "Untitled"
    assert meta.printer == "MS Publisher Color Printer"
    assert meta.driver == "MS Publisher Color Printer"
    assert meta.data_type == "NT EMF 1.008"
    assert meta.host == "P-B0X"  # "\\P-B0X" in the file
    assert meta.sid == "S-1-5-18"
    assert meta.submitted == "2020-01-21T11:50:52.748Z"
    assert meta.pages == 1
    assert meta.copies == 1
    assert meta.media == "letter"
    assert meta.resolution == "600 dpi"
    assert meta.state == "printed, user intervention"  # wStatus 0x0480
    assert meta.port is None  # the crafted file's port offset is 0
    extra = dict(meta.extra)
    assert extra["notify_name"] == "SYSTEM"
    assert extra["print_processor"] == "winprint"
    assert extra["form_name"] == "Letter"
    assert extra["orientation"] == "landscape"
    assert extra["owner_sid"] == "S-1-5-18"
    assert "S-1-5-21-540734737-2429771272-1938836448-1014" in extra["dacl_sids"]
    assert extra["spool_size"] == "65536" and extra["spool_size_2"] == "22844"
    assert extra["print_ticket"] == "PSF, 258 bytes at 0xe0"
    assert "0x5123" in extra["shd_layout"] and "64-bit" in extra["shd_layout"]
    assert "port offset is 0: no port recorded" in job.notes
    assert job.pair_key == "winspool:00002"
    assert job.length == len(data) == 2080
    assert ShdParser().extent(b"\x00" * 16 + data + b"\xff" * 64, 16) == 2080


def test_real_sample_with_hostile_offsets() -> None:
    data = bytearray(_sample())
    _overwrite(data, 0x30, Int64ul, 0x9999)  # port beyond the end
    _overwrite(data, 0x28, Int64ul, 0x10)  # document name inside the header
    _overwrite(data, 0x18, Int64ul, 2**63 + 5)  # user name: absurd 64-bit offset
    _overwrite(data, 0x90, Int64ul, len(data) - 4)  # security descriptor truncated
    job = ShdParser().parse(bytes(data), ParseContext())
    assert job.metadata.port is None and job.metadata.document_name is None
    assert job.metadata.user is None
    assert "port offset 0x9999 outside the 2080-byte file" in job.notes
    assert "document name offset 0x10 points into the header" in job.notes
    assert any(note.startswith("user name offset 0x8000000000000005") for note in job.notes)
    assert any("security descriptor" in note for note in job.notes)
    assert not job.complete
    assert job.metadata.printer == "MS Publisher Color Printer"
    assert job.pair_key == "winspool:00002"  # from the job id, no file name given


def _xp_file(**overrides: int) -> bytes:
    descriptor = wb.security_descriptor(USER_SID, USER_SID, [USER_SID, ADMINS])
    return wb.build_shd(
        signature=0x4967,
        wide=False,
        job_id=41,
        strings={
            "user": "jsmith",
            "notify": "jsmith",
            "document": "Q3 salaries.xlsx",
            "port": "IP_192.168.1.50",
            "printer": "Finance-MFP",
            "driver": "RICOH MP C3004 PCL 6",
            "processor": "winprint",
            "datatype": "NT EMF 1.008",
            "parameters": "",
            "computer": "\\\\FIN-PC-07",
        },
        submitted=(2009, 3, 2, 17, 9, 5, 33, 120),
        pages=12,
        spl_size=183_204,
        devmode_blob=wb.devmode("Finance-MFP", copies=2, paper_size=1, duplex=3, color=1),
        security=descriptor,
        overrides=overrides,
    )


def test_windows_xp_layout() -> None:
    data = _xp_file()
    job = ShdParser().parse(data, ParseContext(name="FP00041.SHD"))
    assert job.complete, job.notes
    meta = job.metadata
    assert (meta.user, meta.document_name, meta.port) == (
        "jsmith",
        "Q3 salaries.xlsx",
        "IP_192.168.1.50",
    )
    assert (meta.printer, meta.driver, meta.data_type) == (
        "Finance-MFP",
        "RICOH MP C3004 PCL 6",
        "NT EMF 1.008",
    )
    assert meta.host == "FIN-PC-07"
    assert meta.submitted == "2009-03-17T09:05:33.12Z"
    assert (meta.pages, meta.copies, meta.media) == (12, 2, "letter")
    assert meta.sid == USER_SID_TEXT  # owner of the job's security descriptor
    assert meta.state == "spooling"
    extra = dict(meta.extra)
    assert extra["duplex"] == "duplex short edge" and extra["color_mode"] == "monochrome"
    assert extra["dacl_sids"] == f"{USER_SID_TEXT}, S-1-5-32-544"
    assert "0x4967" in extra["shd_layout"] and "32-bit" in extra["shd_layout"]
    assert job.pair_key == "winspool:00041"
    assert job.length == len(data)


def test_windows7_x64_layout_with_string_sid() -> None:
    data = wb.build_shd(
        signature=0x4968,
        wide=True,
        job_id=7,
        strings={
            "user": "m.garcia",
            "document": "Passport scan.pdf",
            "printer": "\\\\printsrv01\\HR-Colour",
            "processor": "hpcpp155",
            "datatype": "RAW",
            "computer": "\\\\HR-LT-0031",
            "sid": "S-1-5-21-3623811015-3361044348-30300820-1013",
        },
        submitted=(2015, 11, 3, 4, 23, 59, 1, 999),
        pages=3,
        spl_size=1_048_576,
    )
    job = ShdParser().parse(data, ParseContext())
    meta = job.metadata
    assert meta.user == "m.garcia" and meta.printer == "\\\\printsrv01\\HR-Colour"
    assert meta.sid == "S-1-5-21-3623811015-3361044348-30300820-1013"
    assert meta.submitted == "2015-11-04T23:59:01.999Z"
    assert meta.data_type == "RAW" and meta.host == "HR-LT-0031"
    assert meta.port is None and "port offset is 0: no port recorded" in job.notes
    assert job.pair_key == "winspool:00007"


def test_windows10_32bit_header_and_binary_sid() -> None:
    """0x5123 with the 32-bit header (Windows 10 x86): DWORD offsets, binary SID after 0x78."""
    # The header grows by 4 bytes for offSID (0x7C in all); the binary SID (MS-DTYP §2.4.2.2)
    # follows the strings.
    data = wb.build_shd(
        signature=0x5123,
        wide=False,
        job_id=3,
        strings={"user": "kiosk", "printer": "Lobby", "processor": "winprint", "datatype": "RAW"},
        submitted=(2021, 6, 1, 14, 8, 0, 0, 0),
        pages=1,
        spl_size=10,
        binary_sid=USER_SID,
    )
    job = ShdParser().parse(data, ParseContext())
    assert job.metadata.user == "kiosk" and job.metadata.printer == "Lobby"
    assert job.metadata.sid == USER_SID_TEXT
    assert job.complete, job.notes


def test_nt4_layout() -> None:
    data = wb.build_shd_legacy(
        signature=0x4966,
        job_id=99,
        strings={"user": "admin", "document": "Budget.doc", "port": "LPT1:", "printer": "LaserJet"},
        submitted=(1999, 12, 5, 31, 23, 59, 59, 0),
        pages=4,
        spl_size=1000,
    )
    job = ShdParser().parse(data, ParseContext())
    meta = job.metadata
    assert (meta.user, meta.document_name, meta.port, meta.printer) == (
        "admin",
        "Budget.doc",
        "LPT1:",
        "LaserJet",
    )
    assert meta.submitted == "1999-12-31T23:59:59Z" and meta.job_id == "99" and meta.pages == 4


def test_win9x_is_only_noted() -> None:
    header = wb.build_shd_legacy(
        signature=0x494B, job_id=12, strings={}, submitted=(0,) * 8, pages=0, spl_size=0
    )
    data = header + bytes(116 - len(header))  # zero fill
    job = ShdParser().parse(data, ParseContext(name="00012.SHD"))
    assert job.metadata.job_id == "12"
    assert any("Windows 9x" in note for note in job.notes)
    assert job.pair_key == "winspool:00012"


def test_layout_confirmed_by_offsets() -> None:
    """A header size that suggests 64-bit, with 32-bit offsets that lead to strings."""
    data = bytearray(_xp_file())
    _overwrite(data, 4, Int32ul, 0xC8)  # cbHeader
    job = ShdParser().parse(bytes(data), ParseContext())
    assert job.metadata.user == "jsmith"
    assert any("only the 32-bit offsets" in note for note in job.notes)


def test_unknown_signature_needs_shd_name() -> None:
    data = bytearray(_xp_file())
    _overwrite(data, 0, Int32ul, 0x5124)  # dwSignature
    assert not ShdParser.sniff(bytes(data[:256]))
    with pytest.raises(NotThisFormat):
        ShdParser().parse(bytes(data), ParseContext())
    job = ShdParser().parse(bytes(data), ParseContext(name="00041.SHD"))
    assert job.metadata.user == "jsmith"
    assert any("unrecognised signature 0x5124" in note for note in job.notes)


def test_sid_strings() -> None:
    assert sid_to_string(wb.binary_sid(5, 18)) == "S-1-5-18"
    assert sid_to_string(wb.binary_sid(2**40, 1)) == "S-1-0x010000000000-1"
    assert sid_to_string(b"\x01\x05\x00") is None


def _must_finish(data: bytes, name: str | None = None) -> None:
    start = time.monotonic()
    try:
        job = ShdParser().parse(data, ParseContext(name=name))
    except NotThisFormat:
        return
    assert job.format == "shd"
    assert time.monotonic() - start < 1.0


def test_hostile_truncations_and_garbage() -> None:
    for data in (_sample(), _xp_file()):
        for cut in range(0, len(data), 5):
            _must_finish(data[:cut], "00002.SHD")
        rng = random.Random(3)
        for _ in range(100):
            _must_finish(data[:0xE0] + rng.randbytes(rng.randrange(0, 3000)))
            garbled = bytearray(data)
            for _ in range(20):
                garbled[rng.randrange(len(garbled))] = rng.randrange(256)
            _must_finish(bytes(garbled))


def test_hostile_unterminated_string_and_devmode() -> None:
    tail = "no terminator".encode("utf-16-le")
    size = len(_xp_file()) + len(tail)
    # The document name at the unterminated tail, the DEVMODE in the last 10 bytes.
    data = _xp_file(document=size - 26, devmode=size - 10) + tail
    job = ShdParser().parse(data, ParseContext())
    assert job.metadata.document_name == "no terminator"
    assert any("not NUL-terminated" in note for note in job.notes)
    assert any("DEVMODE" in note for note in job.notes)
    assert not job.complete
