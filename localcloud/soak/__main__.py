"""python -m localcloud.soak: the chaos soak from the command line (`make soak`)."""

from __future__ import annotations

import argparse
import sys

from localcloud.soak import run


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.soak", description=(run.__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--rate", type=float, default=1.0, help="orders per second, all clients together (0: unpaced)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.orders < 1 or args.clients < 1 or args.rate < 0:
        parser.error("--orders and --clients must be positive, --rate not negative")
    soak = run.Soak(orders=args.orders, clients=args.clients, rate=args.rate, seed=args.seed)
    report, _ = run.run(soak, say=_say)
    print(report.table())
    for line in report.details():
        print(line)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
