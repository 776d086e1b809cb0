using System.Diagnostics;
using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Routing;

/// <summary>The proxy's live record of one prefill upstream: what it sent there and has not seen finish, and the blocks it holds.</summary>
public sealed class PrefillLoad(long cacheBlocks)
{
    /// <summary>Prompt tokens sent and not yet prefilled (less what the record says the cache serves).</summary>
    public long QueuedTokens { get; set; }

    public int Requests { get; set; }

    /// <summary>The proxy's record of the instance's prefix cache: the blocks of the prompts it prefilled, at the plan's size, least recently used evicted (as the simulation's cache).</summary>
    public PrefixCache Cache { get; set; } = new(cacheBlocks);

    public bool Up { get; set; } = true;
}

/// <summary>The proxy's live record of one decode upstream.</summary>
public sealed class DecodeLoad
{
    public int Sequences { get; set; }

    public double ReservedTokens { get; set; }

    public bool Up { get; set; } = true;
}

/// <summary>
/// What the policies see in the live proxy: the same <see cref="IClusterView"/> (and, for scheduler scripts, the same
/// <see cref="ISchedulingState"/>) the simulation gives them, fed by the requests in flight instead of simulated
/// instances. A marked-down prefill upstream looks full (at the token cap, no cache) and a marked-down decode upstream
/// has no room, so load-aware policies avoid them; the router overrides any other choice of a down upstream.
/// Not thread-safe: <see cref="ProxyRouter"/> calls it under its lock.
/// </summary>
public sealed class LiveClusterView : IClusterView, ISchedulingState
{
    private readonly ServingConfig _config;
    private readonly Func<double> _clock;
    private readonly LiveClusterState _cluster;
    private readonly LiveClusterView? _whole;
    private PrefillQueue? _held;

    /// <param name="clockMilliseconds">The proxy's clock (tests set their own): milliseconds since it started; null, a stopwatch's.</param>
    public LiveClusterView(ServingConfig config, int prefillInstances, int decodeInstances, Func<double>? clockMilliseconds = null)
    {
        _config = config;
        if (clockMilliseconds is null)
        {
            var stopwatch = Stopwatch.StartNew();
            clockMilliseconds = () => stopwatch.Elapsed.TotalMilliseconds;
        }

        _clock = clockMilliseconds;
        Prefill = Enumerable.Range(0, prefillInstances).Select(_ => new PrefillLoad(config.PrefixCacheBlocks)).ToArray();
        Decode = Enumerable.Range(0, decodeInstances).Select(_ => new DecodeLoad()).ToArray();
        _cluster = new LiveClusterState(this);
    }

    public ServingConfig Config => _config;

    public PrefillLoad[] Prefill { get; }

    public DecodeLoad[] Decode { get; }

    /// <summary>Requests the router holds for a prefill under its caps (the scripts' <c>ProxyHeldRequests</c>); set by the router.</summary>
    internal PrefillQueue? Held
    {
        get => _whole?.Held ?? _held;
        set => _held = value;
    }

    /// <summary>
    /// An independent proxy worker's view: its own record of the load and cached blocks its own requests caused (the
    /// router keeps it), with the same caps and clock. Whether a decode upstream has room, the requests' views, the
    /// held queue and the scheduler API's state are this whole view's (the simulation's worker view does the same).
    /// </summary>
    public LiveClusterView ForWorker() => new(this);

    private LiveClusterView(LiveClusterView whole)
        : this(whole._config, whole.Prefill.Length, whole.Decode.Length, whole._clock)
    {
        _whole = whole;
    }

    /// <summary>Milliseconds since the proxy started (request stamps and the scripts' clock).</summary>
    public double NowMilliseconds => _clock();

    public int PrefillInstances => Prefill.Length;

    public int DecodeInstances => Decode.Length;

    public bool ApcAware => _config.ApcAware;

    public long PrefixCacheBlocks => _config.PrefixCacheBlocks;

    public int PrefillTokenCap => _config.PrefillTokenCap;

    public IClusterState Cluster => _whole?.Cluster ?? _cluster;

    public int MatchedBlocks(int prefill, long[] blocks) => Prefill[prefill].Up ? Prefill[prefill].Cache.Match(blocks) : 0;

    public long PrefillQueuedTokens(int prefill) => Prefill[prefill].Up ? Prefill[prefill].QueuedTokens : Math.Max(Prefill[prefill].QueuedTokens, _config.PrefillTokenCap);

    public int PrefillRequests(int prefill) => Prefill[prefill].Up ? Prefill[prefill].Requests : Math.Max(Prefill[prefill].Requests, OmniPolicy.PrefillMaxNumSeqs);

    public int DecodeSequences(int decode) => Decode[decode].Sequences;

    public double DecodeReservedTokens(int decode) => Decode[decode].ReservedTokens;

    public bool DecodeHasRoom(int decode, RequestState request) =>
        _whole?.DecodeHasRoom(decode, request) ?? (Decode[decode].Up && _config.DecodeHasRoom(Decode[decode].Sequences, Decode[decode].ReservedTokens, request.DecodeTokens));

    public IRequestView View(RequestState request) => _whole?.View(request) ?? new RequestStateView(request, this);

    /// <summary>A prefill upstream as the scheduler API shows it; what the proxy cannot see (the engine's own queue and batch, its step times) is what it sent and empty.</summary>
    private sealed class LivePrefillView(LiveClusterView view, int index) : IPrefillInstanceView
    {
        public int Index => index;

        public int Requests => view.PrefillRequests(index);

        public int Waiting => view.PrefillRequests(index);

        public int RunningBatch => 0;

        public long QueuedTokens => view.PrefillQueuedTokens(index);

        public int StepTokenCapacity => view._config.PrefillTokenCap;

        public long CachedBlocks => view.Prefill[index].Cache.Count;

        public long CacheCapacityBlocks => view.Prefill[index].Cache.CapacityBlocks;

        public bool Busy => view.Prefill[index].Requests > 0;

        public IReadOnlyList<double> RecentStepMilliseconds => [];
    }

    private sealed class LiveDecodeView(LiveClusterView view, int index) : IDecodeInstanceView
    {
        public int Index => index;

        public int Sequences => view.Decode[index].Sequences;

        public int RunningBatch => view.Decode[index].Sequences;

        public double ReservedTokens => view.Decode[index].ReservedTokens;

        public int SequenceCapacity => view._config.DecodeSequenceCap;

        public double TokenCapacity => view._config.DecodeTokenCap;

        public bool Busy => view.Decode[index].Sequences > 0;

        public IReadOnlyList<double> RecentStepMilliseconds => [];

        public bool HasRoom(IRequestView request) => view.DecodeHasRoom(index, Unwrap(request));
    }

    private static RequestState Unwrap(IRequestView request) => RequestStateView.Unwrap(request);

    private sealed class LiveClusterState : IClusterState, IDefaultDecisions
    {
        private readonly LiveClusterView _view;
        private readonly OmniPolicy _omni = new();

        public LiveClusterState(LiveClusterView view)
        {
            _view = view;
            Prefill = Enumerable.Range(0, view.Prefill.Length).Select(i => (IPrefillInstanceView)new LivePrefillView(view, i)).ToArray();
            Decode = Enumerable.Range(0, view.Decode.Length).Select(i => (IDecodeInstanceView)new LiveDecodeView(view, i)).ToArray();
        }

        public double NowMilliseconds => _view.NowMilliseconds;

        public bool ApcAware => _view.ApcAware;

        public int BlockTokens => ArrivingRequest.BlockTokens;

        public double TtftSloMilliseconds => _view._config.TtftSlo?.Milliseconds ?? double.NaN;

        public int ProxyHeldRequests => _view.Held?.Count ?? 0;

        public long ProxyHeldTokens => _view.Held?.Tokens ?? 0;

        public IReadOnlyList<IPrefillInstanceView> Prefill { get; }

        public IReadOnlyList<IDecodeInstanceView> Decode { get; }

        public IDefaultDecisions Defaults => this;

        public int ChoosePrefill(IRequestView request) => _omni.ChoosePrefill(Unwrap(request), _view);

        public int ChooseDecode(IRequestView request) => _omni.ChooseDecode(Unwrap(request), _view);

        public double PrefillPriority(IRequestView request, IPrefillQueueView queue) =>
            ServingSimulation.OmniQueueWeight(request.InputTokens, queue.MaxInputTokens, _view.NowMilliseconds - request.StageMilliseconds(queue.Instance < 0 ? RequestStage.ApcMatched : RequestStage.PrefillWaiting), queue.MaxWaitedMilliseconds);
    }
}
