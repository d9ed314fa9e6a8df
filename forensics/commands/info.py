"""``pfa info``: what an image holds (layout, file systems, hashes) without scanning it."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from forensics.commands.base import Command
from forensics.commands.options import add_image_argument
from forensics.evidence.disk import read_layout
from forensics.evidence.filesystem import open_filesystem
from forensics.evidence.image import TskImage, format_size, iter_chunks, open_image
from forensics.progress import RichProgress


class InfoCommand(Command):
    name = "info"
    order = 10
    help = "show partitions, file systems, sizes, hashes and problems of an image"
    description = (
        "Show the image format and size, partitions and gaps, file systems, the media "
        "hashes (MD5/SHA-1/SHA-256, compared with the E01's stored hashes) and any problems."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_image_argument(parser)
        parser.add_argument(
            "--no-hash", action="store_true", help="skip hashing (no full read of the image)"
        )
        parser.add_argument("--json", action="store_true", help="print the information as JSON")

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        with open_image(args.image) as image:
            layout = read_layout(image)
            tsk_image = TskImage(image)
            problems = [*image.problems, *layout.problems]
            volumes = []
            for volume in layout.volumes:
                row = volume.to_record().to_dict()
                if volume.kind != "gap":
                    fs, fs_problems = open_filesystem(image, tsk_image, volume)
                    problems.extend(fs_problems)
                    if fs is not None:
                        row["filesystem"] = fs.type
                        row["block_size"] = fs.block_size
                        row["block_count"] = fs.block_count
                volumes.append(row)
            hashes: dict[str, str] = {}
            if not args.no_hash:
                hashers = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
                bar = RichProgress(Console(stderr=True))
                bar.start(image.size, "hashing")
                for _, data in iter_chunks(image, 16 * 1024 * 1024):
                    for hasher in hashers:
                        hasher.update(data)
                    bar.advance(len(data))
                bar.stop()
                hashes = {h.name: h.hexdigest() for h in hashers}
            info: dict[str, Any] = {
                "paths": [str(p) for p in image.paths],
                "format": image.format,
                "size": image.size,
                "sector_size": image.sector_size,
                "partition_scheme": layout.scheme,
                "hashes": hashes,
                "stored_hashes": image.stored_hashes,
                "volumes": volumes,
                "problems": [p.to_dict() for p in problems],
            }
        if hashes and info["stored_hashes"]:
            info["hash_verified"] = all(hashes.get(k) == v for k, v in image.stored_hashes.items())
        if args.json:
            print(json.dumps(info, indent=2, sort_keys=True))
            return 0
        console.print(
            f"[bold]{info['paths'][0]}[/]  {image.format}  {format_size(image.size)} "
            f"({image.size} bytes)"
        )
        console.print(f"partition scheme: {layout.scheme}")
        table = Table(title="volumes")
        for col in ("#", "kind", "slot", "offset", "length", "type", "file system"):
            table.add_column(col)
        for row in volumes:
            table.add_row(
                str(row["index"]),
                row["kind"],
                row.get("slot") or "",
                str(row["offset"]),
                format_size(row["length"]),
                row.get("description") or row.get("type_code") or "",
                row.get("filesystem") or "",
            )
        console.print(table)
        for name, value in hashes.items():
            stored = image.stored_hashes.get(name)
            note = (
                ""
                if stored is None
                else (" (matches E01)" if stored == value else f" (E01 says {stored}!)")
            )
            console.print(f"{name:7s} {value}{note}")
        for problem in problems:
            console.print(f"[yellow]problem[/] {problem.code}: {problem.message}")
        return 0
