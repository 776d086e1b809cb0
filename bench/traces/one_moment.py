#!/usr/bin/env python3
"""Write a Mooncake-format trace of N requests that all arrive at one moment (timestamp 0).

usage: one_moment.py IN.jsonl OUT.jsonl N

Rows are the shipped trace's lengths and outputs, cycled; copy k's hash_ids are shifted past every id of the copies
before it, so copies share no prefix blocks. The simulation's prefill queues then hold nearly every request at
once: the case that was quadratic while each step sorted its whole queue (docs/reliability.md).
"""
import json
import sys


def main(source, target, n):
    rows = [json.loads(line) for line in open(source, encoding="utf-8") if line.strip()]
    id_stride = 1 + max(max(r["hash_ids"]) for r in rows if r["hash_ids"])
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        for i in range(n):
            r = rows[i % len(rows)]
            shift = (i // len(rows)) * id_stride
            row = {"timestamp": 0, "input_length": r["input_length"], "output_length": r["output_length"],
                   "hash_ids": [h + shift for h in r["hash_ids"]]}
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
