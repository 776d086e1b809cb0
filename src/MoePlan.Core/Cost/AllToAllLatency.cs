using System.Collections.Immutable;

namespace MoePlan.Core.Cost;

/// <summary>One measured low-latency all-to-all call: its expert-parallel size and the time of a dispatch and a combine.</summary>
/// <param name="OverScaleUp">The call stayed inside one scale-up domain (NVLink node, UB supernode); otherwise it crossed the NIC.</param>
public readonly record struct AllToAllMeasurement(int ExpertParallel, bool OverScaleUp, double DispatchMicroseconds, double CombineMicroseconds);

/// <summary>
/// The fixed part of one all-to-all call (kernel launch, barriers, per-peer handshakes) as a function of EP and of
/// the fabric it crosses, derived from a published microbenchmark of the low-latency kernels: each measured call
/// time minus the time the cost model gives its payload on the reference machine is the floor at that EP
/// (never below 0). Between measured sizes the floor is interpolated in log2(EP); beyond them it is held at the
/// nearest measured size. A fabric the microbenchmark did not measure takes the other fabric's floors.
/// </summary>
/// <param name="Source">Where the measurements come from.</param>
/// <param name="TokensPerRank">Tokens each rank dispatched in the microbenchmark.</param>
/// <param name="HiddenSize">Hidden size of a token.</param>
/// <param name="TopK">Copies of each token.</param>
/// <param name="DispatchBytesPerElement">Bytes per element of the dispatch payload in the microbenchmark (FP8 / INT8: 1).</param>
/// <param name="CombineBytesPerElement">Bytes per element of the combine payload (BF16: 2).</param>
/// <param name="ScaleUpBytesPerSecond">Achieved scale-up bandwidth per direction of the reference machine (nominal x the family's efficiency).</param>
/// <param name="ScaleOutBytesPerSecond">Achieved scale-out bandwidth per direction of the reference machine.</param>
/// <param name="DomainRanks">Ranks of one scale-up domain of the reference machine.</param>
public sealed class AllToAllLatency(
    string source,
    int tokensPerRank,
    int hiddenSize,
    int topK,
    double dispatchBytesPerElement,
    double combineBytesPerElement,
    double scaleUpBytesPerSecond,
    double scaleOutBytesPerSecond,
    int domainRanks,
    ImmutableArray<AllToAllMeasurement> measurements)
{
    public string Source { get; } = source;

    public ImmutableArray<AllToAllMeasurement> Measurements { get; } = measurements;

    private readonly (double Log2Ep, double Dispatch, double Combine)[] _scaleUpFloors =
        Floors(measurements, true, tokensPerRank, hiddenSize, topK, dispatchBytesPerElement, combineBytesPerElement, scaleUpBytesPerSecond, scaleOutBytesPerSecond, domainRanks);

    private readonly (double Log2Ep, double Dispatch, double Combine)[] _scaleOutFloors =
        Floors(measurements, false, tokensPerRank, hiddenSize, topK, dispatchBytesPerElement, combineBytesPerElement, scaleUpBytesPerSecond, scaleOutBytesPerSecond, domainRanks);

    /// <summary>
    /// deepseek-ai/DeepEP README (figures.md, "All-to-all kernel microbenchmarks"): low-latency kernels on H800 with
    /// CX7 400 Gb/s InfiniBand, 128 tokens per rank, hidden 7168, top-8, FP8 dispatch / BF16 combine. EP8 is one
    /// node (its 98 GB/s exceeds the NIC: the copies moved over NVLink); EP16 and up cross the NIC. The reference
    /// machine is H800 at Hopper's efficiencies: NVLink 200 GB/s x 0.775, NIC 50 GB/s x 0.80.
    /// </summary>
    public static readonly AllToAllLatency DeepEpH800 = new(
        "deepseek-ai/DeepEP README, low-latency kernels on H800 + CX7 400 Gb/s IB (figures.md)",
        128, 7168, 8, 1, 2, 200e9 * 0.775, 50e9 * 0.80, 8,
        [
            new(8, true, 77, 114),
            new(16, false, 118, 195),
            new(32, false, 155, 273),
            new(64, false, 173, 314),
            new(128, false, 192, 369),
            new(256, false, 194, 360),
        ]);

    /// <summary>
    /// sgl-project/sgl-kernel-npu python/deep_ep/README.md (DeepEP-Ascend; figures.md): low-latency kernels on the
    /// Ascend A3 384 SuperPOD (910C over HCCS/UB), 128 tokens per rank, hidden 7168, top-8, INT8 dispatch / BF16
    /// combine; every size inside the supernode. Reference machine: UB measured 196 GB/s per direction per die.
    /// </summary>
    public static readonly AllToAllLatency DeepEpAscend = new(
        "sgl-project/sgl-kernel-npu DeepEP-Ascend README, low-latency kernels on Ascend A3 SuperPOD (figures.md)",
        128, 7168, 8, 1, 2, 196e9, 196e9 * 0.80, 768,
        [
            new(8, true, 132, 126),
            new(16, true, 139, 135),
            new(32, true, 153, 151),
        ]);

    /// <summary>Floor of one dispatch and one combine at <paramref name="expertParallel"/>, over the scale-up domain or across the NIC.</summary>
    public (double DispatchMicroseconds, double CombineMicroseconds) FloorAt(int expertParallel, bool overScaleUp)
    {
        var floors = overScaleUp ? _scaleUpFloors : _scaleOutFloors;
        if (floors.Length == 0)
        {
            floors = overScaleUp ? _scaleOutFloors : _scaleUpFloors;
        }

        var x = Math.Log2(Math.Max(1, expertParallel));
        if (x <= floors[0].Log2Ep)
        {
            return (floors[0].Dispatch, floors[0].Combine);
        }

        for (var i = 1; i < floors.Length; i++)
        {
            if (x <= floors[i].Log2Ep)
            {
                var (x0, d0, c0) = floors[i - 1];
                var (x1, d1, c1) = floors[i];
                var w = (x - x0) / (x1 - x0);
                return (d0 + (w * (d1 - d0)), c0 + (w * (c1 - c0)));
            }
        }

        return (floors[^1].Dispatch, floors[^1].Combine);
    }

    /// <summary>The expert-parallel sizes the microbenchmark measured over this fabric (the interval widens outside them).</summary>
    public bool Measured(int expertParallel, bool overScaleUp) =>
        Measurements.Any(m => m.OverScaleUp == overScaleUp) &&
        expertParallel >= Measurements.Where(m => m.OverScaleUp == overScaleUp).Min(m => m.ExpertParallel) &&
        expertParallel <= Measurements.Where(m => m.OverScaleUp == overScaleUp).Max(m => m.ExpertParallel);

    /// <summary>Time the cost model gives a microbenchmark payload on a reference machine, in microseconds.</summary>
    public static double PayloadMicroseconds(int expertParallel, double bytesPerElement, int tokensPerRank, int hiddenSize, int topK,
        double scaleUpBytesPerSecond, double scaleOutBytesPerSecond, int domainRanks)
    {
        var (intra, remote) = StepCostModel.LowLatencyCopies(topK, expertParallel, domainRanks);
        var bytesPerCopy = (double)tokensPerRank * hiddenSize * bytesPerElement;
        return Math.Max(intra * bytesPerCopy / scaleUpBytesPerSecond, remote * bytesPerCopy / scaleOutBytesPerSecond) * 1e6;
    }

    private static (double, double, double)[] Floors(ImmutableArray<AllToAllMeasurement> measurements, bool overScaleUp, int tokens, int hidden, int topK,
        double dispatchBytes, double combineBytes, double up, double scaleOut, int domain) =>
        measurements.Where(m => m.OverScaleUp == overScaleUp)
            .OrderBy(m => m.ExpertParallel)
            .Select(m => (Math.Log2(m.ExpertParallel),
                Math.Max(0, m.DispatchMicroseconds - PayloadMicroseconds(m.ExpertParallel, dispatchBytes, tokens, hidden, topK, up, scaleOut, domain)),
                Math.Max(0, m.CombineMicroseconds - PayloadMicroseconds(m.ExpertParallel, combineBytes, tokens, hidden, topK, up, scaleOut, domain))))
            .ToArray();
}
