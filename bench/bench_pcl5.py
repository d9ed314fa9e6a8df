#!/usr/bin/env python3
"""Benchmark the PCL 5 parser (``forensics.formats.pcl5.Pcl5Parser.parse``) on real driver output.

Builds a corpus in a temporary directory with real tools — ``groff -Tlj4`` typeset man pages
(text: one cursor move per word), Ghostscript ``ljet4`` renderings (raster rows), CUPS-style plain
text between printer resets, and ``../shared/samples/pret/gimp.pcl`` when present — then parses
every file in fresh child processes and reports CPU time (best of N), MB/s, peak RSS and a digest
of the parser's output. With ``--baseline REV`` the parser of that git revision is measured too,
interleaved with the working tree's, and the outputs are compared. Run it from the repository
root::

    .venv/bin/python bench/bench_pcl5.py [--size-mb 80] [--repeat 3] [--baseline HEAD]

See bench/README.md ("Benchmark: PCL 5 parser").
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import json
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
MAX_CORPUS_FILE = 64 * 1024 * 1024  # forensics.formats.base.MAX_PARSE_BYTES: parse() reads no more
MAN_DIR = Path("/usr/share/man/man1")
# Long man pages with tables, fonts and kerning; missing ones are replaced by the largest pages.
MAN_PAGES = ("bash", "git-config", "curl", "gpg", "tmux", "wget", "top", "find", "grep", "ls")
RASTER_PAGES = ("ls", "grep", "find")  # typeset as PostScript, rendered by gs ljet4
GIMP_SAMPLE = ROOT.parent / "shared" / "samples" / "pret" / "gimp.pcl"
# Share of the corpus per kind (the rest of a share is filled by repeating its pieces).
SHARES = {"groff-lj4": 0.50, "gs-ljet4": 0.25, "plain-text": 0.20, "gimp": 0.05}


def run_tool(argv: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(argv, input=stdin, capture_output=True, check=True, timeout=600)
    return result.stdout


# -- corpus --------------------------------------------------------------------------------------


def man_sources(names: tuple[str, ...], count: int) -> list[bytes]:
    """roff sources of the named man pages, topped up with the largest pages installed."""
    paths = [MAN_DIR / f"{name}.1.gz" for name in names if (MAN_DIR / f"{name}.1.gz").is_file()]
    if len(paths) < count and MAN_DIR.is_dir():
        largest = sorted(MAN_DIR.glob("*.1.gz"), key=lambda p: (-p.stat().st_size, p.name))
        paths += [p for p in largest if p not in paths][: count - len(paths)]
    sources = []
    for path in paths[:count]:
        source = gzip.decompress(path.read_bytes())
        if not source.lstrip().startswith(b".so"):  # a link to another page: nothing to typeset
            sources.append(source)
    if not sources:
        raise SystemExit(f"no man pages found in {MAN_DIR}")
    return sources


def groff_pieces() -> list[bytes]:
    return [run_tool(["groff", "-Tlj4", "-man"], source) for source in man_sources(MAN_PAGES, 10)]


def ljet4_pieces(work: Path) -> list[bytes]:
    pieces = []
    for index, source in enumerate(man_sources(RASTER_PAGES, 3)):
        postscript = work / f"raster{index}.ps"
        postscript.write_bytes(run_tool(["groff", "-Tps", "-man"], source))
        out = work / f"raster{index}.pcl"
        run_tool(
            [
                "gs",
                "-q",
                "-dNOPAUSE",
                "-dBATCH",
                "-dSAFER",
                "-sDEVICE=ljet4",
                "-sPAPERSIZE=letter",
                "-dLastPage=6",  # a few pages each: the rows are what counts, not the document
                f"-sOutputFile={out}",
                str(postscript),
            ]
        )
        pieces.append(out.read_bytes())
        postscript.unlink()
        out.unlink()
    return pieces


def plain_text_pieces() -> list[bytes]:
    """What a raw-queue text job looks like: ESC E, CRLF lines, a form feed every 60 lines."""
    pieces = []
    for source in man_sources(MAN_PAGES[:4], 4):
        typed = run_tool(["groff", "-Tascii", "-P-cbou", "-man"], source)
        lines = typed.decode("ascii", "replace").splitlines()
        body = bytearray(b"\x1bE\x1b&l0O\x1b(0N")
        for number, line in enumerate(lines, 1):
            body += line.encode("latin-1", "replace") + b"\r\n"
            if number % 60 == 0:
                body += b"\x0c"
        body += b"\x0c\x1bE"
        pieces.append(bytes(body))
    return pieces


def gimp_pieces() -> list[bytes]:
    return [GIMP_SAMPLE.read_bytes()] if GIMP_SAMPLE.is_file() else []


def fill(pieces: list[bytes], target: int) -> bytes:
    """Pieces in turn until ``target`` bytes (whole pieces; at least one round)."""
    out = bytearray()
    while pieces and (len(out) < target or not out):
        for piece in pieces:
            out += piece
            if len(out) >= target:
                break
    return bytes(out)


def build_corpus(work: Path, total: int) -> list[Path]:
    builders: dict[str, Callable[[], list[bytes]]] = {
        "groff-lj4": groff_pieces,
        "gs-ljet4": lambda: ljet4_pieces(work),
        "plain-text": plain_text_pieces,
        "gimp": gimp_pieces,
    }
    files = []
    for kind, share in SHARES.items():
        pieces = builders[kind]()
        if not pieces:
            print(f"{kind}: skipped (no input)", file=sys.stderr)
            continue
        data = fill(pieces, min(int(total * share), MAX_CORPUS_FILE))[:MAX_CORPUS_FILE]
        path = work / f"{kind}.pcl"
        path.write_bytes(data)
        files.append(path)
    return files


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    size: int
    best_cpu: float
    rss_mib: float
    digest: str  # of the parser's whole output: equal digests, equal results

    @property
    def mb_per_s(self) -> float:
        return self.size / MB / self.best_cpu if self.best_cpu > 0 else float("inf")


def measure_here(path: Path, repeat: int, source_root: Path) -> dict[str, object]:
    """In the child: parse ``path`` ``repeat`` times with the parser under ``source_root``; the
    best CPU time, this process's peak RSS and the output's digest."""
    sys.path.insert(0, str(source_root))
    base = importlib.import_module("forensics.formats.base")
    pcl5 = importlib.import_module("forensics.formats.pcl5")
    if not Path(str(pcl5.__file__)).resolve().is_relative_to(source_root.resolve()):
        raise SystemExit(f"imported {pcl5.__file__}, not the parser under {source_root}")
    data = path.read_bytes()
    parser = pcl5.Pcl5Parser()
    best = float("inf")
    digest = ""
    for _ in range(repeat):
        started = time.process_time()
        job = parser.parse(data, base.ParseContext())
        best = min(best, time.process_time() - started)
        # The dataclass repr holds every field (metadata, texts, pages, notes) in a fixed order.
        digest = hashlib.sha256(repr(job).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        del job
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"best_cpu": best, "rss_mib": rss_kib / 1024, "digest": digest}


def measure(path: Path, repeat: int, source_root: Path) -> Measurement:
    argv = [sys.executable, __file__, "--measure", str(path), "--repeat", str(repeat)]
    report = json.loads(run_tool([*argv, "--source-root", str(source_root)]))
    return Measurement(
        size=path.stat().st_size,
        best_cpu=float(report["best_cpu"]),
        rss_mib=float(report["rss_mib"]),
        digest=str(report["digest"]),
    )


def export_revision(revision: str, into: Path) -> Path:
    """The ``forensics`` package of a git revision, unpacked under ``into``."""
    archive = run_tool(["git", "-C", str(ROOT), "archive", "--format=tar", revision, "forensics"])
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


# -- report --------------------------------------------------------------------------------------


def totals(results: list[Measurement]) -> Measurement:
    return Measurement(
        size=sum(r.size for r in results),
        best_cpu=sum(r.best_cpu for r in results),
        rss_mib=max((r.rss_mib for r in results), default=0.0),
        digest="",
    )


def table(names: list[str], current: list[Measurement], baseline: list[Measurement]) -> str:
    header = "| corpus file | MB | CPU s | MB/s | peak RSS MiB | output digest |"
    rule = "| --- | ---: | ---: | ---: | ---: | --- |"
    if baseline:
        header = (
            "| corpus file | MB | baseline CPU s | CPU s | baseline MB/s | MB/s | speed-up "
            "| baseline RSS MiB | RSS MiB | same output |"
        )
        rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    lines = [header, rule]
    befores: list[Measurement | None] = [*baseline] if baseline else [None] * len(current)
    rows = list(zip(names, current, befores, strict=True))
    rows.append(("**all**", totals(current), totals(baseline) if baseline else None))
    for name, now, before in rows:
        size = f"{now.size / MB:.1f}"
        if before is None:
            lines.append(
                f"| {name} | {size} | {now.best_cpu:.2f} | {now.mb_per_s:.1f} "
                f"| {now.rss_mib:.0f} | {now.digest} |"
            )
            continue
        same = "" if name == "**all**" else ("yes" if now.digest == before.digest else "**NO**")
        lines.append(
            f"| {name} | {size} | {before.best_cpu:.2f} | {now.best_cpu:.2f} "
            f"| {before.mb_per_s:.1f} | {now.mb_per_s:.1f} | {before.best_cpu / now.best_cpu:.2f}x "
            f"| {before.rss_mib:.0f} | {now.rss_mib:.0f} | {same} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=float, default=80.0, help="corpus size, MB (10^6)")
    parser.add_argument("--repeat", type=int, default=3, help="parses per file (best counts)")
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    parser.add_argument("--keep", type=Path, help="build the corpus in this directory, keep it")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--source-root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.size_mb <= 0:
        parser.error("--repeat and --size-mb must be positive")
    if args.measure:
        print(json.dumps(measure_here(args.measure, args.repeat, args.source_root)))
        return 0
    for tool in ("groff", "gs"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="bench-pcl5-") as temp:
        work = args.keep or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        baseline_root = (
            export_revision(args.baseline, Path(temp) / "baseline") if args.baseline else None
        )
        started = time.perf_counter()
        files = build_corpus(work, int(args.size_mb * MB))
        print(f"corpus: {len(files)} files in {work} ({time.perf_counter() - started:.1f} s)")
        current: list[Measurement] = []
        baseline: list[Measurement] = []
        for path in files:  # interleaved: both parsers see the same machine load
            if baseline_root is not None:
                baseline.append(measure(path, args.repeat, baseline_root))
            current.append(measure(path, args.repeat, ROOT))
    against = f" against {args.baseline}" if args.baseline else ""
    print(
        f"Pcl5Parser.parse, best of {args.repeat} (CPU time){against}, python "
        f"{sys.version.split()[0]}"
    )
    print(table([path.stem for path in files], current, baseline))
    differs = any(
        now.digest != before.digest for now, before in zip(current, baseline, strict=False)
    )
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
