using System.Collections.Frozen;

namespace MoePlan.Core.Binding;

/// <summary>What a quantity measures. Values are normalised: durations in milliseconds, sizes in bytes,
/// bandwidths in bytes per second, rates per second, prices in US dollars per device-hour.</summary>
public enum Dimension
{
    None,
    Duration,
    Bytes,
    Bandwidth,
    Rate,
    Price,
}

public readonly record struct Quantity(double Value, Dimension Dimension);

/// <summary>The units a literal may carry, with the factor to the normalised unit of its dimension.</summary>
public static class Units
{
    public static readonly FrozenDictionary<string, (Dimension Dimension, double Factor)> All =
        new Dictionary<string, (Dimension, double)>
        {
            ["ns"] = (Dimension.Duration, 1e-6),
            ["us"] = (Dimension.Duration, 1e-3),
            ["ms"] = (Dimension.Duration, 1),
            ["s"] = (Dimension.Duration, 1e3),
            ["min"] = (Dimension.Duration, 60e3),
            ["h"] = (Dimension.Duration, 3600e3),
            ["B"] = (Dimension.Bytes, 1),
            ["KB"] = (Dimension.Bytes, 1e3),
            ["MB"] = (Dimension.Bytes, 1e6),
            ["GB"] = (Dimension.Bytes, 1e9),
            ["TB"] = (Dimension.Bytes, 1e12),
            ["KiB"] = (Dimension.Bytes, 1024.0),
            ["MiB"] = (Dimension.Bytes, 1024.0 * 1024),
            ["GiB"] = (Dimension.Bytes, 1024.0 * 1024 * 1024),
            ["TiB"] = (Dimension.Bytes, 1024.0 * 1024 * 1024 * 1024),
            ["Mbps"] = (Dimension.Bandwidth, 1e6 / 8),
            ["Gbps"] = (Dimension.Bandwidth, 1e9 / 8),
            ["Tbps"] = (Dimension.Bandwidth, 1e12 / 8),
            ["MB/s"] = (Dimension.Bandwidth, 1e6),
            ["GB/s"] = (Dimension.Bandwidth, 1e9),
            ["TB/s"] = (Dimension.Bandwidth, 1e12),
            ["GiB/s"] = (Dimension.Bandwidth, 1024.0 * 1024 * 1024),
            ["/s"] = (Dimension.Rate, 1),
            ["/min"] = (Dimension.Rate, 1.0 / 60),
            ["/h"] = (Dimension.Rate, 1.0 / 3600),
            ["%"] = (Dimension.None, 0.01),
            ["usd/device-hour"] = (Dimension.Price, 1),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    public static string Describe(Dimension dimension) => dimension switch
    {
        Dimension.None => "a plain number",
        Dimension.Duration => "a duration (e.g. 50ms, 2s)",
        Dimension.Bytes => "a size (e.g. 64GiB, 80GB)",
        Dimension.Bandwidth => "a bandwidth (e.g. 400Gbps, 155GB/s)",
        Dimension.Rate => "a rate (e.g. 200/s, 12000/min)",
        Dimension.Price => "a price (e.g. 2.0usd/device-hour)",
        _ => dimension.ToString(),
    };
}
