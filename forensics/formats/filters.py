"""Stream decoders shared by PostScript and PDF (and any format that borrows their filters).

Every decoder has the signature ``decode_x(data, limit) -> (output, complete)``: it stops after
``limit`` output bytes and never raises on corrupt input; it returns what it decoded so far with
``complete=False`` instead. ``complete`` is True only when the encoded stream ended properly (its
EOD marker, or the natural end of the data for filters without one) within the limit.

References: PostScript Language Reference Manual 3rd ed. (PLRM) §3.13.3 "Standard Filters";
PDF 32000-1:2008 §7.4 "Filters" (same algorithms, plus DecodeParms and predictors).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Decoded = tuple[bytes, bool]

# PLRM §3.13.3: white-space characters are ignored by ASCIIHexDecode and ASCII85Decode
# (NUL, TAB, LF, FF, CR, SP; PLRM §3.2.2 table 3.1).
_WHITESPACE = frozenset(b"\x00\t\n\x0c\r ")


# --------------------------------------------------------------------------- ASCII85


def decode_ascii85(data: bytes, limit: int) -> Decoded:
    """ASCII base-85 (PLRM §3.13.3 ASCII85Decode): 5 chars '!'..'u' → 4 bytes, 'z' → 4 zeros.

    A leading ``<~`` (the PostScript literal form) is skipped; ``~>`` ends the data; a final
    partial group of n (2..4) characters yields n-1 bytes, as if padded with 'u'.
    """
    out = bytearray()
    start = 0
    # Skip white space and an optional "<~" opening delimiter (PLRM §3.2.2, ASCII base-85 strings).
    while start < len(data) and data[start] in _WHITESPACE:
        start += 1
    if data[start : start + 2] == b"<~":
        start += 2
    group: list[int] = []
    pos = start
    length = len(data)
    while pos < length:
        char = data[pos]
        pos += 1
        if char in _WHITESPACE:
            continue
        if char == 0x7E:  # '~' must be followed by '>' (EOD)
            complete = _flush_ascii85_group(group, out) and data[pos : pos + 1] == b">"
            return _capped(out, limit, complete)
        if char == 0x7A and not group:  # 'z' stands for four zero bytes, only between groups
            out += b"\x00\x00\x00\x00"
        elif 0x21 <= char <= 0x75:
            group.append(char - 0x21)
            if len(group) == 5:
                value = 0
                for digit in group:
                    value = value * 85 + digit
                if value > 0xFFFFFFFF:  # PLRM: a group above 2^32-1 is an error
                    return _capped(out, limit, False)
                out += value.to_bytes(4, "big")
                group.clear()
        else:
            return _capped(out, limit, False)
        if len(out) >= limit:
            return _capped(out, limit, False)
    # Data ran out without "~>": keep the partial group, but the stream is not complete.
    _flush_ascii85_group(group, out)
    return _capped(out, limit, False)


def _flush_ascii85_group(group: list[int], out: bytearray) -> bool:
    """Decode a final partial group (PLRM: n chars → n-1 bytes); False if it is malformed."""
    if not group:
        return True
    if len(group) == 1:  # one character cannot encode any byte
        return False
    count = len(group)
    value = 0
    for digit in group + [84] * (5 - count):  # pad with 'u' (84)
        value = value * 85 + digit
    if value > 0xFFFFFFFF:
        return False
    out += value.to_bytes(4, "big")[: count - 1]
    group.clear()
    return True


# --------------------------------------------------------------------------- ASCIIHex


def decode_asciihex(data: bytes, limit: int) -> Decoded:
    """Hexadecimal pairs (PLRM §3.13.3 ASCIIHexDecode); ``>`` ends it; odd final digit → digit0."""
    out = bytearray()
    high: int | None = None
    for char in data:
        if char in _WHITESPACE:
            continue
        if char == 0x3E:  # '>' is EOD
            if high is not None:
                out.append(high << 4)
            return _capped(out, limit, True)
        digit = _hex_value(char)
        if digit < 0:
            return _capped(out, limit, False)
        if high is None:
            high = digit
        else:
            out.append(high << 4 | digit)
            high = None
            if len(out) >= limit:
                return _capped(out, limit, False)
    if high is not None:
        out.append(high << 4)
    return _capped(out, limit, False)


def _hex_value(char: int) -> int:
    if 0x30 <= char <= 0x39:
        return char - 0x30
    if 0x41 <= char <= 0x46:
        return char - 0x37
    if 0x61 <= char <= 0x66:
        return char - 0x57
    return -1


# --------------------------------------------------------------------------- LZW

# PLRM §3.13.3 LZWDecode: codes 0-255 are literal bytes, 256 is Clear-table, 257 is EOD; new
# entries start at 258; codes are 9 bits wide and grow to 12 bits (table of 4096 entries).
_LZW_CLEAR = 256
_LZW_EOD = 257
_LZW_FIRST = 258
_LZW_MAX_BITS = 12


def decode_lzw(data: bytes, limit: int, early_change: int = 1) -> Decoded:
    """LZW with 9-12 bit codes read MSB-first (PLRM §3.13.3, PDF 32000-1 §7.4.4).

    ``early_change`` 1 (the default) widens the code one entry early, as Adobe's encoder does;
    0 is the TIFF-style variant PDF allows through the EarlyChange parameter.
    """
    early = 1 if early_change else 0
    out = bytearray()
    table: list[bytes] = [bytes([i]) for i in range(256)] + [b"", b""]
    bits = 9
    previous: bytes | None = None
    accumulator = 0
    held = 0
    for byte in data:
        accumulator = (accumulator << 8) | byte
        held += 8
        while held >= bits:
            held -= bits
            code = (accumulator >> held) & ((1 << bits) - 1)
            accumulator &= (1 << held) - 1
            if code == _LZW_CLEAR:
                del table[_LZW_FIRST:]
                bits = 9
                previous = None
                continue
            if code == _LZW_EOD:
                return _capped(out, limit, True)
            size = len(table)
            if code < size and code not in (_LZW_CLEAR, _LZW_EOD):
                entry = table[code]
            elif code == size and previous is not None:  # the KwKwK case
                entry = previous + previous[:1]
            else:
                return _capped(out, limit, False)
            if previous is not None and size < (1 << _LZW_MAX_BITS):
                table.append(previous + entry[:1])
            out += entry
            if len(out) >= limit:
                return _capped(out, limit, False)
            previous = entry
            if len(table) + early >= (1 << bits) and bits < _LZW_MAX_BITS:
                bits += 1
    return _capped(out, limit, False)


# --------------------------------------------------------------------------- Flate

_FLATE_CHUNK = 16 * 1024  # input fed per call, so corruption loses at most this much output
_ZLIB_OR_GZIP = 32 + 15  # zlib.decompressobj: auto-detect a zlib or gzip header (RFC 1950/1952)
_RAW_DEFLATE = -15  # no header at all (RFC 1951), as some writers emit


def decode_flate(data: bytes, limit: int) -> Decoded:
    """zlib/deflate (PLRM §3.13.3 FlateDecode, RFC 1950/1951); raw deflate when no zlib header."""
    out, complete, started = _inflate(data, limit, _ZLIB_OR_GZIP)
    if started or complete:
        return out, complete
    raw, raw_complete, _ = _inflate(data, limit, _RAW_DEFLATE)
    if len(raw) > len(out) or raw_complete:
        return raw, raw_complete
    return out, False


def _inflate(data: bytes, limit: int, wbits: int) -> tuple[bytes, bool, bool]:
    """(output, reached end of stream, accepted the header)."""
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    position = 0
    pending = b""
    accepted = False
    while True:
        room = limit - len(out)
        if room <= 0:
            return bytes(out), False, True
        if not pending and position < len(data):
            pending = data[position : position + _FLATE_CHUNK]
            position += len(pending)
        try:
            piece = inflater.decompress(pending, room)
        except zlib.error:
            return bytes(out), False, accepted
        accepted = accepted or bool(piece) or len(pending) > 2
        out += piece
        pending = inflater.unconsumed_tail
        if inflater.eof:
            return bytes(out), True, True
        if not pending and position >= len(data) and not piece:
            return bytes(out), False, accepted  # truncated: input used up before end of stream


# --------------------------------------------------------------------------- RunLength


def decode_runlength(data: bytes, limit: int) -> Decoded:
    """PLRM §3.13.3 RunLengthDecode: length byte 0-127 → copy n+1, 129-255 → repeat 257-n, 128 EOD."""
    out = bytearray()
    position = 0
    length = len(data)
    while position < length:
        count = data[position]
        position += 1
        if count == 128:
            return _capped(out, limit, True)
        if count < 128:
            chunk = data[position : position + count + 1]
            position += count + 1
            out += chunk
            if len(chunk) < count + 1:
                return _capped(out, limit, False)
        else:
            if position >= length:
                return _capped(out, limit, False)
            out += data[position : position + 1] * (257 - count)
            position += 1
        if len(out) >= limit:
            return _capped(out, limit, False)
    return _capped(out, limit, False)


# --------------------------------------------------------------------------- SubFileDecode


def decode_subfile(data: bytes, limit: int, eod_count: int = 0, eod_string: bytes = b"") -> Decoded:
    """PLRM §3.13.3 SubFileDecode: pass data through up to the (EODCount+1)-th EODString.

    With an empty EODString, EODCount is a byte count; with both 0/empty the whole data passes.
    """
    if not eod_string:
        if eod_count > 0:
            return _capped(data[:eod_count], limit, len(data) >= eod_count)
        return _capped(data, limit, True)
    position = 0
    seen = 0
    while True:
        found = data.find(eod_string, position)
        if found < 0:
            return _capped(data, limit, False)
        if seen >= eod_count:
            return _capped(data[:found], limit, True)
        seen += 1
        position = found + len(eod_string)
        if position > limit:
            return _capped(data, limit, False)


# --------------------------------------------------------------------------- predictors


def apply_predictor(data: bytes, parms: Mapping[str, Any] | None) -> Decoded:
    """Undo a TIFF (2) or PNG (10-15) predictor (PDF 32000-1 §7.4.4.4, table 8).

    ``parms`` are the DecodeParms: Predictor, Colors (1), BitsPerComponent (8), Columns (1).
    A row is never taken as longer than the input itself (a hostile /Columns would otherwise
    pad one short row to gigabytes), so the output is at most twice the input; callers still
    cut it to their limit.
    """
    if not parms:
        return data, True
    predictor = _int_parm(parms, "Predictor", 1)
    if predictor <= 1:
        return data, True
    colors = min(max(_int_parm(parms, "Colors", 1), 1), 32)
    bits = _int_parm(parms, "BitsPerComponent", 8)
    if bits not in (1, 2, 4, 8, 16):
        return data, False
    columns = min(max(_int_parm(parms, "Columns", 1), 1), 1 << 24)
    row_bytes = min((colors * bits * columns + 7) // 8, max(1, len(data)))
    pixel_bytes = max(1, (colors * bits + 7) // 8)
    if predictor == 2:
        return _undo_tiff(data, row_bytes, colors, bits), len(data) % row_bytes == 0
    if 10 <= predictor <= 15:
        return _undo_png(data, row_bytes, pixel_bytes)
    return data, False


def _int_parm(parms: Mapping[str, Any], key: str, default: int) -> int:
    value = parms.get(key, parms.get("/" + key, default))
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _undo_png(data: bytes, row_bytes: int, pixel_bytes: int) -> Decoded:
    """PNG row filters (RFC 2083 §6): each row is one filter-type byte then the row."""
    out = bytearray()
    previous = bytearray(row_bytes)
    position = 0
    complete = True
    while position < len(data):
        kind = data[position]
        row = bytearray(data[position + 1 : position + 1 + row_bytes])
        position += 1 + row_bytes
        if len(row) < row_bytes:
            complete = False
            row.extend(bytes(row_bytes - len(row)))
        if kind == 1:  # Sub
            for i in range(pixel_bytes, row_bytes):
                row[i] = (row[i] + row[i - pixel_bytes]) & 0xFF
        elif kind == 2:  # Up
            for i in range(row_bytes):
                row[i] = (row[i] + previous[i]) & 0xFF
        elif kind == 3:  # Average
            for i in range(row_bytes):
                left = row[i - pixel_bytes] if i >= pixel_bytes else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(row_bytes):
                left = row[i - pixel_bytes] if i >= pixel_bytes else 0
                upper_left = previous[i - pixel_bytes] if i >= pixel_bytes else 0
                row[i] = (row[i] + _paeth(left, previous[i], upper_left)) & 0xFF
        elif kind != 0:
            complete = False
        out += row
        previous = row
    return bytes(out), complete


def _paeth(left: int, up: int, upper_left: int) -> int:
    estimate = left + up - upper_left
    to_left, to_up, to_corner = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
    if to_left <= to_up and to_left <= to_corner:
        return left
    return up if to_up <= to_corner else upper_left


def _undo_tiff(data: bytes, row_bytes: int, colors: int, bits: int) -> bytes:
    """TIFF 6.0 §14 horizontal differencing, per component, for 1-16 bit components."""
    out = bytearray()
    mask = (1 << bits) - 1
    for start in range(0, len(data), row_bytes):
        row = data[start : start + row_bytes]
        if bits == 8:
            fixed = bytearray(row)
            for i in range(colors, len(fixed)):
                fixed[i] = (fixed[i] + fixed[i - colors]) & 0xFF
            out += fixed
            continue
        if bits == 16:
            values = [int.from_bytes(row[i : i + 2], "big") for i in range(0, len(row) - 1, 2)]
            for i in range(colors, len(values)):
                values[i] = (values[i] + values[i - colors]) & 0xFFFF
            out += b"".join(v.to_bytes(2, "big") for v in values)
            continue
        # Sub-byte components: unpack MSB-first, add, repack.
        total = len(row) * 8 // bits
        samples = [
            (row[(i * bits) >> 3] >> (8 - bits - ((i * bits) & 7))) & mask for i in range(total)
        ]
        for i in range(colors, total):
            samples[i] = (samples[i] + samples[i - colors]) & mask
        packed = bytearray(len(row))
        for i, sample in enumerate(samples):
            packed[(i * bits) >> 3] |= sample << (8 - bits - ((i * bits) & 7))
        out += packed
    return bytes(out)


# --------------------------------------------------------------------------- chains

# Filter names and their PDF inline-image abbreviations (PDF 32000-1 §8.9.7, table 94).
_ALIASES = {
    "AHx": "ASCIIHexDecode",
    "A85": "ASCII85Decode",
    "LZW": "LZWDecode",
    "Fl": "FlateDecode",
    "RL": "RunLengthDecode",
    "CCF": "CCITTFaxDecode",
    "DCT": "DCTDecode",
}

_SIMPLE: dict[str, Callable[[bytes, int], Decoded]] = {
    "ASCIIHexDecode": decode_asciihex,
    "ASCII85Decode": decode_ascii85,
    "RunLengthDecode": decode_runlength,
}


def canonical_filter_name(name: str) -> str:
    """``/Fl`` → ``FlateDecode``; leading slash removed."""
    bare = name.lstrip("/")
    return _ALIASES.get(bare, bare)


def decode_one(data: bytes, name: str, parms: Mapping[str, Any] | None, limit: int) -> Decoded:
    """Apply one named filter (with its DecodeParms); unsupported filters → (data, False)."""
    filter_name = canonical_filter_name(name)
    try:
        simple = _SIMPLE.get(filter_name)
        if simple is not None:
            return simple(data, limit)
        if filter_name == "LZWDecode":
            early = _int_parm(parms or {}, "EarlyChange", 1)
            out, complete = decode_lzw(data, limit, early)
        elif filter_name == "FlateDecode":
            out, complete = decode_flate(data, limit)
        elif filter_name == "SubFileDecode":
            count = _int_parm(parms or {}, "EODCount", 0)
            marker = (parms or {}).get("EODString", b"")
            if isinstance(marker, str):
                marker = marker.encode("latin-1", "replace")
            return decode_subfile(data, limit, count, marker if isinstance(marker, bytes) else b"")
        else:
            return data, False
        predicted, predicted_ok = apply_predictor(out, parms)
        if len(predicted) > limit:
            return predicted[:limit], False
        return predicted, complete and predicted_ok
    except (ValueError, IndexError, OverflowError, MemoryError):  # defensive: never raise
        log.debug("filter %s failed", filter_name, exc_info=True)
        return b"", False


def is_supported(name: str) -> bool:
    filter_name = canonical_filter_name(name)
    return filter_name in _SIMPLE or filter_name in ("LZWDecode", "FlateDecode", "SubFileDecode")


def decode_chain(
    data: bytes,
    names: list[str],
    parms: list[Mapping[str, Any] | None] | None,
    limit: int,
) -> tuple[bytes, bool, list[str]]:
    """Apply filters in order (PDF /Filter array order); returns (output, complete, steps).

    ``steps`` names each filter applied, with " (incomplete)" when it stopped early and
    " (unsupported)" for a filter left undecoded (the chain stops there: DCT, CCITT, JBIG2...).
    """
    steps: list[str] = []
    complete = True
    current = data
    for index, name in enumerate(names):
        filter_name = canonical_filter_name(name)
        parm = parms[index] if parms and index < len(parms) else None
        if not is_supported(filter_name):
            steps.append(f"{filter_name} (unsupported)")
            return current, False, steps
        current, ok = decode_one(current, filter_name, parm, limit)
        steps.append(filter_name if ok else f"{filter_name} (incomplete)")
        complete = complete and ok
    return current, complete, steps


def _capped(out: bytearray | bytes, limit: int, complete: bool) -> Decoded:
    if len(out) > limit:
        return bytes(out[:limit]), False
    return bytes(out), complete
