using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Simulation;

/// <summary>The scheduler API's views of the simulation, and the hooks of <see cref="ISchedulingHooks"/> policies.</summary>
public sealed partial class ServingSimulation : ISchedulingState
{
    private ClusterState? _clusterState;

    public IClusterState Cluster => _clusterState ??= new ClusterState(this);

    public IRequestView View(RequestState request) => new RequestStateView(request, this);

    /// <summary>Omni's queue weight: 0.8 (maxTok - tok) / maxTok + 0.2 waited / max(maxWait, 50 ms).</summary>
    internal static double OmniQueueWeight(int tokens, double maxTokens, double waited, double maxWaited) =>
        (0.8 * (maxTokens - tokens) / maxTokens) + (0.2 * waited / Math.Max(maxWaited, 50));

    private bool Admit(RequestState r) => _policy is not ISchedulingHooks hooks || hooks.Admit(r, this);

    /// <summary>The last step durations of an instance, oldest first.</summary>
    internal sealed class StepHistory : IReadOnlyList<double>
    {
        public const int Capacity = 16;
        private readonly double[] _ring = new double[Capacity];
        private int _next;

        public int Count { get; private set; }

        public double this[int index] => _ring[(_next - Count + index + Capacity) % Capacity];

        public void Add(double milliseconds)
        {
            _ring[_next] = milliseconds;
            _next = (_next + 1) % Capacity;
            Count = Math.Min(Count + 1, Capacity);
        }

        public IEnumerator<double> GetEnumerator()
        {
            for (int i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class PrefillView(ServingSimulation sim, int index) : IPrefillInstanceView
    {
        private PrefillInstance P => sim._prefills[index];

        public int Index => index;

        public int Requests => P.Requests;

        public int Waiting => P.Waiting.Count;

        public int RunningBatch => P.Batch.Count;

        public long QueuedTokens => P.QueuedTokens;

        public int StepTokenCapacity => sim._config.PrefillTokenCap;

        public long CachedBlocks => P.Cache.Count;

        public long CacheCapacityBlocks => P.Cache.CapacityBlocks;

        public bool Busy => P.Busy;

        public IReadOnlyList<double> RecentStepMilliseconds => P.Recent;
    }

    private sealed class DecodeView(ServingSimulation sim, int index) : IDecodeInstanceView
    {
        private DecodeInstance D => sim._decodes[index];

        public int Index => index;

        public int Sequences => D.Allocated;

        public int RunningBatch => D.Running.Count;

        public double ReservedTokens => D.ReservedTokens;

        public int SequenceCapacity => sim._config.DecodeSequenceCap;

        public double TokenCapacity => sim._config.DecodeTokenCap;

        public bool Busy => D.Busy;

        public IReadOnlyList<double> RecentStepMilliseconds => D.Recent;

        public bool HasRoom(IRequestView request) => sim.DecodeHasRoom(index, Unwrap(request));
    }

    private static RequestState Unwrap(IRequestView request) => RequestStateView.Unwrap(request);

    private sealed class ClusterState : IClusterState, IDefaultDecisions
    {
        private readonly ServingSimulation _sim;
        private readonly OmniPolicy _omni = new();

        public ClusterState(ServingSimulation sim)
        {
            this._sim = sim;
            // Read-only wrappers: a script casting them to an array or IList cannot replace an instance.
            Prefill = Array.AsReadOnly(Enumerable.Range(0, sim._prefills.Length).Select(i => (IPrefillInstanceView)new PrefillView(sim, i)).ToArray());
            Decode = Array.AsReadOnly(Enumerable.Range(0, sim._decodes.Length).Select(i => (IDecodeInstanceView)new DecodeView(sim, i)).ToArray());
        }

        public double NowMilliseconds => _sim._lastEvent;

        public bool ApcAware => _sim._config.ApcAware;

        public int BlockTokens => ArrivingRequest.BlockTokens;

        public double TtftSloMilliseconds => _sim._config.TtftSlo?.Milliseconds ?? double.NaN;

        public int ProxyHeldRequests => _sim._proxyHeld.Count;

        public long ProxyHeldTokens => _sim._proxyHeld.Tokens;

        public IReadOnlyList<IPrefillInstanceView> Prefill { get; }

        public IReadOnlyList<IDecodeInstanceView> Decode { get; }

        public IDefaultDecisions Defaults => this;

        public int ChoosePrefill(IRequestView request) => _omni.ChoosePrefill(Unwrap(request), _sim);

        public int ChooseDecode(IRequestView request) => _omni.ChooseDecode(Unwrap(request), _sim);

        public double PrefillPriority(IRequestView request, IPrefillQueueView queue) =>
            OmniQueueWeight(request.InputTokens, queue.MaxInputTokens, _sim._lastEvent - request.StageMilliseconds(queue.Instance < 0 ? RequestStage.ApcMatched : RequestStage.PrefillWaiting), queue.MaxWaitedMilliseconds);
    }
}
