"""``python -m bench.crypto``: run the crypto microbenchmarks and print a table (JSON with --out)."""

from __future__ import annotations

import argparse
from typing import Any

from bench.crypto import run_crypto_bench


def _format(report: dict[str, Any]) -> str:
    lines = [f"{'row':42} {'ours':>12} {'floor':>12} {'ratio':>7}"]
    for row in report["rows"]:
        floor = "" if row["floor"] is None else f"{row['floor']:.2f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        lines.append(f"{row['name']:42} {row['value']:>8.2f} {row['unit']:>5} {floor:>10} {ratio:>7}")
    for name, target in report["targets"].items():
        lines.append(f"target {name}: ratio {target['ratio']} (max {target['max']}) met={target['met']}")
    lines.append(f"openssl: {report['environment']['openssl']}; elapsed {report['elapsed_s']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(prog="python -m bench.crypto", description=__doc__)
    parser.add_argument("--out", help="write the JSON report to this path")
    parser.add_argument(
        "--seconds", type=float, default=0.6, help="time per measured side of a row (default 0.6)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="batches per measurement; the median is kept")
    args = parser.parse_args(argv)
    print(_format(run_crypto_bench(seconds=args.seconds, rounds=args.rounds, out=args.out)))


if __name__ == "__main__":
    main()
