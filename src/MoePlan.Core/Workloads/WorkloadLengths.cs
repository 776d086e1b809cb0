using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Workloads;

/// <summary>The request lengths the cost model needs: mean prompt and output tokens and E[prompt^2].</summary>
public sealed record WorkloadLengths(double MeanInputTokens, double InputSecondMoment, double MeanOutputTokens, long Requests)
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
        foreach (var request in requests)
        {
            count++;
            input += request.InputTokens;
            inputSquares += (double)request.InputTokens * request.InputTokens;
            output += request.OutputTokens;
        }

        if (count == 0 || diagnostics.Any(d => d.IsError))
        {
            return (null, [.. diagnostics]);
        }

        return (new WorkloadLengths(input / count, inputSquares / count, output / count, count), [.. diagnostics]);
    }
}
