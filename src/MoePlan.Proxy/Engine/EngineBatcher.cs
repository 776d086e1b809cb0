using System.Diagnostics;
using System.Threading.Channels;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Engine;

/// <summary>What an emulated engine does with a request: all of it, only its prefill (P/D prefill side), or only its decode (KV already pulled).</summary>
public enum EngineWork
{
    Full,
    PrefillOnly,
    DecodeOnly,
}

/// <summary>One request inside an emulated engine: its tokens as they are produced, and how much its prefix cache served.</summary>
public sealed class EngineJob
{
    internal EngineJob(int promptTokens, long[] blocks, int maxTokens, EngineWork work)
    {
        PromptTokens = promptTokens;
        Blocks = blocks;
        MaxTokens = maxTokens;
        Work = work;
        PrefillRemaining = work == EngineWork.DecodeOnly ? 0 : promptTokens;
    }

    public int PromptTokens { get; }

    public long[] Blocks { get; }

    public int MaxTokens { get; }

    public EngineWork Work { get; }

    /// <summary>Tokens as they are produced (a count per step); completes when the request is done.</summary>
    public Channel<int> Tokens { get; } = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Prompt tokens the prefix cache served.</summary>
    public int CachedTokens { get; internal set; }

    internal int PrefillRemaining { get; set; }

    internal int Prefilled { get; set; }

    internal bool Scheduled { get; set; }

    internal double Generated { get; set; }

    internal int Emitted { get; set; }

    private volatile bool _cancelled;

    /// <summary>The client went away: dropped at the next step.</summary>
    internal bool Cancelled => _cancelled;

    public void Cancel() => _cancelled = true;
}

/// <summary>
/// The continuous batcher of an emulated engine, stepped as the simulation steps an instance (docs/simulation.md):
/// prefill steps of chunks up to the instance's token cap (requests under way first, then first come, first served)
/// with a prefix cache of the plan's size served before computing, and decode steps over every running sequence up to
/// its sequence cap, yielding the plan's tokens per step. Each step lasts the cost model's time divided by the speed
/// factor; steps are chained on a monotonic clock (a late timer delays one step's tokens, not every later step's).
/// </summary>
public sealed class EngineBatcher : IAsyncDisposable
{
    private readonly ServingConfig _config;
    private readonly IStepTimes _steps;
    private readonly double _speed;
    private readonly PrefixCache _cache;
    private readonly object _gate = new();
    private readonly List<EngineJob> _waiting = [];
    private readonly List<EngineJob> _partial = [];
    private readonly List<EngineJob> _joining = [];
    private readonly List<EngineJob> _running = [];
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _loop;
    private double _lastEndMilliseconds;
    private long _prefillSteps;
    private long _decodeSteps;

    /// <param name="speed">Steps run this many times faster than the cost model says (1: real time).</param>
    public EngineBatcher(ServingConfig config, IStepTimes steps, double speed)
    {
        if (!(speed > 0) || double.IsInfinity(speed))
        {
            throw new ArgumentOutOfRangeException(nameof(speed), speed, "the speed factor must be a positive number");
        }

        _config = config;
        _steps = steps;
        _speed = speed;
        _cache = new PrefixCache(config.PrefixCacheBlocks);
        _loop = Task.Run(RunAsync);
    }

    public long PrefillSteps => Interlocked.Read(ref _prefillSteps);

    public long DecodeSteps => Interlocked.Read(ref _decodeSteps);

    /// <summary>Requests waiting, prefilling or decoding.</summary>
    public int Requests
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count + _partial.Count + _joining.Count + _running.Count;
            }
        }
    }

    public EngineJob Submit(int promptTokens, long[] blocks, int maxTokens, EngineWork work)
    {
        var job = new EngineJob(Math.Max(1, promptTokens), blocks, Math.Max(1, maxTokens), work);
        lock (_gate)
        {
            (work == EngineWork.DecodeOnly ? _joining : _waiting).Add(job);
        }

        _signal.Release();
        return job;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _signal.Release();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        lock (_gate)
        {
            foreach (var job in _waiting.Concat(_partial).Concat(_joining).Concat(_running))
            {
                job.Tokens.Writer.TryComplete(new OperationCanceledException("the engine stopped"));
            }
        }

        _stop.Dispose();
        _signal.Dispose();
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        bool idle = true;
        while (!token.IsCancellationRequested)
        {
            var step = NextStep();
            if (step is null)
            {
                idle = true;
                await _signal.WaitAsync(token).ConfigureAwait(false);
                continue;
            }

            // Back-to-back steps chain on the clock; after idling, a step starts now.
            double now = _clock.Elapsed.TotalMilliseconds;
            double start = idle ? now : _lastEndMilliseconds;
            idle = false;
            double end = start + (step.Value.Milliseconds / _speed);
            _lastEndMilliseconds = end;
            double wait = end - now;
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait), token).ConfigureAwait(false);
            }

            Finish(step.Value);
        }
    }

    private readonly record struct Step(bool Prefill, double Milliseconds, EngineJob[] Batch);

    /// <summary>The next step's batch and time, or null when there is nothing to do. Prefill goes before decode.</summary>
    private Step? NextStep()
    {
        lock (_gate)
        {
            DropCancelled(_waiting);
            DropCancelled(_partial);
            DropCancelled(_joining);
            DropCancelled(_running);
            if (_partial.Count > 0 || _waiting.Count > 0)
            {
                return PrefillStep();
            }

            while (_joining.Count > 0 && _running.Count < _config.DecodeSequenceCap)
            {
                _running.Add(_joining[0]);
                _joining.RemoveAt(0);
            }

            if (_running.Count == 0)
            {
                return null;
            }

            double kv = 0;
            foreach (var r in _running)
            {
                kv += r.PromptTokens + r.Generated;
            }

            Interlocked.Increment(ref _decodeSteps);
            return new Step(false, _steps.DecodeMilliseconds(_running.Count, kv / _running.Count), [.. _running]);
        }
    }

    private Step PrefillStep()
    {
        int capLeft = _config.PrefillTokenCap;
        double contextSum = 0;
        var batch = new List<EngineJob>();
        var stillPartial = new List<EngineJob>();
        foreach (var r in _partial)
        {
            if (capLeft > 0)
            {
                contextSum += Take(r, ref capLeft, batch, stillPartial);
            }
            else
            {
                stillPartial.Add(r);
            }
        }

        int taken = 0;
        for (; taken < _waiting.Count && capLeft > 0; taken++)
        {
            var r = _waiting[taken];
            // First time in a batch: the prefix cache serves its leading blocks (at least one token is computed).
            int matched = _cache.Match(r.Blocks);
            _cache.Touch(r.Blocks, matched);
            int cached = (int)Math.Min((long)matched * ArrivingRequest.BlockTokens, r.PromptTokens - 1);
            r.CachedTokens = cached;
            r.Prefilled = cached;
            r.PrefillRemaining = r.PromptTokens - cached;
            contextSum += Take(r, ref capLeft, batch, stillPartial);
        }

        _waiting.RemoveRange(0, taken);
        _partial.Clear();
        _partial.AddRange(stillPartial);
        int tokens = _config.PrefillTokenCap - capLeft;
        Interlocked.Increment(ref _prefillSteps);
        return new Step(true, _steps.PrefillMilliseconds(tokens, batch.Count, tokens > 0 ? contextSum / tokens : 0), [.. batch]);
    }

    /// <summary>Adds the request's next chunk; returns the chunk's tokens x their mean context (as the simulation does).</summary>
    private static double Take(EngineJob r, ref int capLeft, List<EngineJob> batch, List<EngineJob> stillPartial)
    {
        int take = Math.Min(r.PrefillRemaining, capLeft);
        capLeft -= take;
        double context = take * (r.Prefilled + (take / 2.0));
        r.Prefilled += take;
        r.PrefillRemaining -= take;
        batch.Add(r);
        if (r.PrefillRemaining > 0)
        {
            stillPartial.Add(r);
        }

        return context;
    }

    private void Finish(Step step)
    {
        lock (_gate)
        {
            if (step.Prefill)
            {
                foreach (var r in step.Batch)
                {
                    if (r.PrefillRemaining > 0)
                    {
                        continue;
                    }

                    _cache.Insert(r.Blocks);
                    if (r.Work == EngineWork.PrefillOnly)
                    {
                        // The P/D prefill side returns its one token with the KV's whereabouts.
                        r.Tokens.Writer.TryWrite(1);
                        r.Tokens.Writer.TryComplete();
                    }
                    else
                    {
                        _joining.Add(r);
                    }
                }

                return;
            }

            int kept = 0;
            for (int i = 0; i < _running.Count; i++)
            {
                var r = _running[i];
                if (Array.IndexOf(step.Batch, r) < 0)
                {
                    _running[kept++] = r;
                    continue;
                }

                r.Generated = Math.Min(r.MaxTokens, r.Generated + _config.TokensPerStep);
                int emit = (int)Math.Floor(r.Generated) - r.Emitted;
                if (r.Generated >= r.MaxTokens)
                {
                    emit = r.MaxTokens - r.Emitted;
                }

                if (emit > 0)
                {
                    r.Emitted += emit;
                    r.Tokens.Writer.TryWrite(emit);
                }

                if (r.Emitted >= r.MaxTokens)
                {
                    r.Tokens.Writer.TryComplete();
                }
                else
                {
                    _running[kept++] = r;
                }
            }

            _running.RemoveRange(kept, _running.Count - kept);
        }
    }

    private static void DropCancelled(List<EngineJob> jobs) =>
        jobs.RemoveAll(j =>
        {
            if (j.Cancelled)
            {
                j.Tokens.Writer.TryComplete();
            }

            return j.Cancelled;
        });
}
