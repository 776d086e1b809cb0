namespace MoePlan.Runtime.Proxy;

/// <summary>
/// Omni Proxy's ten lifecycle stages. Each request records the moment it enters each stage; the time spent
/// in a stage is the next stage's stamp minus its own (<see cref="Done"/> lasts no time).
/// </summary>
public enum LifecycleStage
{
    /// <summary>The proxy has the request; tokenisation starts.</summary>
    Received,

    /// <summary>Token ids known; the APC lookup starts.</summary>
    Tokenized,

    /// <summary>Matched depth known. Parallel mode waits here for a decode slot (P and D are chosen together).</summary>
    ApcMatched,

    /// <summary>In a prefill instance's queue.</summary>
    PrefillWaiting,

    /// <summary>Put in a prefill batch (the engine runs it at once: this stage lasts no time in the model).</summary>
    PrefillScheduled,

    /// <summary>Prefill steps run (several when chunked).</summary>
    Prefilling,

    /// <summary>Prefill done; waiting for a decode slot (sequential mode; parallel reserved it up front).</summary>
    DecodeWaiting,

    /// <summary>A decode instance holds the slot; the KV cache is still in flight.</summary>
    DecodeScheduled,

    /// <summary>In the decode instance's running batch.</summary>
    Decoding,

    /// <summary>The last token is out.</summary>
    Done,
}

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

    /// <summary>Milliseconds at which the request entered each <see cref="LifecycleStage"/>; NaN if not (yet).</summary>
    public double[] Stamps { get; }

    public int PrefillInstance { get; internal set; } = -1;

    public int DecodeInstance { get; internal set; } = -1;

    /// <summary>Prompt tokens served from the prefill instance's prefix cache.</summary>
    public int CachedTokens { get; internal set; }

    /// <summary>Prompt tokens in the KV cache so far (cached plus computed): the context the next chunk attends to.</summary>
    internal int PrefilledTokens { get; set; }

    internal int PrefillRemaining { get; set; } = -1;

    internal double Generated { get; set; }

    public double FirstTokenMilliseconds { get; internal set; } = double.NaN;

    public bool Rejected { get; internal set; }

    /// <summary>The proxy worker that routes the request (0 with shared state).</summary>
    public int Worker { get; internal set; }

    /// <summary>KV tokens a decode instance reserves for the request: prompt plus output.</summary>
    internal double DecodeTokens => (double)Request.InputTokens + Request.OutputTokens;

    internal void Stamp(LifecycleStage stage, double milliseconds) => Stamps[(int)stage] = milliseconds;

    public double Stamp(LifecycleStage stage) => Stamps[(int)stage];
}
