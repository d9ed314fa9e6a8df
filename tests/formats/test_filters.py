"""Stream decoders against Python's own encoders, reference encoders written from the specs,
real ps2write output, and corrupt or hostile input."""

from __future__ import annotations

import base64
import random
import time
import zlib
from pathlib import Path

import pytest

from forensics.formats import filters

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
LIMIT = 1 << 24


def _payloads() -> list[bytes]:
    rng = random.Random(1234)
    return [
        b"",
        b"a",
        b"ab",
        b"abc",
        b"abcd",
        b"\x00\x00\x00\x00",
        b"\x00" * 13,
        bytes(range(256)),
        b"Patient Name: Jane Example, SSN 536-22-8714\n" * 50,
        bytes(rng.getrandbits(8) for _ in range(5000)),
    ]


# --------------------------------------------------------------------------- ASCII85


@pytest.mark.parametrize("payload", _payloads())
def test_ascii85_matches_python_encoder(payload: bytes) -> None:
    # adobe=True gives the "<~ ... ~>" form; wrapcol adds line breaks (white space is ignored).
    encoded = base64.a85encode(payload, adobe=True, wrapcol=40)
    assert filters.decode_ascii85(encoded, LIMIT) == (payload, True)
    bare = base64.a85encode(payload) + b"~>"  # PDF style: no "<~", EOD only
    assert filters.decode_ascii85(bare, LIMIT) == (payload, True)


def test_ascii85_z_and_partial_groups() -> None:
    assert filters.decode_ascii85(b"z~>", LIMIT) == (b"\x00" * 4, True)
    assert filters.decode_ascii85(b"zz!!~>", LIMIT) == (b"\x00" * 9, True)
    # Final partial group of 2..4 characters yields 1..3 bytes (PLRM §3.13.3).
    for size in (1, 2, 3):
        payload = b"xyz"[:size]
        encoded = base64.a85encode(payload) + b"~>"
        assert filters.decode_ascii85(encoded, LIMIT) == (payload, True)


def test_ascii85_corrupt() -> None:
    good = base64.a85encode(b"Hello, world!!!!")
    # A character outside '!'..'u' stops decoding; what came before is kept.
    out, complete = filters.decode_ascii85(good[:10] + b"{" + good[10:] + b"~>", LIMIT)
    assert not complete and out == b"Hello, w"
    # No EOD: decoded, but not complete.
    assert filters.decode_ascii85(good, LIMIT) == (b"Hello, world!!!!", False)
    # A group above 2^32-1 ("s8W-\"" is the largest valid one) is an error.
    assert filters.decode_ascii85(b"uuuuu~>", LIMIT) == (b"", False)
    # A lone final character cannot encode a byte.
    assert filters.decode_ascii85(b"!!!!!!~>", LIMIT) == (b"\x00" * 4, False)
    # "z" inside a group is an error.
    assert filters.decode_ascii85(b"!!z!!~>", LIMIT)[1] is False


def test_ascii85_limit() -> None:
    encoded = base64.a85encode(b"A" * 1000) + b"~>"
    out, complete = filters.decode_ascii85(encoded, 10)
    assert out == b"A" * 10 and not complete


# --------------------------------------------------------------------------- ASCIIHex


def test_asciihex() -> None:
    for payload in _payloads():
        encoded = payload.hex().upper().encode() + b">"
        assert filters.decode_asciihex(encoded, LIMIT) == (payload, True)
    assert filters.decode_asciihex(b"48 65\n6c 6C\t6f>", LIMIT) == (b"Hello", True)
    assert filters.decode_asciihex(b"414>", LIMIT) == (b"A@", True)  # odd final digit: 4 → 0x40
    assert filters.decode_asciihex(b"4142", LIMIT) == (b"AB", False)  # no EOD
    assert filters.decode_asciihex(b"41xx42>", LIMIT) == (b"A", False)  # bad digit


# --------------------------------------------------------------------------- LZW


def lzw_encode(data: bytes, early_change: int = 1) -> bytes:
    """Reference LZW encoder written from PLRM §3.13.3 (LZWEncode): 9-12 bit codes MSB-first,
    Clear-table (256) first and whenever the table fills, EOD (257) last."""
    out_bits: list[tuple[int, int]] = []
    width = 9

    def emit(code: int) -> None:
        out_bits.append((code, width))

    table: dict[bytes, int] = {bytes([i]): i for i in range(256)}
    next_code = 258
    emit(256)
    current = b""
    for byte in data:
        candidate = current + bytes([byte])
        if candidate in table:
            current = candidate
            continue
        emit(table[current])
        table[candidate] = next_code
        next_code += 1
        if next_code + early_change > (1 << width) - 1 + 1 and width < 12:
            width += 1
        if next_code >= 4096 - early_change:
            emit(256)
            table = {bytes([i]): i for i in range(256)}
            next_code = 258
            width = 9
        current = bytes([byte])
    if current:
        emit(table[current])
        # The decoder adds an entry for this code too; it may widen the code for EOD.
        next_code += 1
        if next_code + early_change > (1 << width) and width < 12:
            width += 1
    emit(257)
    accumulator = 0
    bits = 0
    result = bytearray()
    for code, size in out_bits:
        accumulator = (accumulator << size) | code
        bits += size
        while bits >= 8:
            bits -= 8
            result.append((accumulator >> bits) & 0xFF)
    if bits:
        result.append((accumulator << (8 - bits)) & 0xFF)
    return bytes(result)


@pytest.mark.parametrize("early_change", [1, 0])
def test_lzw_round_trip(early_change: int) -> None:
    rng = random.Random(99)
    payloads = [
        *_payloads(),
        b"TOBEORNOTTOBEORTOBEORNOT#" * 400,  # long runs: table fills, Clear-table is sent
        bytes(rng.choice(b"ab") for _ in range(20000)),
        bytes(rng.getrandbits(8) for _ in range(20000)),
    ]
    for payload in payloads:
        encoded = lzw_encode(payload, early_change)
        assert filters.decode_lzw(encoded, LIMIT, early_change) == (payload, True), len(payload)


def test_lzw_kwkwk_case() -> None:
    # "aaaa...": the encoder emits a code the decoder has not yet added (PLRM's KwKwK case).
    payload = b"a" * 1000
    assert filters.decode_lzw(lzw_encode(payload), LIMIT) == (payload, True)


def test_lzw_corrupt_and_truncated() -> None:
    encoded = lzw_encode(b"Patient Name: Jane Example " * 20)
    out, complete = filters.decode_lzw(encoded[: len(encoded) // 2], LIMIT)
    assert not complete and out.startswith(b"Patient Name: Jane Example")
    # Code 300 right after Clear-table: not in the table → stop.
    bad = bytes([0x80, 0x4B, 0x00])  # 256 (9 bits) then 300 (9 bits)
    assert filters.decode_lzw(bad, LIMIT) == (b"", False)


def test_lzw_ps2write_sample() -> None:
    """Ghostscript's ps2write wraps its prolog in ASCII85 + LZW (PRET lorem.ps)."""
    path = SAMPLES / "pret" / "lorem.ps"
    if not path.exists():
        pytest.skip(f"sample {path} not present")
    data = path.read_bytes()
    start = data.index(b"cvx exec") + len(b"cvx exec") + 1
    end = data.index(b"~>", start) + 2
    out, complete, steps = filters.decode_chain(
        data[start:end], ["ASCII85Decode", "LZWDecode"], None, LIMIT
    )
    assert complete and steps == ["ASCII85Decode", "LZWDecode"]
    assert out.startswith(b"/DSC_OPDFREAD true def")
    assert b"/Encoding" in out


# --------------------------------------------------------------------------- Flate


def test_flate() -> None:
    for payload in _payloads():
        assert filters.decode_flate(zlib.compress(payload), LIMIT) == (payload, True)
        raw = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = raw.compress(payload) + raw.flush()
        assert filters.decode_flate(deflated, LIMIT) == (payload, True)  # no zlib header


def test_flate_truncated_and_garbage() -> None:
    payload = bytes(random.Random(5).getrandbits(8) for _ in range(100_000))
    compressed = zlib.compress(payload)
    out, complete = filters.decode_flate(compressed[: len(compressed) // 2], LIMIT)
    assert not complete and 0 < len(out) < len(payload) and payload.startswith(out)
    assert filters.decode_flate(b"\x00\xffgarbage" * 10, LIMIT)[1] is False
    assert filters.decode_flate(b"", LIMIT) == (b"", False)


def test_flate_bomb_stops_at_limit_quickly() -> None:
    packer = zlib.compressobj(9)
    chunk = b"\x00" * (1 << 20)
    bomb = b"".join(packer.compress(chunk) for _ in range(512)) + packer.flush()  # 512 MiB of zeros
    assert len(bomb) < 1 << 20
    started = time.monotonic()
    out, complete = filters.decode_flate(bomb, 1 << 20)
    assert len(out) == 1 << 20 and not complete
    assert time.monotonic() - started < 2.0


# --------------------------------------------------------------------------- RunLength


def runlength_encode(data: bytes) -> bytes:
    """Reference encoder from PLRM §3.13.3: runs of 2..128 → (257-n, byte); literals ≤ 128."""
    out = bytearray()
    index = 0
    while index < len(data):
        run = 1
        while index + run < len(data) and run < 128 and data[index + run] == data[index]:
            run += 1
        if run >= 2:
            out += bytes([257 - run, data[index]])
            index += run
            continue
        literal_end = index + 1
        while (
            literal_end < len(data)
            and literal_end - index < 128
            and not (literal_end + 1 < len(data) and data[literal_end] == data[literal_end + 1])
        ):
            literal_end += 1
        out.append(literal_end - index - 1)
        out += data[index:literal_end]
        index = literal_end
    return bytes(out + b"\x80")


def test_runlength() -> None:
    for payload in [*_payloads(), b"\x00" * 1000 + b"abc" + b"\xff" * 300]:
        assert filters.decode_runlength(runlength_encode(payload), LIMIT) == (payload, True)
    assert filters.decode_runlength(b"\x02abc", LIMIT) == (b"abc", False)  # no EOD
    assert filters.decode_runlength(b"\x05ab", LIMIT) == (b"ab", False)  # literal cut short
    assert filters.decode_runlength(b"\xfe", LIMIT) == (b"", False)  # run without its byte
    out, complete = filters.decode_runlength(b"\x81A" * 100_000, 1000)  # 128 each → capped
    assert len(out) == 1000 and not complete


# --------------------------------------------------------------------------- SubFileDecode


def test_subfile() -> None:
    data = b"line one\n%%EndData\nline two\n%%EndData\nrest"
    assert filters.decode_subfile(data, LIMIT, 0, b"%%EndData") == (b"line one\n", True)
    assert filters.decode_subfile(data, LIMIT, 1, b"%%EndData") == (
        b"line one\n%%EndData\nline two\n",
        True,
    )
    assert filters.decode_subfile(data, LIMIT, 5, b"") == (b"line ", True)
    assert filters.decode_subfile(b"no marker", LIMIT, 0, b"%%EOF") == (b"no marker", False)


# --------------------------------------------------------------------------- predictors


def png_encode(rows: list[bytes], pixel_bytes: int) -> bytes:
    """PNG filter types 0-4 (RFC 2083 §6), cycling through them row by row."""
    out = bytearray()
    previous = bytes(len(rows[0]))
    for number, row in enumerate(rows):
        kind = number % 5
        encoded = bytearray(len(row))
        for i, value in enumerate(row):
            left = row[i - pixel_bytes] if i >= pixel_bytes else 0
            up = previous[i]
            corner = previous[i - pixel_bytes] if i >= pixel_bytes else 0
            if kind == 0:
                predicted = 0
            elif kind == 1:
                predicted = left
            elif kind == 2:
                predicted = up
            elif kind == 3:
                predicted = (left + up) >> 1
            else:
                estimate = left + up - corner
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
                predicted = (left, up, corner)[distances.index(min(distances))]
            encoded[i] = (value - predicted) & 0xFF
        out.append(kind)
        out += encoded
        previous = row
    return bytes(out)


def test_png_predictor_through_flate() -> None:
    rng = random.Random(7)
    columns, colors = 17, 3
    rows = [bytes(rng.getrandbits(8) for _ in range(columns * colors)) for _ in range(12)]
    encoded = zlib.compress(png_encode(rows, colors))
    parms = {"Predictor": 12, "Colors": colors, "BitsPerComponent": 8, "Columns": columns}
    out, complete, steps = filters.decode_chain(encoded, ["/FlateDecode"], [parms], LIMIT)
    assert out == b"".join(rows) and complete and steps == ["FlateDecode"]


def test_tiff_predictor() -> None:
    rows = [bytes([10, 20, 30, 11, 22, 33, 12, 24, 36]), bytes([1, 1, 1, 2, 2, 2, 3, 3, 3])]
    differenced = bytearray()
    for row in rows:
        differenced += bytes(row[:3]) + bytes((row[i] - row[i - 3]) & 0xFF for i in range(3, 9))
    parms = {"Predictor": 2, "Colors": 3, "Columns": 3}
    assert filters.apply_predictor(bytes(differenced), parms) == (b"".join(rows), True)
    # 1-bit components: 0 1 1 0 1 0 0 0 differenced = 0 1 0 1 1 1 0 0
    assert filters.apply_predictor(
        bytes([0b01011100]), {"Predictor": 2, "BitsPerComponent": 1, "Columns": 8}
    ) == (
        bytes([0b01101000]),
        True,
    )


# --------------------------------------------------------------------------- chains and hostile input


def test_chain_ascii85_lzw_and_unsupported() -> None:
    payload = b"(Quarterly Report) show\n" * 30
    encoded = base64.a85encode(lzw_encode(payload), adobe=True)
    assert filters.decode_chain(encoded, ["A85", "LZW"], [None, None], LIMIT) == (
        payload,
        True,
        ["ASCII85Decode", "LZWDecode"],
    )
    out, complete, steps = filters.decode_chain(b"\xff\xd8\xff", ["DCTDecode"], None, LIMIT)
    assert out == b"\xff\xd8\xff" and not complete and steps == ["DCTDecode (unsupported)"]
    out, complete, steps = filters.decode_chain(b"zz", ["ASCII85Decode"], None, LIMIT)
    assert out == b"\x00" * 8 and not complete and steps == ["ASCII85Decode (incomplete)"]


def test_decoders_never_raise_on_random_input() -> None:
    rng = random.Random(2024)
    decoders = [
        filters.decode_ascii85,
        filters.decode_asciihex,
        filters.decode_lzw,
        filters.decode_flate,
        filters.decode_runlength,
    ]
    started = time.monotonic()
    for size in (0, 1, 2, 7, 64, 1000, 20000):
        for _ in range(20):
            data = bytes(rng.getrandbits(8) for _ in range(size))
            for decode in decoders:
                out, complete = decode(data, 4096)
                assert isinstance(out, bytes) and len(out) <= 4096 and isinstance(complete, bool)
            parms = {"Predictor": rng.choice([2, 10, 12, 15, 99]), "Columns": rng.randint(-5, 50)}
            assert isinstance(filters.apply_predictor(data, parms)[0], bytes)
    assert time.monotonic() - started < 20
