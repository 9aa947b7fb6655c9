#!/usr/bin/env python3
"""The rule pack's noise on benign data: alerts per 1,000 benign events, per rule.

Benign data: every Panther test event marked `expected_match: false` in
../shared/datasets/cloud/panther-tests (all log types: a rule that fires on another source's
events is noise too), hunted file by file in the files' order.

    scripts/noise.py [--sigil target/release/sigil] [--rules DIR] [--before REV] [--markdown]

Columns: the pack at `--before` (a git revision, default the last commit before issue #16's
review; its rules are exported with `git archive`), the current pack with its `suppress:` blocks
removed, and the current pack as it is. Summary lines of suppression count as alerts: a SOC
reads them too.
"""

import argparse
import collections
import json
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
PANTHER = REPO.parent / "shared" / "datasets" / "cloud" / "panther-tests"


def benign_files(out_dir):
    """Writes one JSONL file of benign events per Panther log type; returns (paths, count)."""
    paths, total = [], 0
    for source in sorted(PANTHER.glob("*.tests.jsonl")):
        events = []
        for line in source.read_text().splitlines():
            try:
                case = json.loads(line)
            except ValueError:
                continue
            if case.get("expected_match") is False and isinstance(case.get("event"), dict):
                events.append(json.dumps(case["event"]))
        if events:
            path = out_dir / source.name.replace(".tests.jsonl", ".benign.jsonl")
            path.write_text("\n".join(events) + "\n")
            paths.append(path)
            total += len(events)
    return paths, total


def alerts_per_rule(sigil, rules, files):
    counts = collections.Counter()
    for path in files:
        run = subprocess.run(
            [sigil, "hunt", "--format", "jsonl", "--rules", str(rules), str(path)],
            capture_output=True, text=True, check=True)
        for line in run.stdout.splitlines():
            alert = json.loads(line)
            counts[alert["rule"]["title"]] += 1
    return counts


def without_suppress(src, dst):
    """Copies a rule directory with every `suppress:` block (and its comment) removed."""
    for path in src.rglob("*.yml"):
        text = path.read_text()
        text = re.sub(r"(?m)^# Bursts are normal here.*\n(?:#.*\n)*", "", text)
        text = re.sub(r"(?m)^suppress:\n(?:[ \t]+.*\n?)*", "", text)
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def export(rev, dst):
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "sigma-rules/rules"],
                             capture_output=True, check=True).stdout
    with tempfile.NamedTemporaryFile() as f:
        f.write(archive)
        f.flush()
        with tarfile.open(f.name) as tar:
            tar.extractall(dst, filter="data")
    return dst / "sigma-rules" / "rules"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sigil", default=str(REPO / "target" / "release" / "sigil"))
    parser.add_argument("--rules", default=str(REPO / "sigma-rules" / "rules"))
    parser.add_argument("--before", default="1b403ea")
    args = parser.parse_args()
    if not PANTHER.is_dir():
        print(f"SKIPPED noise: {PANTHER} is absent")
        return 0
    otrf = sorted((PANTHER.parent / "otrf").glob("*cloudtrail*.jsonl"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        files, total = benign_files(tmp)
        packs = [export(args.before, tmp / "before"), tmp / "unsuppressed", pathlib.Path(args.rules)]
        without_suppress(pathlib.Path(args.rules), packs[1])
        benign = [alerts_per_rule(args.sigil, pack, files) for pack in packs]
        recorded = [alerts_per_rule(args.sigil, pack, otrf) for pack in packs]
    header = f"| rule | before ({args.before}) | after, without suppression | after |\n|---|---:|---:|---:|"
    print(f"Benign: {total} events ({len(files)} Panther log types), alerts per 1,000 benign events\n")
    table(benign, header, lambda n: f"{n * 1000 / total:.1f}")
    names = ", ".join(p.name for p in otrf)
    print(f"\nAn attack recording ({names}): alerts, where the bursts are the attacker's\n")
    table(recorded, header, str)
    return 0


def table(columns, header, show):
    print(header)
    rules = sorted(set().union(*columns), key=lambda r: (-columns[2][r], -columns[1][r], r))
    for rule in rules:
        print(f"| {rule} | " + " | ".join(show(c[rule]) for c in columns) + " |")
    print("| **all rules** | " + " | ".join(show(sum(c.values())) for c in columns) + " |")


if __name__ == "__main__":
    sys.exit(main())
