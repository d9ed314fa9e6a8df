"""Byte builders for LPD control files and PJL jobs, as construct Structs written from the specs.

LPD control files follow RFC 1179 §7; PJL follows the HP PJL Technical Reference Manual (chapter 2,
"PJL Command Syntax and Format"). Like ``winspool_builders``, nothing here imports
``forensics.formats``: the Structs are an independent oracle, so a parser's misreading of the format
is not mirrored by the bytes the tests feed it.

The PJL Structs build; they do not parse (a command line and a payload run up to a terminator
that construct cannot look ahead for). Deliberately malformed input stays hand-built in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from construct import (
    Bytes,
    Const,
    Default,
    FocusedSeq,
    GreedyBytes,
    GreedyRange,
    GreedyString,
    If,
    NullTerminated,
    Select,
    StringEncoded,
    Struct,
)

# ------------------------------------------------------------------------- LPD (RFC 1179 §7)

# RFC 1179 §7: "Each line consists of a single character which is a command code, followed by an
# operand"; lines end with LF.
LpdControlLine = Struct(
    "command" / StringEncoded(Bytes(1), "ascii"),
    "operand" / StringEncoded(NullTerminated(GreedyBytes, term=b"\n"), "latin-1"),
)
LpdControlFile = GreedyRange(LpdControlLine)


def lpd_control_file(lines: Sequence[tuple[str, str]]) -> bytes:
    """A control file from (command character, operand) pairs."""
    return LpdControlFile.build([{"command": code, "operand": operand} for code, operand in lines])


# ------------------------------------------------------------------------- PJL

# Universal Exit Language, PJL Technical Reference "UEL Command": it ends the current language and
# returns control to PJL; a job starts and ends with one.
UEL = b"\x1b%-12345X"
# "The PJL prefix '@PJL' always must be uppercase. The remainder of the PJL command is not
# case-sensitive" (PJL Syntax Rules).
PJL_PREFIX = b"@PJL"
CRLF = b"\r\n"
LF = b"\n"

# A command line: "@PJL" alone (format 2) or "@PJL" white space and the command, then [<CR>]<LF>.
# ``prefix`` defaults to the required "@PJL"; a test may set another to probe a parser's leniency.
PjlCommandLine = Struct(
    "prefix" / Default(Bytes(len(PJL_PREFIX)), PJL_PREFIX),
    "command"
    / If(
        lambda ctx: bool(ctx.command),
        FocusedSeq("words", Const(b" "), "words" / GreedyString("utf-8")),
    ),
    "line_end" / Select(Const(CRLF), Const(LF)),
)
# One UEL-introduced segment: PJL command lines, then (after ENTER LANGUAGE, or with the language
# left for the printer to recognise) the page description data up to the next UEL.
PjlSegment = Struct(
    "uel" / Const(UEL),
    "commands" / GreedyRange(PjlCommandLine),
    "data" / GreedyBytes,
)
# A PJL stream: its segments, and the UEL that closes the last one.
PjlStream = Struct("segments" / GreedyRange(PjlSegment), "closing_uel" / Const(UEL))

# A command is its text after "@PJL " ("SET QTY=2"), or a PjlCommandLine's fields for a variant
# line ({"prefix": b"@pjl", "command": "set hold=ON"}).
PjlCommand = str | Mapping[str, Any]


def _line(command: PjlCommand, line_end: bytes) -> dict[str, Any]:
    if isinstance(command, str):
        return {"command": command, "line_end": line_end}
    return {"line_end": line_end, **command}


def pjl_stream(
    segments: Sequence[tuple[Sequence[PjlCommand], bytes]], *, line_end: bytes = CRLF
) -> bytes:
    """UEL-separated segments of (command lines, data), closed by a UEL."""
    return PjlStream.build(
        {
            "segments": [
                {"commands": [_line(command, line_end) for command in commands], "data": data}
                for commands, data in segments
            ]
        }
    )


def pjl_job(
    header: Sequence[PjlCommand],
    *,
    language: str | None = None,
    payload: bytes = b"",
    trailer: Sequence[PjlCommand] = (),
    line_end: bytes = CRLF,
) -> bytes:
    """UEL, header commands, ``@PJL ENTER LANGUAGE=…``, payload, UEL, trailer commands, UEL.

    Without ``language`` there is no ENTER line (the printer recognises the language itself, or a
    header command says it in another spelling); without ``trailer`` the payload's UEL ends the job.
    """
    commands = [*header, *([f"ENTER LANGUAGE={language}"] if language is not None else [])]
    segments: list[tuple[Sequence[PjlCommand], bytes]] = [(commands, payload)]
    if trailer:
        segments.append((trailer, b""))
    return pjl_stream(segments, line_end=line_end)
