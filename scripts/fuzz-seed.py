#!/usr/bin/env python3
"""Seeds each fuzz target's corpus from the shared test data, into fuzz/shared-seeds/TARGET.

The shared data (../shared/sigma: SigmaHQ rules; ../shared/datasets: real logs, EVTX files)
must never be copied into the project, so this folder is gitignored; the campaigns read it
beside the committed corpora, and scripts/fuzz-cmin.sh drops from the committed corpus every
file identical to one of these. The project's own examples and built-in pipelines are seeded
here too. Each seed is named by the SHA-1 of its bytes, as libFuzzer names corpus files, so
running this twice changes nothing. Counts are capped (a campaign reads every seed at start).

Usage: scripts/fuzz-seed.py [--shared ../shared]
"""
import argparse, gzip, hashlib, json, os, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "shared-seeds"
CAP = 1500


def write(target, data, counts):
    if isinstance(data, str):
        data = data.encode()
    if counts.get(target, 0) >= CAP or not data:
        return
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    p = d / hashlib.sha1(data).hexdigest()
    if not p.exists():
        p.write_bytes(data)
        counts[target] = counts.get(target, 0) + 1


def every(items, n):
    """At most n items, spread evenly over the sorted list (the same on every run)."""
    items = sorted(items)
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


KEY = re.compile(r"^(\s+)(?:- )?'?([A-Za-z0-9_.\- ]*\|[A-Za-z0-9|]+)'?:\s*(.*)$")
COND = re.compile(r"^\s+condition:\s*(.+)$")


def seed_rules(sigma, counts):
    rule_dirs = ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"]
    files = [p for d in rule_dirs for p in (sigma / d).rglob("*.yml")]
    for p in every(files, CAP):
        write("rule", p.read_bytes(), counts)
    conditions, keys = set(), set()
    for p in sorted(files):
        lines = p.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            m = COND.match(line)
            if m:
                c = m.group(1).strip().strip("'\"")
                conditions.add(c)
            if line.strip() == "condition:":
                for item in lines[i + 1:]:
                    if not item.strip().startswith("- "):
                        break
                    conditions.add(item.strip()[2:].strip("'\""))
            m = KEY.match(line)
            if m:
                indent, key, value = m.groups()
                if value:
                    keys.add(f"{key}\n{value}")
                else:
                    items = []
                    for item in lines[i + 1:]:
                        if not item.startswith(indent + " ") or not item.strip().startswith("- "):
                            break
                        items.append(item.strip())
                    if items:
                        keys.add(key + "\n" + "\n".join(items[:8]))
    for c in every(conditions, CAP):
        write("condition", c, counts)
    for k in every(keys, CAP):
        write("modifiers", k, counts)


def jsonl_lines(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", errors="replace") as f:
        for n, line in enumerate(f):
            if n >= 400:
                break
            if line.strip():
                yield line.strip()


def seed_events(datasets, counts):
    files = sorted(p for p in datasets.rglob("*") if p.is_file() and (p.name.endswith(".jsonl") or p.name.endswith(".jsonl.gz")))
    per_file = max(2, CAP // max(1, len(files)))
    for p in files:
        lines = list(jsonl_lines(p))
        for line in every(lines, per_file):
            write("event", line, counts)
            write("ocsf", line, counts)
    for p in sorted((datasets / "ocsf" / "examples").rglob("*.json")) if (datasets / "ocsf").is_dir() else []:
        try:
            text = json.dumps(json.loads(p.read_text()))
        except (ValueError, UnicodeDecodeError):
            continue
        write("event", text, counts)
        write("ocsf", text, counts)
    evtx = sorted(p for p in datasets.rglob("*.evtx") if p.stat().st_size <= 256 * 1024)
    for p in every(evtx, 120):
        write("evtx", p.read_bytes(), counts)


def seed_project(counts):
    for p in sorted((ROOT / "rule-compiler" / "pipelines").glob("*.yml")):
        write("pipeline", p.read_bytes(), counts)
    write("edge_policy", (ROOT / "examples" / "edge-policy.yml").read_bytes(), counts)
    for p in sorted((ROOT / "tests" / "pipelines").glob("*.yml")):
        # A pipeline case holds its pipelines inline; seed each `pipelines:` entry's text when
        # it is a block of its own (good enough for a seed: the fuzzer mutates from there).
        write("pipeline", p.read_bytes(), counts)
    for p in sorted((ROOT / "examples").glob("*.jsonl")):
        for line in jsonl_lines(p):
            write("event", line, counts)
            write("ocsf", line, counts)
    for p in sorted((ROOT / "sigma-rules" / "rules").rglob("*.yml")):
        write("rule", p.read_bytes(), counts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    shared = Path(args.shared)
    counts = {}
    seed_project(counts)
    if (shared / "sigma").is_dir():
        seed_rules(shared / "sigma", counts)
    else:
        print(f"SKIPPED: no SigmaHQ rules at {shared / 'sigma'}", file=sys.stderr)
    if (shared / "datasets").is_dir():
        seed_events(shared / "datasets", counts)
    else:
        print(f"SKIPPED: no datasets at {shared / 'datasets'}", file=sys.stderr)
    for target in sorted(os.listdir(OUT)) if OUT.is_dir() else []:
        files = list((OUT / target).iterdir())
        size = sum(f.stat().st_size for f in files)
        print(f"{target}: {len(files)} seeds, {size // 1024} KiB")


if __name__ == "__main__":
    main()
