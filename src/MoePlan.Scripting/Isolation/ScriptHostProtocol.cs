using MoePlan.Scheduling;

namespace MoePlan.Scripting.Isolation;

/// <summary>The hooks the host asks the script host to run.</summary>
internal enum Hook : byte
{
    /// <summary>The script's top level: makes the run's scheduler.</summary>
    Create,
    Admit,
    ChoosePrefill,
    ChooseDecode,
    PrefillPriority,
}

/// <summary>What the script host asks back during a call (answers the host computes from its own state).</summary>
internal enum Query : byte
{
    MatchedBlocks,
    HasRoom,
    DefaultPrefill,
    DefaultDecode,
}

/// <summary>Why a call failed inside the script host (it still runs).</summary>
internal enum FailureKind : byte
{
    Time,
    Stack,
    Memory,
    Threw,
    NoScheduler,
}

/// <summary>
/// The messages between the host and the script host over the child's standard input and output, little-endian
/// binary (<see cref="BinaryWriter"/>). Host: Start (image, budget) -> Ready; then per hook call: Call (hook, the
/// cluster's state, the requests) -> any number of Query/Answer pairs -> Value or Failure. One message per decision;
/// a queue's priorities are one call for the whole queue.
/// </summary>
internal static class ScriptHostProtocol
{
    public const byte Start = (byte)'S';
    public const byte Ready = (byte)'R';
    public const byte Call = (byte)'C';
    public const byte Ask = (byte)'Q';
    public const byte Answer = (byte)'A';
    public const byte Value = (byte)'V';
    public const byte Failure = (byte)'F';

    /// <summary>Stages a request records (<see cref="RequestStage"/> in order).</summary>
    public const int Stages = (int)RequestStage.Done + 1;

    /// <summary>The cluster's state at the decision, read from the host's own views (host code; no script object).</summary>
    public static void WriteCluster(BinaryWriter w, IClusterState c)
    {
        w.Write(c.NowMilliseconds);
        w.Write(c.ApcAware);
        w.Write(c.BlockTokens);
        w.Write(c.TtftSloMilliseconds);
        w.Write(c.ProxyHeldRequests);
        w.Write(c.ProxyHeldTokens);
        w.Write(c.Prefill.Count);
        foreach (var p in c.Prefill)
        {
            w.Write(p.Requests);
            w.Write(p.Waiting);
            w.Write(p.RunningBatch);
            w.Write(p.QueuedTokens);
            w.Write(p.StepTokenCapacity);
            w.Write(p.CachedBlocks);
            w.Write(p.CacheCapacityBlocks);
            w.Write(p.Busy);
            WriteList(w, p.RecentStepMilliseconds);
        }

        w.Write(c.Decode.Count);
        foreach (var d in c.Decode)
        {
            w.Write(d.Sequences);
            w.Write(d.RunningBatch);
            w.Write(d.ReservedTokens);
            w.Write(d.SequenceCapacity);
            w.Write(d.TokenCapacity);
            w.Write(d.Busy);
            WriteList(w, d.RecentStepMilliseconds);
        }
    }

    public static void WriteRequest(BinaryWriter w, IRequestView r)
    {
        w.Write(r.Id);
        w.Write(r.InputTokens);
        w.Write(r.OutputTokens);
        w.Write(r.ArrivalMilliseconds);
        w.Write(r.PromptBlocks);
        w.Write(r.PrefillInstance);
        w.Write(r.DecodeInstance);
        for (int s = 0; s < Stages; s++)
        {
            w.Write(r.StageMilliseconds((RequestStage)s));
        }
    }

    private static void WriteList(BinaryWriter w, IReadOnlyList<double> values)
    {
        w.Write(values.Count);
        for (int i = 0; i < values.Count; i++)
        {
            w.Write(values[i]);
        }
    }
}

/// <summary>
/// A prefill queue being ordered (the host's, over its own views; and the script host's copy, over the copies it
/// made). The list is a read-only wrapper: a cast to an array or <c>IList</c> cannot write it.
/// </summary>
internal sealed class PrefillQueueView : IPrefillQueueView
{
    public PrefillQueueView(int instance, IRequestView[] waiting, double now)
    {
        Instance = instance;
        Waiting = Array.AsReadOnly(waiting);
        foreach (var r in waiting)
        {
            MaxInputTokens = Math.Max(MaxInputTokens, r.InputTokens);
            // The proxy's own queue (instance -1) holds requests since their APC match.
            MaxWaitedMilliseconds = Math.Max(MaxWaitedMilliseconds, now - r.StageMilliseconds(instance < 0 ? RequestStage.ApcMatched : RequestStage.PrefillWaiting));
        }
    }

    public int Instance { get; }

    public IReadOnlyList<IRequestView> Waiting { get; }

    public int MaxInputTokens { get; }

    public double MaxWaitedMilliseconds { get; }
}
