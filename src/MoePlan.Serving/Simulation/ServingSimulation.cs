using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Simulation;

/// <summary>
/// Discrete-event simulation of a disaggregated deployment behind the proxy (docs/simulation.md): arrivals,
/// tokenisation, routing, prefill instances with continuous (chunked) batching and a prefix cache, the KV
/// transfer, decode instances with continuous batching, completion. Aggregated plans (<see cref="ServingConfig.Aggregated"/>)
/// run one kind of instance: the proxy routes a request to one instance, whose steps carry its decode batch and prompt
/// chunks together (chunked prefill), with no KV transfer. Events are ordered by (time, kind, sequence number), so the
/// same arrivals give the same result.
/// </summary>
public sealed partial class ServingSimulation : IClusterView
{
    private readonly ServingConfig _config;
    private readonly IStepTimes _steps;
    private readonly IRoutingPolicy _policy;
    private readonly IRoutingPolicy[] _workerPolicies;
    private readonly IClusterView[] _workerViews;
    private readonly bool _independentWorkers;
    private readonly PrefillInstance[] _prefills;
    private readonly DecodeInstance[] _decodes;
    private readonly PriorityQueue<Event, EventKey> _events = new();
    private readonly Queue<RequestState> _decodeWait = new();

    /// <summary>Requests the proxy holds because every prefill upstream is at its caps; released in the policy's prefill order.</summary>
    private readonly PrefillQueue _proxyHeld;

    private readonly bool _retainRequests;
    private readonly List<RequestState> _finished = [];
    private readonly List<RequestState> _rejected = [];
    private readonly CompletionFigures _figures;
    private readonly QueueLengthSeries _queues = new();
    private long _sequence;
    private long _eventCount;
    private long _arrivalsRead;
    private int _arrived;
    private int _prefillWaiting;
    private double _firstArrival = double.NaN;
    private double _lastArrival = double.NaN;
    private double _generatedTokens;
    private double _generatedByLastArrival;
    private double _lastEvent;

    public ServingSimulation(ServingConfig config, IStepTimes steps, IRoutingPolicy policy, bool retainRequests = false)
        : this(config, steps, [policy], retainRequests)
    {
    }

    /// <summary>
    /// With one policy object per proxy worker: independent workers each route with their own (a policy may keep
    /// state of its own, such as a router-side tree); shared workers use the first, the master's.
    /// </summary>
    /// <param name="retainRequests">Keep every finished request in the result (tests); otherwise only the figures are kept.</param>
    public ServingSimulation(ServingConfig config, IStepTimes steps, IReadOnlyList<IRoutingPolicy> policies, bool retainRequests = false)
    {
        if (config.ProxyWorkers < 1)
        {
            throw new ArgumentException($"the proxy needs at least one worker, not {config.ProxyWorkers}");
        }

        this._config = config;
        this._steps = steps;
        this._retainRequests = retainRequests;
        _policy = policies[0];
        _figures = new CompletionFigures(config.TtftSlo, config.TpotSlo);
        _independentWorkers = config.WorkerState == ProxyWorkerState.Independent;
        int workers = _independentWorkers ? config.ProxyWorkers : 1;
        if (policies.Count < workers)
        {
            throw new ArgumentException($"{workers} independent proxy workers need a policy object each, not {policies.Count}");
        }

        _workerPolicies = policies.Take(workers).ToArray();
        _workerViews = new IClusterView[workers];
        for (int w = 0; w < workers; w++)
        {
            _workerViews[w] = _independentWorkers ? new WorkerView(this, w) : this;
        }

        _proxyHeld = new PrefillQueue(_policy, this, -1, RequestStage.ApcMatched);
        _prefills = new PrefillInstance[config.PrefillInstances];
        for (int i = 0; i < _prefills.Length; i++)
        {
            _prefills[i] = new PrefillInstance(new PrefillQueue(_policy, this, i, RequestStage.PrefillWaiting), config.PrefixCacheBlocks, Math.Max(1, config.PrefillNicLinks), _independentWorkers ? workers : 0);
        }

        _decodes = new DecodeInstance[config.DecodeInstances];
        for (int i = 0; i < _decodes.Length; i++)
        {
            _decodes[i] = new DecodeInstance(Math.Max(1, config.DecodeNicLinks), _independentWorkers ? workers : 0);
        }
    }

    private enum EventKind : byte
    {
        PrefillStepDone,
        DecodeStepDone,
        KvReady,
        Routed,
        Arrival,

        // An idle instance forms its batch after every other event of the same moment, so requests that
        // arrive together are batched together.
        PrefillSchedule,
        DecodeSchedule,
    }

    /// <summary>Events between two progress reports.</summary>
    public const int ProgressEvents = 16_384;

    /// <summary>Called every <see cref="ProgressEvents"/> events (a terminal's progress bar).</summary>
    public Action<SimulationProgress>? Progress { get; init; }

    /// <summary>Loads over time and rebalancing (docs/placement.md); null: the fixed imbalances of the step times.</summary>
    public PlacementDrift? Drift { get; init; }

    public int PrefillInstances => _prefills.Length;

    public int DecodeInstances => _decodes.Length;

    public bool ApcAware => _config.ApcAware;

    public long PrefixCacheBlocks => _config.PrefixCacheBlocks;

    public int PrefillTokenCap => _config.PrefillTokenCap;

    public int MatchedBlocks(int prefill, long[] blocks) => _prefills[prefill].Cache.Match(blocks);

    public long PrefillQueuedTokens(int prefill) => _prefills[prefill].QueuedTokens;

    public int PrefillRequests(int prefill) => _prefills[prefill].Requests;

    public int DecodeSequences(int decode) => _decodes[decode].Allocated;

    public double DecodeReservedTokens(int decode) => _decodes[decode].ReservedTokens;

    public bool DecodeHasRoom(int decode, RequestState request)
    {
        var d = _decodes[decode];
        return _config.DecodeHasRoom(d.Allocated, d.ReservedTokens, request.DecodeTokens);
    }

    public SimulationResult Run(IEnumerable<ArrivingRequest> arrivals)
    {
        using var source = arrivals.GetEnumerator();
        ScheduleNextArrival(source);
        while (_events.TryDequeue(out var e, out var key))
        {
            double t = key.Time;
            _lastEvent = t;
            _eventCount++;
            switch (key.Kind)
            {
                case EventKind.Arrival:
                    OnArrival(e.Request!, t);
                    ScheduleNextArrival(source);
                    break;
                case EventKind.Routed:
                    OnRouted(e.Request!, t);
                    break;
                case EventKind.PrefillStepDone when _config.Aggregated:
                    OnMixedStepDone(e.Instance, t);
                    break;
                case EventKind.PrefillStepDone:
                    OnPrefillStepDone(e.Instance, t);
                    break;
                case EventKind.KvReady:
                    OnKvReady(e.Request!, t);
                    break;
                case EventKind.DecodeStepDone:
                    OnDecodeStepDone(e.Instance, t);
                    break;
                case EventKind.PrefillSchedule when _config.Aggregated:
                    _prefills[e.Instance].SchedulePending = false;
                    StartMixed(e.Instance, t);
                    break;
                case EventKind.PrefillSchedule:
                    _prefills[e.Instance].SchedulePending = false;
                    StartPrefill(e.Instance, t);
                    break;
                case EventKind.DecodeSchedule:
                    _decodes[e.Instance].SchedulePending = false;
                    StartDecode(e.Instance, t);
                    break;
            }

            _queues.Record(t, _prefillWaiting + _proxyHeld.Count, _decodeWait.Count);
            if (Progress is not null && _eventCount % ProgressEvents == 0)
            {
                Progress(new SimulationProgress(_arrived, _figures.Completed + _figures.Rejected, t));
            }
        }

        // A policy that held requests while no prefill step was left to release them: never served.
        foreach (var r in _proxyHeld.All())
        {
            r.Rejected = true;
            _figures.AddRejected();
            if (_retainRequests)
            {
                _rejected.Add(r);
            }
        }

        var prefillUsage = new InstanceUsage[_prefills.Length];
        var decodeUsage = new InstanceUsage[_decodes.Length];
        for (int i = 0; i < _prefills.Length; i++)
        {
            prefillUsage[i] = new InstanceUsage(_prefills[i].BusyMilliseconds, _prefills[i].Steps);
        }

        for (int i = 0; i < _decodes.Length; i++)
        {
            decodeUsage[i] = new InstanceUsage(_decodes[i].BusyMilliseconds, _decodes[i].Steps);
        }

        return new SimulationResult(_policy.Name, _arrived, _figures, double.IsNaN(_firstArrival) ? 0 : _firstArrival, _lastEvent, prefillUsage, decodeUsage, _eventCount, _queues, _finished, _rejected)
        {
            LastArrivalMilliseconds = double.IsNaN(_lastArrival) ? 0 : _lastArrival,
            OutputTokensByLastArrival = _generatedByLastArrival,
            Placement = Drift?.Result(),
        };
    }

    private void Push(EventKind kind, double time, int instance, RequestState? request) =>
        _events.Enqueue(new Event(instance, request), new EventKey(time, kind, _sequence++));

    private void ScheduleNextArrival(IEnumerator<ArrivingRequest> source)
    {
        if (source.MoveNext())
        {
            var r = source.Current;
            // Requests reach the independent workers in turn (nginx spreading connections over its workers).
            Push(EventKind.Arrival, r.ArrivalMilliseconds, -1, new RequestState(r) { Worker = (int)(_arrivalsRead % _workerViews.Length), Sequence = _arrivalsRead++ });
        }
    }

    private void OnArrival(RequestState r, double t)
    {
        _arrived++;
        if (double.IsNaN(_firstArrival))
        {
            _firstArrival = t;
        }

        // Output produced while requests keep arriving: a rate free of the drain after the last arrival.
        _lastArrival = t;
        _generatedByLastArrival = _generatedTokens;

        r.Stamp(RequestStage.Received, t);
        if (r.DecodeTokens > _config.DecodeTokenCap)
        {
            // Prompt plus output exceed a whole decode instance's KV: no instance can ever take it.
            r.Rejected = true;
            _figures.AddRejected();
            if (_retainRequests)
            {
                _rejected.Add(r);
            }

            return;
        }

        if (!Admit(r))
        {
            // The policy's admission hook turned it away.
            r.Rejected = true;
            _figures.AddRejected();
            if (_retainRequests)
            {
                _rejected.Add(r);
            }

            return;
        }

        Push(EventKind.Routed, t + _config.TokenizeMilliseconds(r.Request.InputTokens), -1, r);
    }

    private void OnRouted(RequestState r, double t)
    {
        r.Stamp(RequestStage.Tokenized, t);
        // The APC lookup is a few hash-table probes per block: no time at the event resolution.
        r.Stamp(RequestStage.ApcMatched, t);
        if (_config.Aggregated)
        {
            // One instance does both: the policy chooses it as a prefill instance; its decode slot is taken when it schedules the prompt.
            RouteToPrefill(r, t);
        }
        else if (_config.Mode == ProxyMode.Parallel)
        {
            // P and D together: the decode slot and KV are reserved before prefill starts.
            if (_decodeWait.Count == 0 && TryAllocateDecode(r, t))
            {
                RouteToPrefill(r, t);
            }
            else
            {
                _decodeWait.Enqueue(r);
            }
        }
        else
        {
            RouteToPrefill(r, t);
        }
    }

    private bool TryAllocateDecode(RequestState r, double t)
    {
        int d = _workerPolicies[r.Worker].ChooseDecode(r, _workerViews[r.Worker]);
        if (d < 0)
        {
            return false;
        }

        var instance = _decodes[d];
        instance.Allocated++;
        instance.ReservedTokens += r.DecodeTokens;
        if (_independentWorkers)
        {
            instance.WorkerAllocated[r.Worker]++;
            instance.WorkerReservedTokens[r.Worker] += r.DecodeTokens;
        }

        r.DecodeInstance = d;
        if (_config.Mode == ProxyMode.Sequential)
        {
            // D allocates and pulls the whole prompt's KV now: the transfer is exposed.
            r.Stamp(RequestStage.DecodeScheduled, t);
            double transfer = r.Request.InputTokens * _config.KvTransferMillisecondsPerToken;
            Push(EventKind.KvReady, Transfer(r, t, transfer, 0), d, r);
        }

        return true;
    }

    private void RouteToPrefill(RequestState r, double t)
    {
        if (!TryRouteToPrefill(r, t))
        {
            _proxyHeld.Add(r);
        }
    }

    /// <summary>Routes to the policy's prefill instance; false when the policy holds the request at the proxy (-1).</summary>
    private bool TryRouteToPrefill(RequestState r, double t)
    {
        int p = _workerPolicies[r.Worker].ChoosePrefill(r, _workerViews[r.Worker]);
        if (p < 0)
        {
            return false;
        }

        var instance = _prefills[p];
        r.PrefillInstance = p;
        r.Stamp(RequestStage.PrefillWaiting, t);
        instance.Waiting.Add(r);
        instance.Requests++;
        instance.QueuedTokens += r.Request.InputTokens;
        _prefillWaiting++;
        if (_independentWorkers)
        {
            instance.WorkerRequests[r.Worker]++;
            instance.WorkerQueuedTokens[r.Worker] += r.Request.InputTokens;
        }

        TryStartPrefill(p, t);
        return true;
    }

    /// <summary>
    /// A prefill step started or ended, so an upstream may be under its caps again: route held requests in the
    /// policy's order. With one shared view a hold means every upstream is at its caps, so the first hold ends the
    /// pass; each independent worker has its own view, so every held request is asked.
    /// </summary>
    private void ReleaseHeld(double t) =>
        _proxyHeld.Walk(t, r => TryRouteToPrefill(r, t) ? QueueStep.Take : _independentWorkers ? QueueStep.Keep : QueueStep.Stop);

    private void TryStartPrefill(int index, double t)
    {
        var p = _prefills[index];
        if (!p.Busy && !p.SchedulePending && (p.Partial.Count > 0 || p.Waiting.Count > 0 || (_config.Aggregated && _decodes[index].Running.Count > 0)))
        {
            p.SchedulePending = true;
            Push(EventKind.PrefillSchedule, t, index, null);
        }
    }

    private void StartPrefill(int index, double t)
    {
        var p = _prefills[index];
        if (p.Busy || (p.Partial.Count == 0 && p.Waiting.Count == 0))
        {
            return;
        }

        if (Drift is { } drift && drift.Prefill.Advance(t) is var resume && resume > t)
        {
            // A rebalance is moving this pool's weights: the step waits for it.
            p.SchedulePending = true;
            Push(EventKind.PrefillSchedule, resume, index, null);
            return;
        }

        var (tokens, contextSum) = FillChunks(p, t, _config.PrefillTokenCap, admit: null);
        double dt = Drift is { } moving
            ? _steps.PrefillMilliseconds(tokens, p.Batch.Count, tokens > 0 ? contextSum / tokens : 0, moving.Prefill.Imbalance)
            : _steps.PrefillMilliseconds(tokens, p.Batch.Count, tokens > 0 ? contextSum / tokens : 0);
        p.Busy = true;
        p.StepStart = t;
        p.Steps++;
        Push(EventKind.PrefillStepDone, t + dt, index, null);

        // Its queued tokens went into the step: the instance may be under its token cap again.
        if (_proxyHeld.Count > 0)
        {
            ReleaseHeld(t);
        }
    }

    /// <summary>
    /// Fills a step's prompt chunks up to <paramref name="budget"/> tokens: chunks of requests already under way first, in
    /// the order they started (those that do not fit stay partial), then waiting requests in queue order while
    /// <paramref name="admit"/> (null: always) takes them; it returns false to stop at a request it cannot hold.
    /// </summary>
    /// <returns>The prompt tokens in the step and the sum of their contexts.</returns>
    private (int Tokens, double ContextSum) FillChunks(PrefillInstance p, double t, int budget, Func<RequestState, bool>? admit)
    {
        p.Batch.Clear();
        int capLeft = budget;
        double contextSum = 0;
        var stillPartial = p.NextPartial;
        stillPartial.Clear();
        for (int i = 0; i < p.Partial.Count; i++)
        {
            if (capLeft > 0)
            {
                contextSum += Take(p, p.Partial[i], ref capLeft, stillPartial);
            }
            else
            {
                stillPartial.Add(p.Partial[i]);
            }
        }

        if (capLeft > 0 && p.Waiting.Count > 0)
        {
            p.Waiting.Walk(t, r =>
            {
                if (capLeft <= 0 || (admit is not null && !admit(r)))
                {
                    return QueueStep.Stop;
                }

                Schedule(p, r, t);
                _prefillWaiting--;
                contextSum += Take(p, r, ref capLeft, stillPartial);
                return QueueStep.Take;
            });
        }

        (p.Partial, p.NextPartial) = (stillPartial, p.Partial);
        return (budget - capLeft, contextSum);
    }

    /// <summary>First time in a batch: the prefix cache serves its leading blocks (at least one token is computed).</summary>
    private static void Schedule(PrefillInstance p, RequestState r, double t)
    {
        r.Stamp(RequestStage.PrefillScheduled, t);
        r.Stamp(RequestStage.Prefilling, t);
        var blocks = r.Request.Blocks;
        int matched = p.Cache.Match(blocks);
        p.Cache.Touch(blocks, matched);
        int cached = (int)Math.Min((long)matched * ArrivingRequest.BlockTokens, r.Request.InputTokens - 1);
        r.CachedTokens = cached;
        r.PrefilledTokens = cached;
        r.PrefillRemaining = r.Request.InputTokens - cached;
        p.QueuedTokens -= cached;
        if (p.WorkerCaches is { } own)
        {
            // The worker's own record of this instance's cache: what its requests put there, used as they use it.
            var cache = own[r.Worker];
            cache.Touch(blocks, cache.Match(blocks));
            p.WorkerQueuedTokens[r.Worker] -= cached;
        }
    }

    /// <summary>Adds the request's next chunk to the batch; returns the chunk's tokens x their mean context.</summary>
    private static double Take(PrefillInstance p, RequestState r, ref int capLeft, List<RequestState> stillPartial)
    {
        int take = Math.Min(r.PrefillRemaining, capLeft);
        capLeft -= take;
        // Each new token attends to the prompt before it: the KV so far plus, causally, half the chunk.
        double context = take * (r.PrefilledTokens + (take / 2.0));
        r.PrefilledTokens += take;
        r.PrefillRemaining -= take;
        p.QueuedTokens -= take;
        if (p.WorkerCaches is not null)
        {
            p.WorkerQueuedTokens[r.Worker] -= take;
        }

        p.Batch.Add(r);
        if (r.PrefillRemaining > 0)
        {
            stillPartial.Add(r);
        }

        return context;
    }

    private void OnPrefillStepDone(int index, double t)
    {
        var p = _prefills[index];
        p.Busy = false;
        p.BusyMilliseconds += t - p.StepStart;
        p.Recent.Add(t - p.StepStart);
        for (int i = 0; i < p.Batch.Count; i++)
        {
            var r = p.Batch[i];
            if (r.PrefillRemaining == 0)
            {
                p.Cache.Insert(r.Request.Blocks);
                p.Requests--;
                if (p.WorkerCaches is { } own)
                {
                    own[r.Worker].Insert(r.Request.Blocks);
                    p.WorkerRequests[r.Worker]--;
                }

                OnPrefillDone(r, t);
            }
        }

        if (_proxyHeld.Count > 0)
        {
            ReleaseHeld(t);
        }

        TryStartPrefill(index, t);
    }

    private void OnPrefillDone(RequestState r, double t)
    {
        r.Stamp(RequestStage.DecodeWaiting, t);
        double transfer = r.Request.InputTokens * _config.KvTransferMillisecondsPerToken;
        if (_config.Mode == ProxyMode.Parallel)
        {
            // Pushed layer by layer while prefilling: the last layer's share leaves after the prefill ends.
            r.Stamp(RequestStage.DecodeScheduled, t);
            Push(EventKind.KvReady, Transfer(r, r.Stamp(RequestStage.Prefilling), transfer, t + (transfer / _config.Layers)), r.DecodeInstance, r);
        }
        else if (_decodeWait.Count > 0 || !TryAllocateDecode(r, t))
        {
            _decodeWait.Enqueue(r);
        }
    }

    private void OnKvReady(RequestState r, double t)
    {
        var d = _decodes[r.DecodeInstance];
        d.Joining.Add(r);
        TryStartDecode(r.DecodeInstance, t);
    }

    private void TryStartDecode(int index, double t)
    {
        var d = _decodes[index];
        if (!d.Busy && !d.SchedulePending && (d.Running.Count > 0 || d.Joining.Count > 0))
        {
            d.SchedulePending = true;
            Push(EventKind.DecodeSchedule, t, index, null);
        }
    }

    private void StartDecode(int index, double t)
    {
        var d = _decodes[index];
        if (d.Busy || (d.Running.Count == 0 && d.Joining.Count == 0))
        {
            return;
        }

        if (Drift is { } drift && drift.Decode.Advance(t) is var resume && resume > t)
        {
            d.SchedulePending = true;
            Push(EventKind.DecodeSchedule, resume, index, null);
            return;
        }

        for (int i = 0; i < d.Joining.Count; i++)
        {
            d.Joining[i].Stamp(RequestStage.Decoding, t);
            d.Running.Add(d.Joining[i]);
        }

        d.Joining.Clear();
        double kv = 0;
        for (int i = 0; i < d.Running.Count; i++)
        {
            kv += d.Running[i].Request.InputTokens + d.Running[i].Generated;
        }

        double dt = Drift is { } moving
            ? _steps.DecodeMilliseconds(d.Running.Count, kv / d.Running.Count, moving.Decode.Imbalance)
            : _steps.DecodeMilliseconds(d.Running.Count, kv / d.Running.Count);
        d.Busy = true;
        d.StepStart = t;
        d.Steps++;
        Push(EventKind.DecodeStepDone, t + dt, index, null);
    }

    private void OnDecodeStepDone(int index, double t)
    {
        var d = _decodes[index];
        d.Busy = false;
        d.BusyMilliseconds += t - d.StepStart;
        d.Recent.Add(t - d.StepStart);
        int kept = 0;
        bool freed = false;
        for (int i = 0; i < d.Running.Count; i++)
        {
            var r = d.Running[i];
            _generatedTokens += Math.Min(_config.TokensPerStep, r.Request.OutputTokens - r.Generated);
            r.Generated += _config.TokensPerStep;
            if (double.IsNaN(r.FirstTokenMilliseconds))
            {
                r.FirstTokenMilliseconds = t;
            }

            if (r.Generated >= r.Request.OutputTokens)
            {
                r.Stamp(RequestStage.Done, t);
                _figures.AddCompleted(r);
                if (Drift is { } drift && r.Request.OutputTokens > 1)
                {
                    drift.AddTpot(t, (t - r.FirstTokenMilliseconds) / (r.Request.OutputTokens - 1));
                }

                if (_retainRequests)
                {
                    _finished.Add(r);
                }

                d.Allocated--;
                d.ReservedTokens -= r.DecodeTokens;
                if (_independentWorkers)
                {
                    d.WorkerAllocated[r.Worker]--;
                    d.WorkerReservedTokens[r.Worker] -= r.DecodeTokens;
                }

                freed = true;
            }
            else
            {
                d.Running[kept++] = r;
            }
        }

        d.Running.RemoveRange(kept, d.Running.Count - kept);
        if (freed)
        {
            DrainDecodeWait(t);
        }

        TryStartDecode(index, t);
    }

    private void DrainDecodeWait(double t)
    {
        while (_decodeWait.Count > 0)
        {
            var r = _decodeWait.Peek();
            if (!TryAllocateDecode(r, t))
            {
                return;
            }

            _decodeWait.Dequeue();
            if (_config.Mode == ProxyMode.Parallel)
            {
                RouteToPrefill(r, t);
            }
        }
    }

    /// <summary>
    /// An aggregated instance's step: its running sequences decode, and the rest of the token budget takes prompt chunks,
    /// partial prompts first, then waiting requests while the instance has a sequence slot and KV room for them (the slot
    /// and KV are the request's from its first chunk on, as vLLM and SGLang admit only what their KV cache holds).
    /// </summary>
    private void StartMixed(int index, double t)
    {
        var p = _prefills[index];
        var d = _decodes[index];
        if (p.Busy || (p.Partial.Count == 0 && p.Waiting.Count == 0 && d.Running.Count == 0))
        {
            return;
        }

        if (Drift is { } drift && drift.Decode.Advance(t) is var resume && resume > t)
        {
            // A rebalance is moving the serve pool's weights: the step waits for it.
            p.SchedulePending = true;
            Push(EventKind.PrefillSchedule, resume, index, null);
            return;
        }

        int budget = Math.Max(0, _config.PrefillTokenCap - (d.Running.Count * _config.DecodeTokensPerSequence));
        var (tokens, contextSum) = FillChunks(p, t, budget, admit: r =>
        {
            if (!_config.DecodeHasRoom(d.Allocated, d.ReservedTokens, r.DecodeTokens))
            {
                return false;
            }

            d.Allocated++;
            d.ReservedTokens += r.DecodeTokens;
            if (_independentWorkers)
            {
                d.WorkerAllocated[r.Worker]++;
                d.WorkerReservedTokens[r.Worker] += r.DecodeTokens;
            }

            r.DecodeInstance = index;
            return true;
        });
        if (tokens == 0 && d.Running.Count == 0)
        {
            // Nothing to compute. Not expected: with nothing running or partial the instance holds no KV, and arrival
            // turned away what an empty instance cannot hold; staying idle keeps the loop finite if it happens.
            return;
        }

        double kv = 0;
        for (int i = 0; i < d.Running.Count; i++)
        {
            kv += d.Running[i].Request.InputTokens + d.Running[i].Generated;
        }

        double meanKv = d.Running.Count > 0 ? kv / d.Running.Count : 0;
        double dt = Drift is { } moving
            ? _steps.MixedMilliseconds(d.Running.Count, meanKv, tokens, p.Batch.Count, tokens > 0 ? contextSum / tokens : 0, moving.Decode.Imbalance)
            : _steps.MixedMilliseconds(d.Running.Count, meanKv, tokens, p.Batch.Count, tokens > 0 ? contextSum / tokens : 0);
        p.Busy = true;
        d.Busy = true;
        p.StepStart = t;
        d.StepStart = t;
        p.Steps++;
        d.Steps++;
        Push(EventKind.PrefillStepDone, t + dt, index, null);
        if (_proxyHeld.Count > 0)
        {
            ReleaseHeld(t);
        }
    }

    /// <summary>
    /// An aggregated step ended: the sequences that ran it take their tokens; prompts it completed sample their first
    /// token (the engines sample it in the step that computes the prompt's last chunk) and run from the next step on.
    /// </summary>
    private void OnMixedStepDone(int index, double t)
    {
        var p = _prefills[index];
        var d = _decodes[index];
        p.Busy = false;
        d.Busy = false;
        p.BusyMilliseconds += t - p.StepStart;
        d.BusyMilliseconds += t - d.StepStart;
        p.Recent.Add(t - p.StepStart);
        d.Recent.Add(t - d.StepStart);
        int kept = 0;
        for (int i = 0; i < d.Running.Count; i++)
        {
            var r = d.Running[i];
            if (!Produce(d, r, _config.TokensPerStep, t))
            {
                d.Running[kept++] = r;
            }
        }

        d.Running.RemoveRange(kept, d.Running.Count - kept);
        for (int i = 0; i < p.Batch.Count; i++)
        {
            var r = p.Batch[i];
            if (r.PrefillRemaining != 0)
            {
                continue;
            }

            p.Cache.Insert(r.Request.Blocks);
            p.Requests--;
            if (p.WorkerCaches is { } own)
            {
                own[r.Worker].Insert(r.Request.Blocks);
                p.WorkerRequests[r.Worker]--;
            }

            // No hand-off: the P/D stages take no time.
            r.Stamp(RequestStage.DecodeWaiting, t);
            r.Stamp(RequestStage.DecodeScheduled, t);
            r.Stamp(RequestStage.Decoding, t);
            if (!Produce(d, r, 1, t))
            {
                d.Running.Add(r);
            }
        }

        if (_proxyHeld.Count > 0)
        {
            ReleaseHeld(t);
        }

        TryStartPrefill(index, t);
    }

    /// <summary>Gives a running request <paramref name="tokens"/> more output; true (and its slot freed) when that completes it.</summary>
    private bool Produce(DecodeInstance d, RequestState r, double tokens, double t)
    {
        _generatedTokens += Math.Min(tokens, r.Request.OutputTokens - r.Generated);
        r.Generated += tokens;
        if (double.IsNaN(r.FirstTokenMilliseconds))
        {
            r.FirstTokenMilliseconds = t;
        }

        if (r.Generated < r.Request.OutputTokens)
        {
            return false;
        }

        r.Stamp(RequestStage.Done, t);
        _figures.AddCompleted(r);
        if (_retainRequests)
        {
            _finished.Add(r);
        }

        d.Allocated--;
        d.ReservedTokens -= r.DecodeTokens;
        if (_independentWorkers)
        {
            d.WorkerAllocated[r.Worker]--;
            d.WorkerReservedTokens[r.Worker] -= r.DecodeTokens;
        }

        return true;
    }

    /// <summary>
    /// The KV transfer of a request from its prefill to its decode instance, first come, first served on the NIC
    /// links: it takes the earliest free link at each end, starts when both are free (not before
    /// <paramref name="earliest"/>) and holds both until it ends, at least <paramref name="duration"/> later and
    /// not before <paramref name="notBefore"/>. Returns the moment the KV is ready.
    /// </summary>
    private double Transfer(RequestState r, double earliest, double duration, double notBefore)
    {
        var from = _prefills[r.PrefillInstance].NicFree;
        var to = _decodes[r.DecodeInstance].NicFree;
        int a = EarliestFree(from), b = EarliestFree(to);
        double start = Math.Max(earliest, Math.Max(from[a], to[b]));
        double end = Math.Max(start + duration, notBefore);
        from[a] = end;
        to[b] = end;
        return end;
    }

    private static int EarliestFree(double[] links)
    {
        int best = 0;
        for (int i = 1; i < links.Length; i++)
        {
            if (links[i] < links[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>
    /// What an independent proxy worker sees: only the load and cached blocks its own requests caused (its local
    /// counters, as each nginx worker has). Whether a decode instance has room is the engine's answer, so it is the
    /// instance's real state.
    /// </summary>
    /// <summary>An independent worker's view. Script hooks see the shared state through it (the scheduler API has no per-worker view).</summary>
    private sealed class WorkerView(ServingSimulation simulation, int worker) : IClusterView, ISchedulingState
    {
        public MoePlan.Scheduling.IClusterState Cluster => simulation.Cluster;

        public MoePlan.Scheduling.IRequestView View(RequestState request) => simulation.View(request);

        public int PrefillInstances => simulation._prefills.Length;

        public int DecodeInstances => simulation._decodes.Length;

        public bool ApcAware => simulation._config.ApcAware;

        public long PrefixCacheBlocks => simulation._config.PrefixCacheBlocks;

        public int PrefillTokenCap => simulation._config.PrefillTokenCap;

        public int MatchedBlocks(int prefill, long[] blocks) => simulation._prefills[prefill].WorkerCaches![worker].Match(blocks);

        public long PrefillQueuedTokens(int prefill) => simulation._prefills[prefill].WorkerQueuedTokens[worker];

        public int PrefillRequests(int prefill) => simulation._prefills[prefill].WorkerRequests[worker];

        public int DecodeSequences(int decode) => simulation._decodes[decode].WorkerAllocated[worker];

        public double DecodeReservedTokens(int decode) => simulation._decodes[decode].WorkerReservedTokens[worker];

        public bool DecodeHasRoom(int decode, RequestState request) => simulation.DecodeHasRoom(decode, request);
    }

    private readonly record struct Event(int Instance, RequestState? Request);

    private readonly record struct EventKey(double Time, EventKind Kind, long Sequence) : IComparable<EventKey>
    {
        public int CompareTo(EventKey other)
        {
            int c = Time.CompareTo(other.Time);
            if (c != 0)
            {
                return c;
            }

            c = Kind.CompareTo(other.Kind);
            return c != 0 ? c : Sequence.CompareTo(other.Sequence);
        }
    }

    private sealed class PrefillInstance(PrefillQueue waiting, long cacheBlocks, int nicLinks, int independentWorkers)
    {
        public PrefixCache Cache { get; } = new(cacheBlocks);

        /// <summary>When each outgoing NIC link is free.</summary>
        public double[] NicFree { get; } = new double[nicLinks];

        /// <summary>Per independent worker: its record of this instance's cache; null with shared state.</summary>
        public PrefixCache[]? WorkerCaches { get; } = independentWorkers > 0
            ? Enumerable.Range(0, independentWorkers).Select(_ => new PrefixCache(cacheBlocks)).ToArray()
            : null;

        public long[] WorkerQueuedTokens { get; } = new long[independentWorkers];

        public int[] WorkerRequests { get; } = new int[independentWorkers];

        public PrefillQueue Waiting { get; } = waiting;

        public List<RequestState> Partial { get; set; } = [];

        public List<RequestState> NextPartial { get; set; } = [];

        public List<RequestState> Batch { get; } = [];

        public bool Busy { get; set; }

        public bool SchedulePending { get; set; }

        public double StepStart { get; set; }

        public double BusyMilliseconds { get; set; }

        public long Steps { get; set; }

        public StepHistory Recent { get; } = new();

        public long QueuedTokens { get; set; }

        public int Requests { get; set; }
    }

    private sealed class DecodeInstance(int nicLinks, int independentWorkers)
    {
        /// <summary>When each incoming NIC link is free.</summary>
        public double[] NicFree { get; } = new double[nicLinks];

        public int[] WorkerAllocated { get; } = new int[independentWorkers];

        public double[] WorkerReservedTokens { get; } = new double[independentWorkers];

        public List<RequestState> Running { get; } = [];

        public List<RequestState> Joining { get; } = [];

        public int Allocated { get; set; }

        public double ReservedTokens { get; set; }

        public bool Busy { get; set; }

        public bool SchedulePending { get; set; }

        public double StepStart { get; set; }

        public double BusyMilliseconds { get; set; }

        public long Steps { get; set; }

        public StepHistory Recent { get; } = new();
    }
}

/// <summary>How far a run is: requests arrived and finished (completed or rejected), simulated time.</summary>
public readonly record struct SimulationProgress(long Arrived, long Finished, double Milliseconds);

/// <summary>Busy time and steps of one instance.</summary>
public sealed record InstanceUsage(double BusyMilliseconds, long Steps);
