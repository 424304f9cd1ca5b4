"""The mutation score per module after `mutmut run` (`make mutation`): killed / total, survived, timeouts and
mutants no selected test reaches. Reads mutmut's own result files (mutants/**/*.py.meta).

    python tools/mutation_report.py              # the table
    python tools/mutation_report.py --survivors  # and the name of each surviving mutant (`mutmut show NAME`)
    python tools/mutation_report.py --fail-under 80  # exit status 1 if a module kills less than 80%
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py, status_by_exit_code); anything else is "suspicious".
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
          24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", 37: "type check", -11: "segfault",
          -9: "segfault", 2: "interrupted", None: "not checked"}  # fmt: skip


def status(code: int | None) -> str:
    return STATUS.get(code, "suspicious")


def module_name(meta: Path, root: Path) -> str:
    relative = meta.relative_to(root).as_posix().removesuffix(".meta")
    return relative.removeprefix("src/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", default="mutants", help="mutmut's working copy (default: ./mutants)")
    parser.add_argument("--survivors", action="store_true", help="list each surviving mutant")
    parser.add_argument("--fail-under", type=float, metavar="PERCENT", help="exit 1 if a module scores less")
    args = parser.parse_args(argv)
    root = Path(args.mutants)
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {root}/ (run `make mutation` first)", file=sys.stderr)
        return 1
    header = (
        f"{'module':34} {'killed/total':>13} {'score':>7} {'survived':>9} {'timeout':>8} {'no tests':>9} {'other':>6}"
    )
    print(header)
    print("-" * len(header))
    overall: Counter = Counter()
    below: list[str] = []
    survivors: dict[str, list[str]] = {}
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(status(code) for code in codes.values())
        name = module_name(meta, root)
        survivors[name] = sorted((k for k, c in codes.items() if status(c) == "survived"), key=_natural)
        _row(name, counts, len(codes))
        if args.fail_under is not None and codes and 100 * counts["killed"] / len(codes) < args.fail_under:
            below.append(name)
        overall.update(counts)
        overall["total"] += len(codes)
    print("-" * len(header))
    _row("all", overall, overall["total"])
    if args.survivors:
        for name, keys in survivors.items():
            if keys:
                print(f"\n{name}: {len(keys)} survived")
                for key in keys:
                    print(f"  {key}")
    if below:
        print(f"\nbelow {args.fail_under:g}% killed: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


def _row(name: str, counts: Counter, total: int) -> None:
    killed = counts["killed"]
    other = total - killed - counts["survived"] - counts["timeout"] - counts["no tests"]
    score = f"{100 * killed / total:.1f}%" if total else "-"
    print(f"{name:34} {f'{killed}/{total}':>13} {score:>7} {counts['survived']:>9} {counts['timeout']:>8} "
          f"{counts['no tests']:>9} {other:>6}")  # fmt: skip


def _natural(key: str) -> tuple:
    stem, _, number = key.rpartition("_")
    return (stem, int(number)) if number.isdigit() else (key, 0)


if __name__ == "__main__":
    sys.exit(main())
