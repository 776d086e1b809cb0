namespace MoePlan.Proxy.Bench;

/// <summary>
/// One replayed request as the client saw it, in seconds of wall time from the bench's start: when it was sent, its
/// first token, the gaps between later token events, its end; the usage the server reported; its error if it failed.
/// </summary>
public sealed record BenchRecord(
    long Id,
    double SentSeconds,
    int InputTokens,
    int OutputTokens,
    int CachedTokens,
    double TtftSeconds,
    IReadOnlyList<double> ItlSeconds,
    double LatencySeconds,
    string? Error)
{
    public bool Completed => Error is null;

    /// <summary>(latency - TTFT) / (output - 1), vLLM's TPOT; NaN for one-token outputs.</summary>
    public double TpotSeconds => OutputTokens > 1 ? (LatencySeconds - TtftSeconds) / (OutputTokens - 1) : double.NaN;
}
