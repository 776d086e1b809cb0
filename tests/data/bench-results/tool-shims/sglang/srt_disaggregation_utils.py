# Stand-in for sglang/srt/disaggregation/utils.py (imports torch): only the constant bench_serving.py uses, copied verbatim.
FAKE_BOOTSTRAP_HOST = "2.2.2.2"
