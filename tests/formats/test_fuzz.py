"""Property-based fuzzing of every registered format parser, the stream filters and parse_object.

The contract (forensics/formats/base.py): ``parse(data, ctx)`` returns a ``ParsedJob`` or raises
``NotThisFormat`` for ANY input, in bounded time. Each registered parser gets two properties:
arbitrary bytes, and a valid seed of its own format mutated by Hypothesis (bit flips, interesting
integers, insertions, deletions, duplications, truncation). Seeds come from the real samples in
../shared/samples where one exists for the format, otherwise from a small valid file built here.

Budgets are fixed and ``derandomize=True`` so a CI run is reproducible and the whole file stays
well under a minute. A parser that never returns is turned into an ordinary, shrinkable failure
by a SIGALRM guard (``ParseHang`` derives from BaseException so no parser ``except Exception``
can swallow it).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import signal
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from forensics.formats import filters
from forensics.formats.base import (
    DecodedText,
    Embedded,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    _load_all,
)
from forensics.jobs import parse_object
from tests.formats import winspool_builders as wb

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
SEED_BYTES = 32 * 1024  # first bytes of a real sample used as a seed (whole file if smaller)
CALL_SECONDS = 5.0  # asserted wall-clock bound of one parse / decode call
HANG_SECONDS = 15.0  # SIGALRM guard: a call still running after this is a hang

# Example budgets (fixed, derandomized). PFA_FUZZ_SCALE=20 multiplies them for a deeper local run.
_SCALE = float(os.environ.get("PFA_FUZZ_SCALE", "1"))
# 20 formats x (100 + 150) parses + 11 filter properties + 500 parse_object: about 20 s here.
ARBITRARY_EXAMPLES = max(1, int(100 * _SCALE))
MUTATED_EXAMPLES = max(1, int(150 * _SCALE))
FILTER_EXAMPLES = max(1, int(250 * _SCALE))
PARSE_OBJECT_EXAMPLES = max(1, int(500 * _SCALE))

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,  # derandomized: nothing to replay, and nothing written into the tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

NAMES = [
    "c00001",
    "d00001-001",
    "cfA001host",
    "00001.SHD",
    "00001.SPL",
    "page_log",
    "addressbook.csv",
    "a.ldif",
    "x.xml",
    "config.ini",
    None,
]

_load_all()
REGISTRY: dict[str, type[FormatParser]] = dict(sorted(FormatParser.registry.items()))


# --------------------------------------------------------------------------- seeds


def _sample(relative: str) -> bytes | None:
    path = SAMPLES / relative
    return path.read_bytes()[:SEED_BYTES] if path.is_file() else None


def _xps() -> bytes:
    ns = "http://schemas.microsoft.com/xps/2005/06"
    rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    members = [
        (
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="fdseq" ContentType="application/'
            'vnd.ms-package.xps-fixeddocumentsequence+xml"/></Types>',
        ),
        (
            "_rels/.rels",
            f'<Relationships xmlns="{rels}"><Relationship Id="R0" Type="http://schemas.microsoft'
            '.com/xps/2005/06/fixedrepresentation" Target="/FixedDocumentSequence.fdseq"/>'
            "</Relationships>",
        ),
        (
            "FixedDocumentSequence.fdseq",
            f'<FixedDocumentSequence xmlns="{ns}"><DocumentReference '
            'Source="/Documents/1/FixedDocument.fdoc"/></FixedDocumentSequence>',
        ),
        (
            "Documents/1/FixedDocument.fdoc",
            f'<FixedDocument xmlns="{ns}"><PageContent Source="Pages/1.fpage"/></FixedDocument>',
        ),
        (
            "Documents/1/Pages/1.fpage",
            f'<FixedPage Width="816" Height="1056" xmlns="{ns}" xml:lang="en-US">'
            '<Glyphs OriginX="96" OriginY="96" FontRenderingEmSize="12" '
            'UnicodeString="Patient Name: Jane Example"/></FixedPage>',
        ),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as package:
        for name, text in members:
            package.writestr(name, text)
    return buffer.getvalue()


def _pclxl() -> bytes:
    """PCL XL (little-endian binding): session, one page, a font, a cursor move and a text run."""
    out = bytearray(b") HP-PCL XL;2;0;Comment fuzz seed\n")

    def attr_ubyte(value: int, attr: int) -> None:
        out.extend(b"\xc0" + bytes([value]) + b"\xf8" + bytes([attr]))

    def attr_array(raw: bytes, attr: int) -> None:
        out.extend(b"\xc8\xc1" + struct.pack("<H", len(raw)) + raw + b"\xf8" + bytes([attr]))

    out += b"\xd1" + struct.pack("<HH", 600, 600) + b"\xf8\x89"  # UnitsPerMeasure
    attr_ubyte(0, 134)
    attr_ubyte(0, 143)
    out.append(0x41)  # BeginSession
    attr_ubyte(0, 136)
    attr_ubyte(1, 130)
    out.append(0x48)  # OpenDataSource
    attr_ubyte(0, 40)
    attr_ubyte(2, 37)
    out.append(0x43)  # BeginPage
    attr_array(b"Courier         ", 168)
    out += b"\xc5" + struct.pack("<f", 40.0) + b"\xf8\xa6"
    out += b"\xc1" + struct.pack("<H", 629) + b"\xf8\xaa"
    out.append(0x6F)  # SetFont
    out += b"\xd1" + struct.pack("<HH", 300, 300) + b"\xf8\x4c"
    out.append(0x6B)  # SetCursor
    attr_array(b"Patient Name: Jane Example", 171)
    out.append(0xA8)  # Text
    out += b"\xc1" + struct.pack("<H", 1) + b"\xf8\x31"
    out += bytes([0x44, 0x49, 0x42])  # EndPage, CloseDataSource, EndSession
    return bytes(out)


def _tiff() -> bytes:
    from PIL import Image, TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[270] = "Fax from Dr. Example"
    info[271] = "Brother"
    info[306] = "2024:03:01 10:30:05"
    info[315] = "Jane Example"
    buffer = io.BytesIO()
    image = Image.new("1", (64, 32), 1)
    image.save(buffer, format="TIFF", compression="group4", tiffinfo=info, dpi=(204, 196))
    return buffer.getvalue()


def _jpeg() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[271] = "RICOH"
    exif[315] = "jdoe"
    exif[0x8769] = {36867: "2024:03:01 12:30:05", 36881: "+02:00"}
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 200).save(buffer, format="JPEG", exif=exif, dpi=(300, 300))
    return buffer.getvalue()


def _urf() -> bytes:
    width, height = 16, 4
    page = struct.pack(">BBBBBB6sIII8s", 8, 4, 1, 4, 0, 0, bytes(6), width, height, 300, bytes(8))
    # Per line: a repeat byte, then a literal run of `width` 1-byte pixels (257 - n = 16).
    line = b"\x00" + bytes([257 - width]) + bytes(range(width))
    return b"UNIRAST\x00" + struct.pack(">I", 1) + page + line * height


def _cups_raster(pwg: bytes | None) -> bytes:
    """CUPS Raster v3 (uncompressed): the PWG sample's page header with a ``RaS3`` sync word."""
    if pwg is not None and len(pwg) >= 4 + 1796:
        header = bytearray(pwg[4 : 4 + 1796])
    else:
        header = bytearray(1796)
        struct.pack_into(">II", header, 276, 300, 300)  # HWResolution
    width, height = 64, 8
    struct.pack_into(">II", header, 372, width, height)  # cupsWidth, cupsHeight
    struct.pack_into(">IIII", header, 384, 1, 1, width // 8, 0)  # bits/colour, /pixel, line
    struct.pack_into(">I", header, 404, 0)  # cupsCompression
    return b"RaS3" + bytes(header) + b"\xa5" * (width // 8 * height)


def _emf() -> bytes:
    return wb.build_emf(wb.text_page(["Patient Name: Jane Example", "Ward 7"]), document="a.docx")


def _emfspool() -> bytes:
    page = wb.build_emf(wb.text_page(["Patient Name: Jane Example"]))
    dm = wb.devmode("HP LaserJet 4250 PCL6", copies=2)
    return wb.build_spool("Discharge.docx - Word", "IP_10.0.0.20", [page], devmode_record=dm)


PJL = (
    b'\x1b%-12345X@PJL JOB NAME="Payroll"\r\n@PJL SET USERNAME="jdoe"\r\n'
    b'@PJL SET JOBNAME="Payroll.docx"\r\n@PJL SET HOLD=ON\r\n@PJL SET HOLDKEY="1234"\r\n'
    b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE\x1b&l0O\x1b&a1RPatient Name: Jane Example\r\n"
    b'\x1bE\x1b%-12345X@PJL EOJ NAME="Payroll"\r\n\x1b%-12345X'
)
LPD = (
    b"Hworkstation7\nPjdoe\nJQuarterly figures\nCworkstation7\nLjdoe\nNQ3-figures.txt\n"
    b"ldfA042workstation7\nUdfA042workstation7\n"
)
PAGE_LOG = (
    b"HR_Color alice 17 [14/Nov/2023:23:13:20 +0100] 1 2 - ws-042.example.com Payroll.pdf "
    b"iso_a4_210x297mm one-sided\n"
    b"HR_Color alice 17 [14/Nov/2023:23:13:30 +0100] total 4 - ws-042.example.com Payroll.pdf "
    b"iso_a4_210x297mm one-sided\n"
)
ADDRESS_BOOK = (
    b"DisplayName,Email,Phone,Department\r\nFront Desk,,,Reception\r\n"
    b'Jane Example,jane@example.com,"+1 555 0100",Cardiology\r\n'
)
LDIF = (
    b"dn: cn=Jane Example,ou=people,dc=example,dc=com\ncn: Jane Example\n"
    b"mail: jane@example.com\ntelephoneNumber: +1 555 0100\n\n"
)
JOB_LOG = (
    b"Job ID,User Name,Document Name,Date,Pages,Copies,Status\n"
    b"101,jexample,Quarterly Report.docx,2024-03-01 09:15:02,12,1,Completed\n"
    b'103,jexample,"Offer letter, J. Doe.pdf",2024-03-02 16:40:00,2,1,Canceled\n'
)
CONFIG = (
    b"; device configuration\n[SMTP]\nServer = smtp.example.com\nPort = 587\n"
    b"User = scanner@example.com\nPassword = SmtpSecret1\n\n[LDAP]\nHost = ldap.example.com\n"
    b"BindPassword = LdapSecret2\n"
)


def _build_seeds() -> tuple[dict[str, list[tuple[bytes, str | None]]], frozenset[str]]:
    """Format name → [(seed bytes, file name for the ParseContext)], built once at import;
    and the names whose seeds are real files (the rest are a bare signature plus filler)."""
    pwg = _sample("cups/onepage-letter-300-black-1.pwg")
    seeds: dict[str, list[tuple[bytes | None, str | None]]] = {
        "pdf": [(_sample("cups/testfile.pdf"), None), (_sample("cups/onepage-a4.pdf"), None)],
        "postscript": [(_sample("cups/testfile.ps"), None), (_sample("pret/lorem.ps"), None)],
        "pcl5": [(_sample("cups/testfile.pcl"), None), (_sample("pret/gimp.pcl"), None)],
        "pwg-raster": [(pwg, None)],
        "cups-raster": [(_cups_raster(pwg), None)],
        "urf": [(_urf(), None)],
        "cups-control": [(_sample("plaso/mac_cups_ipp"), "c00001")],
        "shd": [(_sample("safebreach/00002.SHD"), "00002.SHD")],
        "emf": [(_emf(), None)],
        "emfspool": [(_emfspool(), "00002.SPL")],
        "xps": [(_xps(), "00002.SPL")],
        "tiff": [(_tiff(), None)],
        "jpeg": [(_jpeg(), None)],
        "pclxl": [(_pclxl(), None)],
        "pjl": [(PJL, None)],
        "lpd-control": [(LPD, "cfA042workstation7")],
        "cups-page-log": [(PAGE_LOG, "page_log")],
        "address-book": [(ADDRESS_BOOK, "addressbook.csv"), (LDIF, "a.ldif")],
        "job-log": [(JOB_LOG, None)],
        "config": [(CONFIG, "config.ini")],
    }
    out: dict[str, list[tuple[bytes, str | None]]] = {}
    for name, found in seeds.items():
        kept = [(data, file_name) for data, file_name in found if data]
        if kept:
            out[name] = kept
    curated = frozenset(out)
    # A format added later without a seed here: its own signatures, then filler bytes.
    for name, cls in REGISTRY.items():
        if name not in out and cls.signatures:
            sig = cls.signatures[0]
            out[name] = [(bytes(sig.offset) + sig.magic + bytes(range(256)), None)]
    return out, curated


SEEDS, CURATED = _build_seeds()


# --------------------------------------------------------------------------- helpers


class ParseHang(BaseException):
    """Raised by the SIGALRM guard inside a call that ran past HANG_SECONDS."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise ParseHang(f"still running after {HANG_SECONDS} s")


@contextmanager
def _hang_guard(seconds: float | None = None) -> Iterator[None]:
    """Interrupt the body after ``seconds``; keeps pytest-timeout's own SIGALRM timer intact."""
    seconds = HANG_SECONDS if seconds is None else seconds
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:
            left = max(previous_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def _timed(call: Callable[[], Any], what: str) -> Any:
    """Run ``call`` under the hang guard and assert the CALL_SECONDS wall-clock bound."""
    started = time.monotonic()
    try:
        with _hang_guard():
            result = call()
    except ParseHang as hang:
        raise AssertionError(f"{what}: {hang}") from None
    elapsed = time.monotonic() - started
    assert elapsed < CALL_SECONDS, f"{what} took {elapsed:.2f} s (bound {CALL_SECONDS} s)"
    return result


_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def _mutate(data: st.DataObject, seed: bytes) -> bytes:
    """A few random edits of ``seed``, drawn so Hypothesis can shrink them."""
    buf = bytearray(seed)
    # Most edits land after the first bytes, so the parser gets past its signature check.
    low = 0 if data.draw(st.sampled_from([True, False, False, False]), label="head") else 16
    for _ in range(data.draw(st.integers(0, 8), label="edits")):
        op = data.draw(
            st.sampled_from(
                ["flip", "byte", "integer", "insert", "delete", "duplicate", "truncate"]
            ),
            label="op",
        )
        start = min(low, len(buf))
        at = data.draw(st.integers(start, len(buf)), label="at")
        if op == "flip" and at < len(buf):
            buf[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif op == "byte" and at < len(buf):
            buf[at] = data.draw(st.integers(0, 255), label="value")
        elif op == "integer":
            value = data.draw(st.sampled_from(_INTERESTING), label="value")
            width, order = data.draw(st.sampled_from([(2, "<"), (2, ">"), (4, "<"), (4, ">")]))
            packed = struct.pack(f"{order}{'H' if width == 2 else 'I'}", value & (256**width - 1))
            buf[at : at + width] = packed
        elif op == "insert":
            buf[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="inserted")
        elif op == "delete":
            del buf[at : at + data.draw(st.integers(1, 64), label="deleted")]
        elif op == "duplicate":
            length = data.draw(st.integers(1, 256), label="length")
            buf[at:at] = buf[at : at + length]
        elif op == "truncate":
            del buf[at:]
    return bytes(buf)


def _check_job(job: Any, cls: type[FormatParser]) -> None:
    """The shape of a ParsedJob, as the report writer relies on it."""
    assert isinstance(job, ParsedJob), f"{cls.name} returned {type(job).__name__}"
    assert job.format == cls.name
    assert isinstance(job.metadata, JobMetadata)
    assert all(isinstance(t, DecodedText) and isinstance(t.text, str) for t in job.texts)
    assert all(isinstance(e, Embedded) for e in job.embedded)
    assert all(isinstance(p, PageRef) for p in job.pages)
    assert all(isinstance(n, str) for n in job.notes)
    assert isinstance(job.complete, bool)
    assert job.length is None or (isinstance(job.length, int) and job.length >= 0)
    json.dumps(job.metadata.to_dict(reveal=True))  # report.json must be able to hold it


def _note_input(data: bytes, **context: object) -> None:
    """Show the failing input (Hypothesis prints notes of the minimal example only)."""
    fields = " ".join(f"{key}={value!r}" for key, value in context.items())
    shown = repr(data) if len(data) <= 4096 else f"{data[:2048]!r} ... {data[-512:]!r}"
    note(f"{fields} len={len(data)} data={shown}")


def _parse_once(cls: type[FormatParser], data: bytes, name: str | None) -> None:
    _note_input(data, format=cls.name, name=name)
    sniffed = _timed(lambda: cls.sniff(data[:65536], name), f"{cls.name}.sniff")
    assert isinstance(sniffed, bool)
    try:
        job = _timed(lambda: cls().parse(data, ParseContext(name=name)), f"{cls.name}.parse")
    except NotThisFormat:
        event("NotThisFormat")
        return
    event("ParsedJob (complete)" if job.complete else "ParsedJob (incomplete)")
    _check_job(job, cls)


# --------------------------------------------------------------------------- parsers

# Known parser bugs found by this file, kept visible: (format, property) → reason. A format listed
# here has that property marked xfail(strict=True); none is needed at the fixed budgets today.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _xps_with_page(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as package:
        package.writestr(name, "<FixedPage/>")
    return buffer.getvalue()


# Minimal inputs that broke the contract, found by a non-derandomized run of this file
# (PFA_FUZZ_SCALE=10); fixed, and kept as regression cases.
_SUPERSCRIPT_TWO = (
    "str.isdigit() is true for '²' (U+00B2; byte 0xB2 in cp1252/latin-1 text) but int() rejects "
    "it: use isdecimal() or an ASCII check"
)
CRASHERS = [
    pytest.param(
        "job-log",
        b"Job ID,User Name,Document Name,Date,Pages,Copies,Status\n"
        b"101,jexample,Report.docx,2024-03-01 09:15:02,\xb2,1,Completed\n",
        None,
        id="job-log-superscript-pages",
    ),
    pytest.param(
        "xps",
        _xps_with_page("Documents/1/Pages/1\u00b22.fpage"),
        "00001.SPL",
        id="xps-superscript-page-name",
    ),
]


@pytest.mark.parametrize(("format_name", "data", "name"), CRASHERS)
def test_known_crasher(format_name: str, data: bytes, name: str | None) -> None:
    cls = REGISTRY[format_name]
    try:
        job = _timed(lambda: cls().parse(data, ParseContext(name=name)), f"{cls.name}.parse")
    except NotThisFormat:
        return
    _check_job(job, cls)


def _params(kind: str) -> list[Any]:
    out = []
    for name in REGISTRY:
        reason = KNOWN_FAILURES.get((name, kind))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(name, id=name, marks=marks))
    return out


# Formats whose only seed is a shared sample: without ../shared/samples they are fuzzed with
# arbitrary bytes alone (a fresh clone without shared/ must still pass).
SAMPLE_ONLY = {"cups-control", "pcl5", "shd"}


def test_every_format_is_fuzzed() -> None:
    missing = set(REGISTRY) - set(SEEDS)
    if not SAMPLES.is_dir():
        missing -= SAMPLE_ONLY
    assert not missing, f"no seed for {sorted(missing)}"


@pytest.mark.parametrize("format_name", sorted(CURATED))
def test_seed_is_accepted(format_name: str) -> None:
    """The unmutated seeds really are the format: mutations start from a valid file."""
    cls = REGISTRY[format_name]
    for seed, file_name in SEEDS[format_name]:
        job = cls().parse(seed, ParseContext(name=file_name))
        _check_job(job, cls)


@pytest.mark.parametrize("format_name", _params("arbitrary"))
@settings(FUZZ, max_examples=ARBITRARY_EXAMPLES)
@given(data=st.binary(max_size=4096), name=st.sampled_from(NAMES))
def test_arbitrary_bytes(format_name: str, data: bytes, name: str | None) -> None:
    _parse_once(REGISTRY[format_name], data, name)


@pytest.mark.parametrize("format_name", _params("mutated"))
@settings(FUZZ, max_examples=MUTATED_EXAMPLES)
@given(data=st.data())
def test_mutated_seed(format_name: str, data: st.DataObject) -> None:
    seeds = SEEDS.get(format_name)
    if not seeds:
        pytest.skip(f"no seed for {format_name}: the shared samples are not present")
    seed, file_name = seeds[data.draw(st.integers(0, len(seeds) - 1), label="seed")]
    name = data.draw(st.sampled_from([file_name, None]), label="name")
    _parse_once(REGISTRY[format_name], _mutate(data, seed), name)


# --------------------------------------------------------------------------- filters


def _encoded(data: st.DataObject) -> bytes:
    """Arbitrary bytes, or a valid encoding (of the filters below) that may then be mutated."""
    raw = data.draw(st.binary(max_size=2048), label="raw")
    kind = data.draw(
        st.sampled_from(["raw", "a85", "hex", "flate", "zlib-raw", "runlength"]), label="kind"
    )
    if kind == "a85":
        raw = b"<~" + base64.a85encode(raw) + b"~>"
    elif kind == "hex":
        raw = binascii.hexlify(raw) + b">"
    elif kind == "flate":
        raw = zlib.compress(raw * data.draw(st.integers(1, 64), label="repeat"))
    elif kind == "zlib-raw":
        compressor = zlib.compressobj(wbits=-15)
        raw = compressor.compress(raw) + compressor.flush()
    elif kind == "runlength":
        raw = b"".join(
            bytes([len(c) - 1]) + c for c in (raw[i : i + 128] for i in range(0, len(raw), 128))
        )
        raw += b"\x80"
    return _mutate(data, raw) if kind != "raw" else raw


DECODERS: dict[str, Callable[[bytes, int], tuple[bytes, bool]]] = {
    "ascii85": filters.decode_ascii85,
    "asciihex": filters.decode_asciihex,
    "lzw": filters.decode_lzw,
    "lzw-early0": lambda data, limit: filters.decode_lzw(data, limit, 0),
    "flate": filters.decode_flate,
    "runlength": filters.decode_runlength,
    "subfile": filters.decode_subfile,
    "subfile-count": lambda data, limit: filters.decode_subfile(data, limit, 3),
    "subfile-eod": lambda data, limit: filters.decode_subfile(data, limit, 1, b"%%EOF"),
}


def _check_decoded(result: Any, limit: int, what: str) -> None:
    assert isinstance(result, tuple) and len(result) == 2, what
    out, complete = result
    assert isinstance(out, bytes) and isinstance(complete, bool), what
    assert len(out) <= limit, f"{what}: {len(out)} bytes out, limit {limit}"


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@settings(FUZZ, max_examples=FILTER_EXAMPLES)
@given(data=st.data(), limit=st.integers(0, 1 << 16))
def test_filter_decoder(decoder: str, data: st.DataObject, limit: int) -> None:
    encoded = _encoded(data)
    _note_input(encoded, decoder=decoder, limit=limit)
    result = _timed(lambda: DECODERS[decoder](encoded, limit), decoder)
    _check_decoded(result, limit, decoder)


_FILTER_NAMES = [
    "ASCIIHexDecode", "ASCII85Decode", "LZWDecode", "FlateDecode", "RunLengthDecode",
    "SubFileDecode", "AHx", "A85", "LZW", "Fl", "RL", "CCF", "DCT", "/FlateDecode", "Bogus",
]  # fmt: skip
# DecodeParms without a Predictor (predictors have their own property below).
_PARMS = st.none() | st.dictionaries(
    st.sampled_from(
        ["Colors", "BitsPerComponent", "Columns", "EarlyChange", "EODCount", "EODString"]
    ),
    st.one_of(
        st.integers(-5, 4096),
        st.sampled_from([1, 2, 10, 11, 12, 13, 14, 15]),
        st.text(max_size=4),
        st.binary(max_size=4),
        st.none(),
    ),
    max_size=5,
)


@settings(FUZZ, max_examples=FILTER_EXAMPLES)
@given(
    data=st.data(),
    names=st.lists(st.sampled_from(_FILTER_NAMES), min_size=1, max_size=3),
    limit=st.integers(0, 1 << 16),
)
def test_filter_chain(data: st.DataObject, names: list[str], limit: int) -> None:
    """decode_one / decode_chain with DecodeParms never raise; output ≤ limit."""
    encoded = _encoded(data)
    parms: list[Mapping[str, Any] | None] = data.draw(st.lists(_PARMS, max_size=3), label="parms")
    _note_input(encoded, names=names, parms=parms, limit=limit)
    first = _timed(
        lambda: filters.decode_one(encoded, names[0], parms[0] if parms else None, limit),
        "decode_one",
    )
    if filters.is_supported(names[0]):
        _check_decoded(first, limit, f"decode_one {names[0]}")
    else:  # documented: an unsupported filter (DCT, CCITT...) passes the data through
        assert first == (encoded, False)
    out, complete, steps = _timed(
        lambda: filters.decode_chain(encoded, names, parms, limit), "decode_chain"
    )
    if filters.is_supported(names[0]):
        _check_decoded((out, complete), limit, f"decode_chain {names}")
    else:
        assert (out, complete) == (encoded, False)
    assert all(isinstance(s, str) for s in steps) and len(steps) <= len(names)


# Regression: a short PNG row was padded to Colors*BitsPerComponent*Columns/8 bytes (1 GiB a
# row for a hostile /Columns) and the result was not cut to the limit.
@example(payload=b"\x00", parms={"Predictor": 12, "Columns": 100}, limit=10)
@example(
    payload=b"\x02" + b"A" * 40,
    parms={"Predictor": 12, "Columns": 1 << 24, "Colors": 32, "BitsPerComponent": 16},
    limit=1 << 16,
)
@settings(FUZZ, max_examples=FILTER_EXAMPLES)
@given(
    payload=st.binary(max_size=1024),
    parms=st.fixed_dictionaries(
        {"Predictor": st.sampled_from([1, 2, 10, 11, 12, 13, 14, 15, 99])},
        optional={
            "Colors": st.integers(-1, 8),
            "BitsPerComponent": st.sampled_from([1, 2, 3, 4, 8, 16]),
            "Columns": st.integers(-1, 1 << 24),
        },
    ),
    limit=st.integers(0, 1 << 16),
)
def test_filter_predictor(payload: bytes, parms: dict[str, int], limit: int) -> None:
    """FlateDecode + TIFF/PNG predictor (DecodeParms) never raises; output ≤ limit."""
    encoded = zlib.compress(payload)
    result = _timed(lambda: filters.decode_one(encoded, "FlateDecode", parms, limit), "decode_one")
    _check_decoded(result, limit, f"decode_one FlateDecode {parms}")


# --------------------------------------------------------------------------- parse_object


@settings(FUZZ, max_examples=PARSE_OBJECT_EXAMPLES)
@given(data=st.data(), name=st.sampled_from(NAMES))
def test_parse_object_end_to_end(data: st.DataObject, name: str | None) -> None:
    if data.draw(st.booleans(), label="arbitrary"):
        blob = data.draw(st.binary(max_size=4096), label="bytes")
    else:
        entries = [entry for name_ in sorted(SEEDS) for entry in SEEDS[name_]]
        seed, _ = entries[data.draw(st.integers(0, len(entries) - 1), label="seed")]
        blob = _mutate(data, seed)
    _note_input(blob, name=name)
    job = _timed(lambda: parse_object(blob, name, depth=0), "parse_object")
    if job is None:
        return
    assert isinstance(job, ParsedJob)
    assert job.format in REGISTRY
    # parse_object turns a parser exception into a "parser failed" job: that is a contract breach.
    failed = [n for n in job.notes if "parser failed" in n]
    assert not failed, f"{job.format}: {failed}"
    json.dumps(job.metadata.to_dict(reveal=True))
