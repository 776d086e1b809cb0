#!/usr/bin/env python3
"""Tile the shipped 17-minute Mooncake-format trace into a longer one for the simulation benchmark.

usage: tile_mooncake.py IN.jsonl OUT.jsonl SECONDS

Copy k of the trace starts k x (the trace's span + its mean gap) later; its hash_ids are shifted past every id
of the copies before it, so copies share no prefix blocks (each copy's own reuse is kept). Rows after SECONDS
are dropped. The output has the input's field order and one row per line, as the Mooncake release does.
"""
import json
import sys


def main(source, target, seconds):
    rows = [json.loads(line) for line in open(source, encoding="utf-8") if line.strip()]
    span = rows[-1]["timestamp"] - rows[0]["timestamp"]
    period = span + span / max(1, len(rows) - 1)
    id_stride = 1 + max(max(r["hash_ids"]) for r in rows if r["hash_ids"])
    end_ms = seconds * 1000.0
    written = 0
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        copy = 0
        while True:
            offset = copy * period
            if rows[0]["timestamp"] + offset > end_ms:
                break
            for r in rows:
                t = r["timestamp"] + offset
                if t > end_ms:
                    break
                row = {"timestamp": round(t), "input_length": r["input_length"], "output_length": r["output_length"],
                       "hash_ids": [h + copy * id_stride for h in r["hash_ids"]]}
                out.write(json.dumps(row) + "\n")
                written += 1
            copy += 1
    print(f"{target}: {written} requests over {seconds} s from {len(rows)} rows ({copy} copies)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
