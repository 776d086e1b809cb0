using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Workloads;

/// <summary>The request lengths the cost model needs: mean prompt and output tokens and E[prompt^2].</summary>
/// <param name="P99TotalTokens">A trace's 99th percentile of prompt + output per request (nearest rank); 0 when not measured.</param>
/// <param name="MaxTotalTokens">A trace's longest request, prompt + output; 0 when not measured.</param>
/// <param name="PrefixShare">A trace's share of prompt tokens whose leading 512-token blocks an earlier request already
/// had (what an unbounded prefix cache reuses; Mooncake traces name their blocks, Azure traces share none).</param>
/// <param name="ArrivalRatePerSecond">A trace's requests per second: (requests - 1) over the first to last arrival; null when not measured or all arrive at once.</param>
public sealed record WorkloadLengths(
    double MeanInputTokens,
    double InputSecondMoment,
    double MeanOutputTokens,
    long Requests,
    int P99TotalTokens = 0,
    int MaxTotalTokens = 0,
    double? ArrivalRatePerSecond = null,
    double PrefixShare = 0)
{
    /// <summary>Measures a trace's lengths by streaming it through its reader; reader diagnostics come back as they are.</summary>
    public static (WorkloadLengths? Lengths, ImmutableArray<Diagnostic> Diagnostics) Measure(TraceSource trace, string resolvedPath, TextReader text)
    {
        var diagnostics = new List<Diagnostic>();
        var requests = trace.Format == TraceFormat.Azure
            ? AzureTraceReader.Read(text, resolvedPath, diagnostics)
            : MooncakeTraceReader.Read(text, resolvedPath, diagnostics);
        long count = 0;
        double input = 0, inputSquares = 0, output = 0;
        double first = double.PositiveInfinity, last = double.NegativeInfinity;
        var totals = new List<int>();
        var seenBlocks = new HashSet<long>();
        double reused = 0;
        foreach (var request in requests)
        {
            count++;
            totals.Add((int)Math.Min(int.MaxValue, (long)request.InputTokens + request.OutputTokens));
            first = Math.Min(first, request.ArrivalMilliseconds);
            last = Math.Max(last, request.ArrivalMilliseconds);
            var leading = 0;
            while (leading < request.Blocks.Length && seenBlocks.Contains(request.Blocks[leading]))
            {
                leading++;
            }

            reused += Math.Min(request.InputTokens, (long)leading * ArrivingRequest.BlockTokens);
            seenBlocks.UnionWith(request.Blocks);
            input += request.InputTokens;
            inputSquares += (double)request.InputTokens * request.InputTokens;
            output += request.OutputTokens;
        }

        if (count == 0 || diagnostics.Any(d => d.IsError))
        {
            return (null, [.. diagnostics]);
        }

        totals.Sort();
        var p99 = totals[(int)Math.Ceiling(0.99 * count) - 1];
        double? rate = count > 1 && last > first ? (count - 1) / ((last - first) / 1e3) : null;
        return (new WorkloadLengths(input / count, inputSquares / count, output / count, count, p99, totals[^1], rate, input > 0 ? reused / input : 0), [.. diagnostics]);
    }
}
