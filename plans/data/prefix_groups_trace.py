#!/usr/bin/env python3
"""Writes prefix_groups_trace.jsonl: a Mooncake-format trace where requests share one of many long prefixes.

160 prefix groups of 8 blocks (4,096 tokens, e.g. per-tenant system prompts and documents) chosen uniformly,
each request adding 1 to 6 blocks of its own; Poisson arrivals at RATE per second; 64 output tokens. The groups
need 1,280 blocks in all: more than one small prefill instance's cache, so where a group is routed decides
whether its prefix is found. Seeded: the same arguments give the same file.

usage: prefix_groups_trace.py OUT.jsonl [REQUESTS [RATE [SEED]]]
"""
import json
import random
import sys


def main(target, requests=600, rate=100.0, seed=11):
    rng = random.Random(seed)
    groups, prefix_blocks = 160, 8
    next_id = groups * prefix_blocks
    t = 0.0
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        for _ in range(requests):
            t += rng.expovariate(rate)
            g = rng.randrange(groups)
            own = rng.randint(1, 6)
            ids = list(range(g * prefix_blocks, (g + 1) * prefix_blocks)) + list(range(next_id, next_id + own))
            next_id += own
            length = (prefix_blocks + own) * 512 - rng.randrange(256)
            out.write(json.dumps({"timestamp": round(t * 1000), "input_length": length, "output_length": 64, "hash_ids": ids}) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    main(args[0], *(f(a) for f, a in zip((int, float, int), args[1:])))
