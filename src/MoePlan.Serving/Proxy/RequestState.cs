using MoePlan.Scheduling;

namespace MoePlan.Serving.Proxy;

/// <summary>A request inside the simulation: its arrival record, where it runs, and its stage stamps.</summary>
public sealed class RequestState
{
    public const int StageCount = 10;

    public RequestState(MoePlan.Core.Workloads.ArrivingRequest request)
    {
        Request = request;
        Stamps = new double[StageCount];
        Array.Fill(Stamps, double.NaN);
    }

    public MoePlan.Core.Workloads.ArrivingRequest Request { get; }

    /// <summary>Milliseconds at which the request entered each <see cref="RequestStage"/>; NaN if not (yet).</summary>
    public double[] Stamps { get; }

    public int PrefillInstance { get; internal set; } = -1;

    public int DecodeInstance { get; internal set; } = -1;

    /// <summary>Prompt tokens served from the prefill instance's prefix cache.</summary>
    public int CachedTokens { get; internal set; }

    /// <summary>Prompt tokens an independent proxy worker's own record of the cache serves (the live proxy's worker views).</summary>
    internal int WorkerCachedTokens { get; set; }

    /// <summary>Prompt tokens in the KV cache so far (cached plus computed): the context the next chunk attends to.</summary>
    internal int PrefilledTokens { get; set; }

    internal int PrefillRemaining { get; set; } = -1;

    internal double Generated { get; set; }

    public double FirstTokenMilliseconds { get; internal set; } = double.NaN;

    public bool Rejected { get; internal set; }

    /// <summary>The proxy worker that routes the request (0 with shared state).</summary>
    public int Worker { get; internal set; }

    /// <summary>KV tokens a decode instance reserves for the request: prompt plus output.</summary>
    public double DecodeTokens => (double)Request.InputTokens + Request.OutputTokens;

    /// <summary>Order of arrival at the simulation: the last tie-break of queue orders (ids need not be unique).</summary>
    internal long Sequence { get; init; }

    /// <summary>The last queue walk that looked at the request (the simulation's prefill queues).</summary>
    internal int QueueWalk { get; set; }

    internal void Stamp(RequestStage stage, double milliseconds) => Stamps[(int)stage] = milliseconds;

    public double Stamp(RequestStage stage) => Stamps[(int)stage];
}
