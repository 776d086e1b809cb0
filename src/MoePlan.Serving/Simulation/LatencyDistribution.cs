namespace MoePlan.Serving.Simulation;

/// <summary>
/// A stream of non-negative latencies in bounded memory. The count and the mean are exact. Percentiles are exact
/// (numpy's default linear interpolation between order statistics) while at most <see cref="ExactLimit"/> values
/// have been added; beyond that the values move into a log-bucketed histogram (DDSketch's mapping: bucket i holds
/// (g^(i-1), g^i] with g = (1 + a) / (1 - a), reported as 2 g^i / (g + 1)) and every order statistic is then
/// within a relative error <see cref="RelativeError"/> of the true one; an interpolated percentile, a convex
/// combination of two such order statistics, is within the same relative error. Memory: at most
/// <see cref="ExactLimit"/> doubles, then one counter per occupied bucket (about 1,150 buckets per decade of range).
/// </summary>
public sealed class LatencyDistribution
{
    /// <summary>Values kept exactly (800 KB); above this the histogram takes over.</summary>
    public const int ExactLimit = 100_000;

    /// <summary>Relative error bound of a percentile once the histogram has taken over.</summary>
    public const double RelativeError = 0.001;

    private static readonly double Gamma = (1 + RelativeError) / (1 - RelativeError);
    private static readonly double LogGamma = Math.Log(Gamma);

    private readonly int _exactLimit;
    private List<double>? _exact = [];
    private double[]? _sorted;
    private Dictionary<int, long>? _buckets;
    private long _zeros;
    private double _sum;

    public LatencyDistribution()
        : this(ExactLimit)
    {
    }

    /// <summary>With a smaller exact limit (tests reach the histogram with a small sample).</summary>
    public LatencyDistribution(int exactLimit)
    {
        this._exactLimit = exactLimit;
    }

    public long Count { get; private set; }

    /// <summary>Percentiles are exact (no value has gone into the histogram).</summary>
    public bool IsExact => _exact is not null;

    public void Add(double value)
    {
        Count++;
        _sum += value;
        _sorted = null;
        if (_exact is not null)
        {
            _exact.Add(value);
            if (_exact.Count <= _exactLimit)
            {
                return;
            }

            _buckets = [];
            foreach (var v in _exact)
            {
                AddToBucket(v);
            }

            _exact = null;
            return;
        }

        AddToBucket(value);
    }

    public LatencySummary Summary() =>
        Count == 0
            ? new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN)
            : new LatencySummary((int)Count, Percentile(50), Percentile(90), Percentile(99), Mean());

    /// <summary>The mean; while exact, summed in ascending order (the smallest rounding error).</summary>
    public double Mean()
    {
        if (_exact is null)
        {
            return _sum / Count;
        }

        _sorted ??= SortedCopy(_exact);
        double s = 0;
        foreach (var v in _sorted)
        {
            s += v;
        }

        return s / Count;
    }

    /// <summary>The p-th percentile (0..100), linear interpolation between order statistics; NaN when empty.</summary>
    public double Percentile(double p)
    {
        if (Count == 0)
        {
            return double.NaN;
        }

        double position = p / 100 * (Count - 1);
        long low = (long)Math.Floor(position);
        long high = Math.Min(low + 1, Count - 1);
        if (_exact is not null)
        {
            _sorted ??= SortedCopy(_exact);
            return _sorted[low] + ((position - low) * (_sorted[high] - _sorted[low]));
        }

        double a = OrderStatistic(low), b = OrderStatistic(high);
        return a + ((position - low) * (b - a));
    }

    private static double[] SortedCopy(List<double> values)
    {
        var s = values.ToArray();
        Array.Sort(s);
        return s;
    }

    private void AddToBucket(double value)
    {
        if (value <= 0)
        {
            _zeros++;
            return;
        }

        int index = (int)Math.Ceiling(Math.Log(value) / LogGamma);
        _buckets![index] = _buckets.GetValueOrDefault(index) + 1;
    }

    /// <summary>The k-th smallest value (0-based) as its bucket's representative.</summary>
    private double OrderStatistic(long k)
    {
        if (k < _zeros)
        {
            return 0;
        }

        long seen = _zeros;
        var keys = _buckets!.Keys.ToArray();
        Array.Sort(keys);
        foreach (var key in keys)
        {
            seen += _buckets[key];
            if (k < seen)
            {
                return 2 * Math.Pow(Gamma, key) / (Gamma + 1);
            }
        }

        throw new InvalidOperationException("order statistic beyond the count");
    }
}

/// <summary>
/// Prefill and decode queue lengths over a run in bounded memory: <see cref="Buckets"/> time buckets, each the
/// largest length seen in it. The bucket width starts at 1 ms and doubles (neighbouring buckets merged, by max)
/// whenever the run outgrows the buckets, so a run of any length ends with between half and all of them in use.
/// </summary>
public sealed class QueueLengthSeries
{
    public const int Buckets = 512;

    private readonly int[] _prefill = new int[Buckets];
    private readonly int[] _decode = new int[Buckets];
    private double _start = double.NaN;
    private int _used;

    public double BucketMilliseconds { get; private set; } = 1;

    public double StartMilliseconds => double.IsNaN(_start) ? 0 : _start;

    /// <summary>Buckets holding data, from the run's start.</summary>
    public int Used => _used;

    /// <summary>Largest number of requests waiting in prefill queues (all instances) in bucket i.</summary>
    public int Prefill(int i) => _prefill[i];

    /// <summary>Largest number of requests waiting for a decode slot in bucket i.</summary>
    public int Decode(int i) => _decode[i];

    public void Record(double t, int prefillQueued, int decodeQueued)
    {
        if (double.IsNaN(_start))
        {
            _start = t;
        }

        long index = (long)Math.Floor((t - _start) / BucketMilliseconds);
        while (index >= Buckets)
        {
            for (int i = 0; i < Buckets / 2; i++)
            {
                _prefill[i] = Math.Max(_prefill[2 * i], _prefill[(2 * i) + 1]);
                _decode[i] = Math.Max(_decode[2 * i], _decode[(2 * i) + 1]);
            }

            Array.Clear(_prefill, Buckets / 2, Buckets / 2);
            Array.Clear(_decode, Buckets / 2, Buckets / 2);
            _used = (_used + 1) / 2;
            BucketMilliseconds *= 2;
            index = (long)Math.Floor((t - _start) / BucketMilliseconds);
        }

        int b = (int)index;
        _prefill[b] = Math.Max(_prefill[b], prefillQueued);
        _decode[b] = Math.Max(_decode[b], decodeQueued);
        _used = Math.Max(_used, b + 1);
    }
}
