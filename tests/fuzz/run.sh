#!/usr/bin/env bash
# Coverage-guided fuzzing of MoePlan.Core with AFL++ and SharpFuzz.
#   tests/fuzz/run.sh TARGET [SECONDS]     TARGET: plan (tokenizer to cost model, formatter), loads (reader, placement, placement.json), config, mooncake,
#                                          azure, kernels (AMLA shapes at the edges), simulate (a trace through the serving
#                                          simulation; seeds at one timestamp), escaping (free strings through each output
#                                          format's escaping and back through its parser; the string as a deployment name)
# Prints "fuzz TARGET: N execs, N paths, N crashes" and exits 1 when AFL++ found a crash; the crashing inputs are in
# $FUZZ_WORK/findings/default/crashes (default FUZZ_WORK: artifacts/fuzz/TARGET). Needs afl-fuzz (Debian: afl++).
set -euo pipefail
target=${1:?usage: run.sh plan|loads|config|mooncake|azure|kernels|simulate|escaping [seconds]}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${FUZZ_WORK:-$root/artifacts/fuzz/$target}
bin=$work/bin
rm -rf "$work"
mkdir -p "$work/seeds"

dotnet publish "$root/tests/fuzz/MoePlan.Fuzz" -c Release -o "$bin" --nologo -v q >/dev/null
(cd "$root" && dotnet tool restore >/dev/null && dotnet sharpfuzz "$bin/MoePlan.Core.dll" >/dev/null && dotnet sharpfuzz "$bin/MoePlan.Serving.dll" >/dev/null && dotnet sharpfuzz "$bin/MoePlan.Emulation.dll" >/dev/null)

case "$target" in
  plan)
    cp "$root"/plans/*.moe "$root"/plans/common/*.moe "$work/seeds/"
    cp "$root"/tests/MoePlan.Core.Tests/Baselines/Invalid/MP20*.moe "$work/seeds/" ;;
  loads)
    printf 'layer,expert,load\n0,0,10\n0,1,3\n1,0,7\n1,1,0\n' > "$work/seeds/loads.csv"
    printf '[[10, 3, 5, 1], [7, 0, 2, 9]]\n' > "$work/seeds/loads.json"
    printf '{"logical_count": [[0, 0, 0, 0], [12, 4, 0, 31]]}\n' > "$work/seeds/sglang.json" ;;
  config)
    printf '{"model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "intermediate_size": 128, "vocab_size": 100}\n' > "$work/seeds/qwen.json"
    printf '{"model_type": "deepseek_v3", "hidden_size": 64, "num_hidden_layers": 3, "first_k_dense_replace": 1, "num_attention_heads": 4, "q_lora_rank": 16, "kv_lora_rank": 8, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8, "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 2, "topk_group": 1, "moe_intermediate_size": 32, "intermediate_size": 128, "vocab_size": 100, "num_nextn_predict_layers": 1, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid"}\n' > "$work/seeds/deepseek.json" ;;
  mooncake)
    head -c 2000 "$root/plans/data/mooncake_synthetic_trace.jsonl" | head -n 3 > "$work/seeds/trace.jsonl" ;;
  azure)
    head -n 6 "$root/plans/data/azure_llm_inference_trace_code.csv" > "$work/seeds/trace.csv" ;;
  simulate)
    for i in $(seq 0 39); do
      printf '{"timestamp": 0, "input_length": %d, "output_length": %d, "hash_ids": [%d, %d]}\n' $((600 + 97 * i)) $((3 + i % 5)) $((i % 3)) $((100 + i))
    done > "$work/seeds/one-moment.jsonl"
    head -c 2000 "$root/plans/data/mooncake_synthetic_trace.jsonl" | head -n 3 > "$work/seeds/trace.jsonl" ;;
  escaping)
    printf 'tiny\rinjected: true\r#' > "$work/seeds/cr"
    printf 'x\xc2\x85- a\xe2\x80\xa8key: {a: 1}\xe2\x80\xa9"$(id)"`id`' > "$work/seeds/separators"
    printf "it's \\\\ a \"name\"" > "$work/seeds/quotes"
    printf 'qwen-tiny.v2' > "$work/seeds/valid" ;;
  kernels)
    printf '4 64 2\n' > "$work/seeds/small"
    printf '1 131072 29\n' > "$work/seeds/overflow"
    printf '2147483647 2147483647 2147483647\n' > "$work/seeds/max" ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac

export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
afl-fuzz -V "$seconds" -i "$work/seeds" -o "$work/findings" -t 10000 -m none -- dotnet "$bin/MoePlan.Fuzz.dll" "$target" >"$work/afl.log" 2>&1 || {
  echo "fuzz $target: afl-fuzz failed, see $work/afl.log" >&2; tail -20 "$work/afl.log" >&2; exit 2; }

stats=$work/findings/default/fuzzer_stats
execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats")
paths=$(awk -F: '/^corpus_count/ {gsub(/ /, "", $2); print $2}' "$stats")
crashes=$(find "$work/findings/default/crashes" -type f ! -name README.txt | wc -l)
hangs=$(find "$work/findings/default/hangs" -type f ! -name README.txt | wc -l)
echo "fuzz $target: $execs execs, $paths paths, $crashes crashes, $hangs hangs in ${seconds}s"
[ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]
