"""Benchmarks on SQLite (and PostgreSQL when a server URL is set), printed as one table.

`make bench` (or `python -m bench`) runs every part; `python -m bench deadlines`,
`python -m bench commands`, `python -m bench statements` (statements per command, the big list
and the stages due at once) or `python -m bench delivery` runs one. PostgreSQL is measured when
LIAISON_BENCH_DATABASE_URL (or LIAISON_TEST_DATABASE_URL) names a server; a scratch database is
created and dropped there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from bench import commands, deadlines, delivery, load
from bench.common import Row, backends

PARTS = ("commands", "deadlines", "delivery", "statements", "load")


async def collect(parts: list[str], load_options: dict[str, Any] | None = None) -> list[Row]:
    """Run the chosen parts on every available back end; return their rows in order."""
    load_options = load_options or {
        "seconds": load.SECONDS,
        "rates": load.RATES,
        "big": load.BIG,
        "due": load.DUE,
    }
    rows: list[Row] = []
    for backend in backends():
        if "commands" in parts:
            rows.extend(await commands.run(backend))
        if "deadlines" in parts:
            rows.extend(await deadlines.run(backend))
        if "delivery" in parts:
            rows.extend(await delivery.run(backend))
        if "statements" in parts:
            rows.extend(
                await load.statement_rows(backend, load_options["big"], load_options["due"])
            )
        if "load" in parts:
            rows.extend(
                await load.run(
                    backend, seconds=load_options["seconds"], rates=load_options["rates"]
                )
            )
    if "deadlines" in parts:
        rows.extend(await deadlines.compare())
    return rows


def table(rows: list[Row]) -> str:
    """The rows as aligned text: db | figure | target | measured | ok?."""
    header = Row("db", "figure", "target", "measured")
    cells = [
        (r.db, r.figure, r.target, r.measured, "ok?" if r is header else _ok(r.ok))
        for r in [header, *rows]
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = []
    for n, c in enumerate(cells):
        lines.append(
            " | ".join(
                [*(c[i].ljust(widths[i]) for i in range(4)), c[4]],
            ).rstrip()
        )
        if n == 0:
            lines.append("-+-".join(["-" * w for w in widths] + ["---"]))
    return "\n".join(lines)


def _ok(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def main() -> None:
    """Parse which parts to run, run them, print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "parts", nargs="*", metavar="PART", help=f"{' or '.join(PARTS)} (default: all)"
    )
    parser.add_argument(
        "--seconds", type=float, default=load.SECONDS, help="load: seconds per offered rate"
    )
    parser.add_argument(
        "--rates",
        default=",".join(map(str, load.RATES)),
        help="load: offered rates, commands per second (comma-separated)",
    )
    parser.add_argument(
        "--open",
        type=int,
        default=load.BIG,
        help="statements: open reviews for the big /review list",
    )
    parser.add_argument(
        "--due",
        type=int,
        default=load.DUE,
        help="statements: reviews whose stages fall due at once (two stages each)",
    )
    args = parser.parse_args()
    chosen = args.parts or list(PARTS)
    load_options = {
        "seconds": args.seconds,
        "rates": tuple(int(r) for r in args.rates.split(",") if r),
        "big": args.open,
        "due": args.due,
    }
    for part in chosen:
        if part not in PARTS:
            parser.error(f"unknown part {part!r} (expected {' or '.join(PARTS)})")
    if len(backends()) == 1:
        print("(PostgreSQL skipped: set LIAISON_BENCH_DATABASE_URL to measure it)", file=sys.stderr)
    start, load_average = time.perf_counter(), os.getloadavg()[0]
    rows = asyncio.run(collect(chosen, load_options))
    print(table(rows))
    print(
        f"\n(wall time {time.perf_counter() - start:.0f} s; 1-minute load average "
        f"{load_average:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, "
        f"{os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
