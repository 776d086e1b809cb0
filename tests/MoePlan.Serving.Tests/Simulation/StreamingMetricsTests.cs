using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>The bounded accumulators the simulation folds completed requests into.</summary>
public sealed class StreamingMetricsTests
{
    /// <summary>numpy.percentile's default ('linear'): x[floor(h)] + (h - floor(h)) (x[floor(h)+1] - x[floor(h)]), h = p/100 (n-1).</summary>
    private static double NumpyPercentile(double[] values, double p)
    {
        var x = values.OrderBy(v => v).ToArray();
        double h = p / 100 * (x.Length - 1);
        int lo = (int)Math.Floor(h);
        return lo + 1 < x.Length ? x[lo] + ((h - lo) * (x[lo + 1] - x[lo])) : x[lo];
    }

    [Fact]
    public void Small_samples_give_numpys_percentiles_exactly()
    {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 90, 99]) = [3.0, 7.6, 9.76]: h = 3.6 -> 4 + 0.6 x 6; h = 3.96 -> 4 + 0.96 x 6.
        var d = new LatencyDistribution();
        foreach (var v in new double[] { 10, 3, 1, 4, 2 })
        {
            d.Add(v);
        }

        var s = d.Summary();
        Assert.True(d.IsExact);
        Assert.Equal(3.0, s.P50, 12);
        Assert.Equal(7.6, s.P90, 12);
        Assert.Equal(9.76, s.P99, 12);
        Assert.Equal(4.0, s.Mean, 12);
        Assert.Equal(5, s.Count);
    }

    [Fact]
    public void Past_the_exact_limit_percentiles_stay_within_the_stated_relative_error()
    {
        // 20,000 log-normal latencies (median e^3 ~ 20 ms, spread over four decades) through a distribution that keeps
        // only 1,000 exactly: the histogram's percentiles against numpy's on the full sample.
        var rng = new Random(11);
        var values = new double[20_000];
        var d = new LatencyDistribution(exactLimit: 1_000);
        for (int i = 0; i < values.Length; i++)
        {
            double normal = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            values[i] = Math.Exp(3 + (1.5 * normal));
            d.Add(values[i]);
        }

        Assert.False(d.IsExact);
        foreach (var p in new double[] { 0, 1, 10, 50, 90, 99, 99.9, 100 })
        {
            double expected = NumpyPercentile(values, p);
            double relative = Math.Abs(d.Percentile(p) - expected) / expected;
            Assert.True(relative <= LatencyDistribution.RelativeError * (1 + 1e-9), $"p{p}: {d.Percentile(p)} vs {expected} ({relative:e2})");
        }

        Assert.Equal(values.Average(), d.Mean(), 6);
        Assert.Equal(values.Length, d.Count);
    }

    [Fact]
    public void Queue_series_doubles_its_bucket_width_and_keeps_the_maximum()
    {
        var q = new QueueLengthSeries();
        q.Record(0, 3, 0);
        q.Record(0.5, 7, 1); // bucket 0 (1 ms wide): max 7
        q.Record(1.2, 2, 5); // bucket 1
        Assert.Equal(2, q.Used);
        Assert.Equal(7, q.Prefill(0));
        Assert.Equal(5, q.Decode(1));

        // 600 ms is past 512 one-millisecond buckets: they merge pairwise into 2 ms buckets; bucket 0 = max of old 0 and 1.
        q.Record(600, 4, 4);
        Assert.Equal(2, q.BucketMilliseconds);
        Assert.Equal(7, q.Prefill(0));
        Assert.Equal(5, q.Decode(0));
        Assert.Equal(4, q.Prefill(300));
        Assert.Equal(301, q.Used);
    }
}
