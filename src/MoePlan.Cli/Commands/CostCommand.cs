using System.CommandLine;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Emit;
using MoePlan.Core.Text;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan cost FILE</c>: per-step roofline and serving figures of a verified plan.</summary>
internal static class CostCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "Plan file (*.moe)." };
        var format = CommonOptions.Format("text", "md", "json");
        var command = new Command("cost", """
            Predict a plan's prefill and decode step times op by op (compute, memory and network roofline),
            TTFT, TPOT, throughput per device, the P:D balance, goodput under the SLOs and cost per million tokens.
            "device" is a rank: a GPU or one die of a multi-die package; JSON adds _per_package figures for those.

            Examples:
              moeplan cost plans/deepseek-v3-h800.moe
              moeplan cost plans/openpangu-718b-ascend910c.moe --format json
              moeplan cost plans/qwen3-235b-h200.moe --format md > report.md
              moeplan cost plans/deepseek-v3-h800.moe --set decode.max_batch=96 --set workload.arrivals="poisson 40/s"
            """);
        var set = PlanOverrideOption.Create();
        command.Arguments.Add(file);
        command.Options.Add(format);
        command.Options.Add(set);
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(format)!, stdout, stderr, parse.GetValue(set)));
        return command;
    }

    public static int Run(string file, string format, TextWriter stdout, TextWriter stderr, string[]? set = null)
    {
        if (InputPaths.Problem(file) is { } problem)
        {
            stderr.WriteLine($"moeplan: error: {problem}");
            return ExitCodes.UsageOrIo;
        }

        var result = PlanCompiler.Compile(file, PlanOverrideOption.Resolver(set, file));
        if (result.Plan is null)
        {
            DiagnosticPrinter.WriteText(stderr, result.Diagnostics);
            return ExitCodes.Diagnostics;
        }

        // Compilation ran the placement stage and the cost model (the SLO check needs them).
        var report = result.Cost!.Report!;
        switch (format)
        {
            case "json":
                stdout.Write(CostReportWriter.Json(result.Plan, report));
                break;
            case "md":
                stdout.Write(CostReportWriter.Markdown(result.Plan, report));
                break;
            default:
                DiagnosticPrinter.WriteText(stdout, result.Diagnostics);
                WriteText(stdout, result.Plan.Name.Value, result.Plan.Factors, report);
                break;
        }

        return ExitCodes.Ok;
    }

    private static void WriteText(TextWriter stdout, string name, EfficiencyFactors factors, CostReport r)
    {
        var unit = r.DiesPerPackage > 1 ? "die" : "device";
        stdout.WriteLine($"{name}: cost model (figures per {unit}): analytic, saturated-capacity estimates (every batch full); `moeplan run` simulates the offered load");
        stdout.WriteLine($"efficiency factors ({factors.Family}): {factors.Provenance}");
        stdout.WriteLine(CostReportWriter.IntervalLine(r));
        var summary = new Table().AddColumns("phase", "step ms", "latency ms", $"tok/s per {unit}", "batch", "imbalance");
        // Aggregated: both rows are the serve pool's mixed step, with a full prompt chunk (TTFT) and balanced (TPOT).
        var (prefillPhase, decodePhase) = r.Serve is null ? ("prefill", "decode") : ("serve, full chunk", "serve, balanced");
        summary.AddRow(prefillPhase, NumberText.Compact(r.Prefill.Step.StepMilliseconds), "TTFT " + CostReportWriter.WithInterval(r.Prefill.TtftMilliseconds, r, "prefill.ttft_ms"),
            $"{CostReportWriter.WithInterval(r.Prefill.InputTokensPerSecondPerRank, r, "prefill.input_tokens_per_s_per_device")} in ({NumberText.Compact(r.Prefill.ComputedTokensPerSecondPerRank)} computed)",
            NumberText.Compact(r.Prefill.Step.TokensPerRank) + " tok", NumberText.Compact(r.Prefill.Step.Imbalance));
        summary.AddRow(decodePhase, NumberText.Compact(r.Decode.Step.StepMilliseconds), "TPOT " + CostReportWriter.WithInterval(r.Decode.TpotMilliseconds, r, "decode.tpot_ms"),
            CostReportWriter.WithInterval(r.Decode.OutputTokensPerSecondPerRank, r, "decode.output_tokens_per_s_per_device") + " out", $"{NumberText.Compact(r.Decode.BatchPerRank)} seq, KV {NumberText.Compact(r.Decode.KvLength)}",
            NumberText.Compact(r.Decode.Step.Imbalance));
        TableWriter.Write(stdout, summary);

        foreach (var (phase, step) in new[] { (prefillPhase, r.Prefill.Step), (decodePhase, r.Decode.Step) })
        {
            var ops = new Table().Title($"{phase} step by op (ms, summed over layers)").AddColumns("op", "compute", "memory", "network", "floor", "bound");
            foreach (var op in step.Ops)
            {
                ops.AddRow(Markup.Escape(op.Name), NumberText.Compact(op.ComputeMilliseconds), NumberText.Compact(op.MemoryMilliseconds),
                    NumberText.Compact(op.CommunicationMilliseconds), NumberText.Compact(op.LaunchMilliseconds), op.Bound);
            }

            TableWriter.Write(stdout, ops);
        }

        if (r.Serve is { } serve)
        {
            stdout.WriteLine($"serve (aggregated, chunked prefill): a step carries {NumberText.Compact(serve.DecodeTokensPerRank)} decode tokens and {NumberText.Compact(serve.ChunkTokensPerRank)} prompt tokens per data-parallel rank (at most {NumberText.Compact(serve.FullChunkTokensPerRank)}); a prompt takes {serve.StepsToFirstToken} full-chunk step(s); capacity prompts {NumberText.Compact(r.PrefillCapacityRequestsPerSecond)} req/s, decode {NumberText.Compact(r.DecodeCapacityRequestsPerSecond)} req/s; goodput {NumberText.Compact(r.GoodputRequestsPerSecond)} req/s" +
                             (r.TtftMeetsSlo && r.TpotMeetsSlo ? "" : " (an SLO is missed)"));
        }
        else
        {
            stdout.WriteLine($"P:D devices balancing the workload: {NumberText.Compact(r.PrefillToDecodeDeviceRatio)}; capacity prefill {NumberText.Compact(r.PrefillCapacityRequestsPerSecond)} req/s, decode {NumberText.Compact(r.DecodeCapacityRequestsPerSecond)} req/s; goodput {NumberText.Compact(r.GoodputRequestsPerSecond)} req/s" +
                         (r.TtftMeetsSlo && r.TpotMeetsSlo ? "" : " (an SLO is missed)"));
        }

        if (r.UsdPerMillionInputTokens is { } i && r.UsdPerMillionOutputTokens is { } o)
        {
            stdout.WriteLine($"cost: ${NumberText.Compact(i)} per million input tokens, ${NumberText.Compact(o)} per million output tokens");
        }
    }
}
