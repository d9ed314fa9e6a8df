"""PCL 5: text from groff -Tlj4 and the CUPS sample, raster pages from gs ljet4 and gimp.pcl,
HP-GL/2 labels and hostile inputs. HP-GL/2 and transparent print data are built by hand (no Linux
tool here writes them), command by command from the PCL 5 Technical Reference."""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from forensics.formats import pcl5
from forensics.formats.base import NotThisFormat, ParseContext, ParsedJob
from forensics.formats.pcl5 import Pcl5Parser, Pcl5Reader, TextLayout

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"


def sample(relative: str) -> bytes:
    path = SAMPLES / relative
    if not path.is_file():
        pytest.skip(f"shared sample {relative} is not present")
    return path.read_bytes()


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def parse(data: bytes) -> ParsedJob:
    return Pcl5Parser().parse(data, ParseContext())


def text_of(job: ParsedJob, name: str = "text") -> str:
    return next((t.text for t in job.texts if t.name == name), "")


@pytest.fixture(scope="module")
def groff_pcl(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    need("groff")
    source = tmp_path_factory.mktemp("groff") / "doc.ms"
    source.write_text(
        ".TL\nQuarterly Report\n.PP\n"
        f"{SENTENCE} was admitted on Tuesday.\n"
        "The quick brown fox jumps over the lazy dog.\n"
        ".bp\n.PP\nSecond page: card 4111 1111 1111 1111.\n"
        ".bp\n.PP\nThird page ends here.\n"
    )
    result = subprocess.run(
        ["groff", "-ms", "-Tlj4", str(source)], capture_output=True, check=True, timeout=60
    )
    return result.stdout


def test_groff_text_reads_as_words_and_lines(groff_pcl: bytes) -> None:
    assert Pcl5Parser.sniff(groff_pcl[:4096])
    job = parse(groff_pcl)
    text = text_of(job)
    assert f"{SENTENCE} was admitted on Tuesday." in text
    assert "The quick brown fox" in text
    assert "Quarterly Report\n" in text  # the title is a line of its own
    assert "card 4111 1111 1111 1111." in text
    assert job.metadata.pages == 3 and len(job.pages) == 3
    assert [p.number for p in job.pages] == [1, 2, 3]
    assert not any(p.image_only for p in job.pages)
    assert job.complete and job.length == len(groff_pcl)
    # Pages are byte ranges of the stream, in order and without overlap.
    for before, after in zip(job.pages, job.pages[1:], strict=False):
        assert before.offset is not None and before.length is not None
        assert before.offset + before.length <= (after.offset or 0)


def test_gs_ljet4_raster_only(tmp_path: Path) -> None:
    need("gs")
    source = tmp_path / "doc.ps"
    source.write_text(
        "%!PS\n/Helvetica findfont 14 scalefont setfont\n"
        f"72 700 moveto ({SENTENCE}) show showpage\n72 700 moveto (page two) show showpage\n"
    )
    out = tmp_path / "out.pcl"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=ljet4",
            "-sPAPERSIZE=letter",
            f"-sOutputFile={out}",
            str(source),
        ],
        check=True,
        timeout=120,
    )
    job = parse(out.read_bytes())
    assert job.metadata.pages == 2
    assert all(p.image_only for p in job.pages)
    assert job.metadata.resolution == "600 dpi"
    assert job.metadata.media == "letter"
    assert text_of(job) == ""  # the text is raster: nothing to read without OCR


def test_gimp_raster_sample() -> None:
    data = sample("pret/gimp.pcl")
    job = parse(data)
    assert job.metadata.pages == 1
    page = job.pages[0]
    assert (page.width, page.height, page.resolution) == (400, 600, "75 dpi")
    assert page.image_only
    assert not job.texts
    assert ("raster_graphics_blocks", "1") in job.metadata.extra
    assert job.length == len(data)


def test_cups_text_sample() -> None:
    data = sample("cups/testfile.pcl")
    job = parse(data)
    text = text_of(job)
    assert "All work and no play makes Johhny a dull boy." in text
    assert job.metadata.pages == 1 and not job.pages[0].image_only


def test_binary_payloads_skipped_and_transparent_data_read() -> None:
    data = (
        b"\x1bE\x1b&l2a0o1X"  # combined: letter, portrait, 1 copy
        b"\x1b*t300R\x1b*r1A\x1b*b5WSECRT\x1b*rB"  # raster row whose bytes look like text
        b"\x1b(s20WABCDEFGHIJKLMNOPQRST"  # character data
        b"\x1b&p6XHello!"  # transparent print data: printed
        b" world\x0c\x1bE"
    )
    job = parse(data)
    text = text_of(job)
    assert "Hello! world" in text
    assert "SECRT" not in text and "ABCDEF" not in text
    assert job.metadata.media == "letter" and job.metadata.copies == 1
    assert job.metadata.pages == 1


def test_lowercase_data_command_continues_the_sequence() -> None:
    # ESC*b3v<3 bytes>3W<3 bytes>: two planes in one combined sequence.
    data = b"\x1bE\x1b*r1A\x1b*b3vAAA3WBBB\x1b*rBvisible\x0c"
    job = parse(data)
    assert text_of(job) == "visible"
    assert job.notes == []


def test_cursor_moves_become_spaces_and_lines() -> None:
    data = (
        b"\x1bE\x1b&u600D\x1b(s1p12V"
        b"\x1b*p100x100YHello\x1b*p+60Xworld"  # a word space (0.1 inch)
        b"\x1b*p-3Xs"  # a kern: no space
        b"\x1b*p100x400YNext\x1b&a+2CLine"  # new line, then column move
        b"\x0c"
    )
    assert text_of(parse(data)) == "Hello worlds\nNext Line"


def test_symbol_set_roman8() -> None:
    # Roman-8 (8U) 0xCC is "ä" (Latin-1 would give "Ì").
    data = b"\x1bE\x1b(8UK\xccse\x0c"
    assert text_of(parse(data)) == "Käse"
    job = parse(b"\x1bEK\xe4se\x0c")
    assert text_of(job) == "Käse"  # no symbol set: Latin-1, with a note
    assert any("Latin-1" in note for note in job.notes)


def test_hpgl2_labels() -> None:
    data = (
        b"\x1bE\x1b%0BIN;SP1;PA100,100;PD;PU;LBPatient Jane\x03;"
        b'DT*;LBSSN 536-22-8714*;CO"LB not a label";LBLast\x1b%0A\x0c'
    )
    job = parse(data)
    labels = text_of(job, "HP-GL/2 labels")
    assert labels.splitlines() == ["Patient Jane", "SSN 536-22-8714", "Last"]
    assert job.metadata.pages == 1


def test_uel_ends_the_stream() -> None:
    data = b"\x1bEtext\x0c\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X"
    job = parse(data)
    assert job.length == data.index(b"\x1b%-12345X")
    assert Pcl5Parser().extent(data, 0) == data.index(b"\x1b%-12345X")


def test_sniff_rules() -> None:
    assert Pcl5Parser.sniff(b"\x1bE\x1b&l0O")
    assert Pcl5Parser.sniff(b"\x1b&l0O\x1b*r1A\x1b*b2WAB")
    assert not Pcl5Parser.sniff(b"\x1b%-12345X@PJL")  # PJL claims this
    assert not Pcl5Parser.sniff(b"\x1b\x00\xff\x13\x99garbage" * 8)
    assert not Pcl5Parser.sniff(b"MZ\x90\x00" + bytes(60))
    rng = random.Random(5)
    claimed = sum(
        Pcl5Parser.sniff(b"\x1b" + bytes(rng.randrange(256) for _ in range(63)))
        for _ in range(2000)
    )
    assert claimed < 20  # an ESC followed by noise is rarely a command sequence
    with pytest.raises(NotThisFormat):
        parse(b"just some text without any escape sequence\n" * 10)


def test_huge_length_field() -> None:
    job = parse(b"\x1bE\x1b*b999999999999W\x00\x01")
    assert not job.complete and any("announces" in note for note in job.notes)


def hostile_ok(data: bytes) -> None:
    with contextlib.suppress(NotThisFormat):
        Pcl5Parser().parse(data, ParseContext())


def test_hostile_inputs(groff_pcl: bytes) -> None:
    started = time.monotonic()
    gimp = (
        (SAMPLES / "pret/gimp.pcl").read_bytes() if (SAMPLES / "pret/gimp.pcl").is_file() else b""
    )
    for source in (groff_pcl, gimp[:8000]):
        for cut in range(0, len(source), 7):
            hostile_ok(source[:cut])
    rng = random.Random(1)
    for _ in range(200):
        hostile_ok(b"\x1bE" + bytes(rng.randrange(256) for _ in range(rng.randrange(2000))))
    hostile_ok(b"\x1bE" + b"\x1b*b0w" * 100_000)  # one endless combined sequence
    hostile_ok(b"\x1bE\x1b%0B" + b"LB" * 100_000)
    hostile_ok(b"\x1bE\x1b%0BDT" + b"\x1b")
    hostile_ok(b"\x1bE\x1b&a" + b"9" * 100_000 + b"H")
    hostile_ok(b"\x1bE" + b"\x1b(s" + b"1p" * 1000 + b"T")
    hostile_ok(b"\x1bE\x1bY" + b"A" * 1000)
    assert time.monotonic() - started < 60


def test_absolutely_placed_runs_are_words() -> None:
    # Drivers that place each word (run) with an absolute move, proportional font.
    data = (
        b"\x1bE\x1b&u300D\x1b(s1p10V"
        b"\x1b*p100x100YPatient\x1b*p241XName:"  # Helvetica "Patient" is 0.43 inch at 10 pt
        b"\x1b*p100x200YH\x1b*p108Xi"  # one glyph at a time: no space between them
        b"\x0c"
    )
    assert text_of(parse(data)) == "Patient Name:\nHi"


# -- the fast token forms read like the general decoder -----------------------------------------

# Only text, control codes, the UEL and two-character commands as tokens: every parameterised
# sequence goes through the general decoder (_parse_sequence), byte by byte.
GENERAL_DECODER_ONLY = re.compile(
    rb"(?P<text>[\x20-\x7e\x80-\xff]+)|(?P<control>[\x00-\x1a\x1c-\x1f\x7f])"
    rb"|\x1b(?:(?P<uel>%-12345X)|(?P<two_character>[\x30-\x7e])|(?P<escape>))"
)

# Hand-built streams for the forms the fast tokens take and the cases next to them.
EDGE_STREAMS = [
    # word steps (groff): kerns, word spaces, a step back, words followed by a space, high bytes,
    # a non-ASCII symbol set (UTF-16) and UTF-8 text, an absolute move in between
    b"\x1bE\x1b(s1p10V\x1b*p+49XGener\x1b*p-3Xal\x1b*p+49XCommands\x1b*p-900Xback"
    b"\x1b*p+20Xa \x1b*p+20Xb\xe4\x1b*p100Xc\x1b*p+5Xd\x0c"
    b"\x1b(18N\x1b*p+49XAB\x1b*p+49XCD\x1b(0N\x1b&t83P\x1b*p+49Xx\xc3\xa4\x0c",
    # positions, moves and combined sequences, with and without a group char
    b"\x1bE\x1b&u600D\x1b*p100x200YLine\x1b*p+60Y\x1b*p-0.5XNext\x1b*p.Xdot\x1b*p+.Yz"
    b"\x1b(s1p0s3b4101T\x1b(s10.5v1P\x1b&l1o2a3X\x1b(19Ux\x80\x1b(8U\xcc\x1b&a+2C\x1b&a10R\x0c",
    # a sequence that enters HP-GL/2 mode part way (the rest of it is not read), with a group
    b"\x1bE\x1b%0b1BLBfirst\x03;\x1b%0A\x1b%l1BLBsecond\x03;\x1b%1A\x0c",
    # data commands in single and combined sequences, a lower-case data command, a huge length
    b"\x1bE\x1b*r1A\x1b*b2m3WABC\x1b*b3W\x00\x01\x02\x1b*b3vXYZ2WQQ\x1b*bW\x1b&p3XHi!"
    b"\x1b)s64W" + b"F" * 48 + b"Font Name  12345" + b"\x1b*b99999999999999W",
    # long values (the general decoder's 32-character window), 64 and 65 commands
    b"\x1bE\x1b*p1234567890123456X\x1b*p1234567890123456.123456789012345Xa"
    b"\x1b(s" + b"1p" * 63 + b"1Tb\x1b(s" + b"1p" * 64 + b"1Tc\x1b&l" + b"9" * 40 + b"Od\x0c",
    # plain text lines: CR LF, bare CR and LF, blank lines, tabs, high bytes with and without
    # a symbol set, form feeds
    b"\x1bE" + b"line one\r\n  indented  words \r\n\r\n\tx\r\n" * 300 + b"a\rb\nc\r\r\n\xe4\r\n"
    b"\x1b(8U\xcc\r\n\x0cnext page\r\n\x1b(18Nab\r\n\x0c",
    # row lines (ESC&a#R and a CR LF ended line, as report generators place lines): runs longer
    # than one token, empty lines, row 0, leading zeros, rows of 5 and of 6 digits, signed,
    # fractional and combined row moves, a row move not followed by a line, a bare CR, high
    # bytes with and without a symbol set, UTF-16 and UTF-8 text, form feeds
    b"\x1bE"
    + b"".join(b"\x1b&a%dRrow %d of the report\r\n" % (n % 60, n) for n in range(300))
    + b"\x1b&a5R\r\n\x1b&a0005Rlead\r\n\x1b&a99999Rfar\r\n\x1b&a123456Rsix\r\n"
    b"\x1b&a+2Rsigned\r\n\x1b&a2.5Rhalf\r\n\x1b&a3r4CcombinedR\r\n\x1b&a7Rno end\x1b&a8R"
    b"bare\rcr\r\n\x1b&a9R\xe4 high\r\n\x0c\x1b(8U\x1b&a1R\xcc roman\r\n"
    b"\x1b(18N\x1b&a2Rab\r\n\x1b(0N\x1b&t83P\x1b&a3Rx\xc3\xa4\r\n\x0c",
    # malformed and cut-off sequences
    b"\x1bE\x1b*p+++206x\x1bW\x1b*b\x1b&\x1b(s1p\x1b*p+269x\x1b*b0Wb\x1bYdisplay\x1bZ\x1b",
]


def outcome(data: bytes, ctx: ParseContext) -> ParsedJob | str:
    try:
        return Pcl5Parser().parse(data, ctx)
    except NotThisFormat as error:
        return f"NotThisFormat: {error}"


def same_job(data: bytes, monkeypatch: pytest.MonkeyPatch, max_output: int | None = None) -> None:
    ctx = ParseContext() if max_output is None else ParseContext(max_output=max_output)
    fast = outcome(data, ctx)
    with monkeypatch.context() as patch:
        patch.setattr(pcl5, "TOKEN", GENERAL_DECODER_ONLY)
        general = outcome(data, ctx)
    assert fast == general


@pytest.mark.parametrize("stream", EDGE_STREAMS)
def test_fast_tokens_read_like_the_general_decoder(
    stream: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_job(stream, monkeypatch)
    same_job(stream, monkeypatch, max_output=40)  # the output cap met part way
    for cut in range(0, len(stream), max(1, len(stream) // 97)):
        same_job(stream[:cut], monkeypatch)


def test_fast_tokens_on_driver_output(groff_pcl: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    same_job(groff_pcl, monkeypatch)
    same_job(groff_pcl * 40, monkeypatch, max_output=5000)
    for relative in ("pret/gimp.pcl", "cups/testfile.pcl"):
        path = SAMPLES / relative
        if path.is_file():
            same_job(path.read_bytes(), monkeypatch)


def test_fast_tokens_give_the_renderer_the_same_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # The renderer reads iter_commands: the same items (keys, values, payloads, offsets) from
    # the fast tokens as from the general decoder, so the same pages.
    for stream in EDGE_STREAMS:
        fast = list(pcl5.iter_commands(stream))
        with monkeypatch.context() as patch:
            patch.setattr(pcl5, "TOKEN", GENERAL_DECODER_ONLY)
            general = list(pcl5.iter_commands(stream))
        assert fast == general


def test_every_byte_starts_a_token() -> None:
    # The main loop relies on it: TOKEN matches at least one byte wherever the data goes on.
    for byte in range(256):
        for following in (b"", b"\x1b", b"\r\n", b"*p", b"(s1p", b"A", b"\x00"):
            token = pcl5.TOKEN.match(bytes([byte]) + following)
            assert token is not None and token.end() >= 1


def test_word_steps_equal_moves_and_texts() -> None:
    rng = random.Random(7)
    for _ in range(300):
        pitch = rng.choice([10.0, None])
        one_call = TextLayout(limit=rng.choice([10**6, 30]), pitch=pitch)
        separate = TextLayout(limit=one_call.limit, pitch=pitch)
        before = rng.choice(["", "lead ", "x"])
        for layout in (one_call, separate):
            layout.text(before)
        steps = [
            (rng.choice([0.01, -0.01, 0.1, -0.5, rng.uniform(-1, 1)]), rng.choice("ab!XYZ") * 3)
            for _ in range(rng.randrange(1, 30))
        ]
        one_call.moves_and_words(steps)
        for dx, word in steps:
            separate.move(dx=dx)
            separate.text(word)
        assert one_call.result() == separate.result() and one_call.full == separate.full
        if not one_call.full:
            assert vars(one_call) == vars(separate)


def test_ended_lines_equal_text_and_line_ends() -> None:
    rng = random.Random(11)
    pieces = ["word", "two words", "  lead", "trail  ", "a  b   c", " ", "   ", "", "x"]
    for _ in range(400):
        pitch = rng.choice([10.0, 12.0, None])
        one_call = TextLayout(limit=rng.choice([10**6, 40, 7]), pitch=pitch)
        separate = TextLayout(limit=one_call.limit, pitch=pitch)
        before = rng.choice(["", "before", "before "])
        for layout in (one_call, separate):  # an empty line, as a CR LF leaves one
            layout.text(before)
            layout.newline(hard=not layout.line_has_text)
            layout.y += 0.125
            layout.x = 0.0
        lines = ["".join(rng.choices(pieces, k=rng.randrange(0, 4))) for _ in range(20)]
        rows = [str(rng.randrange(0, 70)) for _ in lines] if rng.random() < 0.5 else None
        vmi = rng.choice([1 / 6, 1 / 8, 0.125])
        one_call.ended_lines(lines, vmi, rows)
        for index, line in enumerate(lines):
            if rows is not None:
                separate.move(y=float(rows[index]) * vmi)
            if line:
                separate.text(line)
            separate.newline(hard=not separate.line_has_text)
            separate.y += vmi
            separate.x = 0.0
        assert one_call.result() == separate.result() and one_call.full == separate.full
        if not one_call.full:
            assert vars(one_call) == vars(separate)


def test_long_runs_of_words_and_lines() -> None:
    # Runs longer than one token (MAX_WORDS_TOKEN, MAX_LINES_TOKEN) read on without a seam.
    words = b"".join(b"\x1b*p+49Xw%d" % index for index in range(1000))
    job = parse(b"\x1bE" + words + b"\x0c")
    assert text_of(job) == " ".join(f"w{index}" for index in range(1000))
    assert ("pcl_commands", "1001") in job.metadata.extra
    lines = b"".join(b"line %d\r\n" % index for index in range(1000))
    assert text_of(parse(b"\x1bE" + lines + b"\x0c")).splitlines() == [
        f"line {index}" for index in range(1000)
    ]


def test_reading_state_stays_bounded() -> None:
    # Distinct sequences (typefaces) do not grow the kept readings without end, and megabytes
    # of text are kept as a few joined blocks, not millions of parts.
    data = b"\x1bE" + b"".join(b"\x1b(s0p%dT\x1b*p+49Xword" % face for face in range(20_000))
    reader = Pcl5Reader(data, limit=10**9)
    reader.run()
    assert len(reader.sequence_plans) <= pcl5.MAX_SEQUENCE_PLANS
    assert len(reader.layout.parts) < pcl5.PARTS_BLOCK
    assert reader.layout.result() == " ".join(["word"] * 20_000)


def test_raster_rows_counted_in_every_form() -> None:
    # ESC*b#W alone (a token of its own), in a combined sequence, in lower case, and cut short.
    data = b"\x1bE\x1b*r1A\x1b*b2WAB\x1b*b0W\x1b*b2m3WABC\x1b*b1wA1WX\x1b*b1Y\x1b*rB\x1b*b40Wshort"
    job = parse(data)
    assert ("raster_rows", "6") in job.metadata.extra
    assert job.pages[0].image_only and not job.complete
