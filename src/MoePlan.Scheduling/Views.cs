namespace MoePlan.Scheduling;

/// <summary>
/// Omni Proxy's ten lifecycle stages, in order (docs/simulation.md). Each request records the moment it enters
/// each stage; the time spent in a stage is the next stage's stamp minus its own (<see cref="Done"/> lasts no
/// time). The simulation uses this enum itself, so scripts and the runtime cannot disagree on it.
/// </summary>
public enum RequestStage
{
    /// <summary>The proxy has the request; tokenisation starts.</summary>
    Received,

    /// <summary>Token ids known; the APC lookup starts.</summary>
    Tokenized,

    /// <summary>Matched depth known. The request waits here in the proxy while every prefill instance is at its caps, and in parallel mode for a decode slot (P and D are chosen together).</summary>
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

/// <summary>A request as a scheduler sees it (read-only).</summary>
public interface IRequestView
{
    /// <summary>The request's id (arrival order in synthetic workloads and traces).</summary>
    long Id { get; }

    /// <summary>Prompt length in tokens.</summary>
    int InputTokens { get; }

    /// <summary>Output length in tokens.</summary>
    int OutputTokens { get; }

    /// <summary>Arrival time in milliseconds since the start of the run.</summary>
    double ArrivalMilliseconds { get; }

    /// <summary>The prompt's blocks of <see cref="IClusterState.BlockTokens"/> tokens.</summary>
    int PromptBlocks { get; }

    /// <summary>Leading prompt blocks that prefill instance <paramref name="prefill"/> holds in its prefix cache now.</summary>
    int MatchedBlocks(int prefill);

    /// <summary>The time the request entered <paramref name="stage"/>, in milliseconds; NaN when it has not (yet).</summary>
    double StageMilliseconds(RequestStage stage);

    /// <summary>The prefill instance chosen for it, or -1 before that.</summary>
    int PrefillInstance { get; }

    /// <summary>The decode instance chosen for it, or -1 before that.</summary>
    int DecodeInstance { get; }
}

/// <summary>A prefill instance as a scheduler sees it (read-only).</summary>
public interface IPrefillInstanceView
{
    /// <summary>Position in <see cref="IClusterState.Prefill"/>.</summary>
    int Index { get; }

    /// <summary>Requests waiting or running on the instance.</summary>
    int Requests { get; }

    /// <summary>Requests waiting in its queue (not yet in a batch).</summary>
    int Waiting { get; }

    /// <summary>Requests in its current (or last) batch.</summary>
    int RunningBatch { get; }

    /// <summary>Prompt tokens queued or running on it that are not computed yet (its tokens in flight).</summary>
    long QueuedTokens { get; }

    /// <summary>Prompt tokens one of its steps computes at most (its batch token budget).</summary>
    int StepTokenCapacity { get; }

    /// <summary>Blocks in its prefix cache now.</summary>
    long CachedBlocks { get; }

    /// <summary>Blocks its prefix cache can hold.</summary>
    long CacheCapacityBlocks { get; }

    /// <summary>A step is running.</summary>
    bool Busy { get; }

    /// <summary>Durations of its last steps in milliseconds, oldest first (at most 16).</summary>
    IReadOnlyList<double> RecentStepMilliseconds { get; }
}

/// <summary>A decode instance as a scheduler sees it (read-only).</summary>
public interface IDecodeInstanceView
{
    /// <summary>Position in <see cref="IClusterState.Decode"/>.</summary>
    int Index { get; }

    /// <summary>Sequence slots taken (running, joining or with KV in flight).</summary>
    int Sequences { get; }

    /// <summary>Sequences in its current (or last) batch.</summary>
    int RunningBatch { get; }

    /// <summary>KV tokens reserved (prompt plus output of every sequence it holds): its tokens in flight.</summary>
    double ReservedTokens { get; }

    /// <summary>Sequence slots it has.</summary>
    int SequenceCapacity { get; }

    /// <summary>KV tokens it can hold.</summary>
    double TokenCapacity { get; }

    /// <summary>A step is running.</summary>
    bool Busy { get; }

    /// <summary>Durations of its last steps in milliseconds, oldest first (at most 16).</summary>
    IReadOnlyList<double> RecentStepMilliseconds { get; }

    /// <summary>It has a free slot and KV room for the request's prompt plus output.</summary>
    bool HasRoom(IRequestView request);
}

/// <summary>A prefill instance's waiting queue while it is being ordered.</summary>
public interface IPrefillQueueView
{
    /// <summary>The prefill instance, or -1 for the proxy's own queue of requests held while every instance is at its caps (they wait since their APC match).</summary>
    int Instance { get; }

    /// <summary>The waiting requests, first come first.</summary>
    IReadOnlyList<IRequestView> Waiting { get; }

    /// <summary>The longest prompt in the queue, in tokens.</summary>
    int MaxInputTokens { get; }

    /// <summary>The longest time a request of the queue has waited in it, in milliseconds.</summary>
    double MaxWaitedMilliseconds { get; }
}

/// <summary>The deployment as a scheduler sees it at the moment of a decision (read-only).</summary>
public interface IClusterState
{
    /// <summary>Simulated time now, in milliseconds.</summary>
    double NowMilliseconds { get; }

    /// <summary>The proxy routes by prefix-cache depth (the plan's <c>apc on</c>).</summary>
    bool ApcAware { get; }

    /// <summary>Tokens per prefix-cache block.</summary>
    int BlockTokens { get; }

    /// <summary>The plan's TTFT target in milliseconds; NaN when the plan sets none.</summary>
    double TtftSloMilliseconds { get; }

    /// <summary>Requests the proxy holds because every prefill instance is at its caps.</summary>
    int ProxyHeldRequests { get; }

    /// <summary>Prompt tokens of the requests the proxy holds.</summary>
    long ProxyHeldTokens { get; }

    /// <summary>The prefill instances.</summary>
    IReadOnlyList<IPrefillInstanceView> Prefill { get; }

    /// <summary>The decode instances.</summary>
    IReadOnlyList<IDecodeInstanceView> Decode { get; }

    /// <summary>What the default policy (<c>omni</c>) would decide; the <see cref="Scheduler"/> hooks return these unless overridden.</summary>
    IDefaultDecisions Defaults { get; }
}

/// <summary>The default policy's (<c>omni</c>'s) decisions, for a script to fall back on or adjust.</summary>
public interface IDefaultDecisions
{
    /// <summary>
    /// Deepest prefix-cache match (with APC-aware routing), then fewest queued tokens, then fewest requests, among
    /// the instances under Omni Proxy's caps (a full step of queued tokens, 32 requests); -1 (hold at the proxy)
    /// when every instance is at its caps.
    /// </summary>
    int ChoosePrefill(IRequestView request);

    /// <summary>Fewest reserved KV tokens among the decode instances with room; -1 when none has room.</summary>
    int ChooseDecode(IRequestView request);

    /// <summary>Omni's queue weight 0.8 (maxTok - tok) / maxTok + 0.2 waited / max(maxWait, 50 ms): short and long-waiting first.</summary>
    double PrefillPriority(IRequestView request, IPrefillQueueView queue);
}
