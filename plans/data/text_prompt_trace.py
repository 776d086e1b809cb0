"""Writes text_prompt_trace.jsonl: 48 requests whose prompts are real text (seeded, so re-running gives the same file
while the docs are unchanged). Each prompt is one of three system prompts (the opening 4,000 characters of a project
doc, about 1,000 cl100k_base tokens) plus a short user question; arrivals are Poisson at about 2.5 per second.
Run from the repository root: python3 plans/data/text_prompt_trace.py"""
import json
import random

rng = random.Random(7)
docs = {name: open(f'docs/{name}.md', encoding='utf-8').read()[:4000] for name in ['simulation', 'dsl', 'cost-model']}
systems = {k: f"You are a helpful assistant for moeplan users. Answer from this manual only.\n\n{v}\n\n" for k, v in docs.items()}
questions = [
    "How is the prefix cache capacity derived?",
    "What does parallel mode change about the KV transfer?",
    "Which policy routes by the deepest APC match?",
    "How do I set the number of decode instances?",
    "What is goodput and how is it counted?",
    "Explain the Omni weight used to order prefill queues.",
    "How are TTFT and TPOT defined here?",
    "What does the tokenizer_reuse setting do?",
    "How is the decode step time computed?",
    "Which units can a duration take in the DSL?",
    "Why might one prefill instance get most requests?",
    "How does MTP change tokens per step?",
]
rows = []
t = 0.0
for i in range(48):
    t += round(rng.expovariate(1 / 400.0), 3)
    system = rng.choice(list(systems))
    q = rng.choice(questions)
    rows.append({"timestamp": round(t, 3), "prompt": systems[system] + "User: " + q, "output_length": rng.choice([64, 128, 200, 256, 400])})
with open('plans/data/text_prompt_trace.jsonl', 'w', encoding='utf-8', newline='\n') as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
