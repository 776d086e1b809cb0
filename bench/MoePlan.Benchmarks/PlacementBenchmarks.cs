using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using MoePlan.Core.Placement;

namespace MoePlan.Benchmarks;

/// <summary>One benchmark case: an algorithm on a deployment shape (cases an algorithm refuses are left out).</summary>
public sealed record PlacementCase(string Algorithm, string Shape, PlacementShape Value)
{
    public override string ToString() => $"{Algorithm} {Shape}";
}

/// <summary>
/// Placement of a DeepSeek-V3-sized problem: 61 layers x 256 experts of synthetic decode loads (seed 1), 8 expert
/// groups, 8 ranks per node, for every algorithm on:
/// 256+64 slots over 320 ranks (even, 1 per rank); 256+32 over 320 with uneven placement (some ranks hold none);
/// 256+32 over 288, 144 and 32 ranks (1, 2 and 9 per rank). EPLB places evenly only, so it has no uneven case.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
[Config(typeof(WideParameters))]
public class PlacementBenchmarks
{
    private const int Layers = 61;
    private const int Experts = 256;
    private const int RanksPerNode = 8;

    private PlacementProblem _problem = null!;
    private IPlacementAlgorithm _algorithm = null!;

    public static IEnumerable<PlacementCase> Cases()
    {
        var shapes = new (string Name, PlacementShape Shape)[]
        {
            ("256+64/320", Shape(64, 320, uneven: false)),
            ("256+32/320 uneven", Shape(32, 320, uneven: true)),
            ("256+32/288", Shape(32, 288, uneven: false)),
            ("256+32/144", Shape(32, 144, uneven: false)),
            ("256+32/32", Shape(32, 32, uneven: false)),
        };
        foreach (var algorithm in PlacementAlgorithms.All)
        {
            foreach (var (name, shape) in shapes)
            {
                if (shape.AllowUneven && algorithm is EplbPlacement)
                {
                    continue;
                }

                yield return new PlacementCase(algorithm.Name, name, shape);
            }
        }
    }

    [ParamsSource(nameof(Cases))]
    public PlacementCase Case { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        var (loads, diagnostics) = SyntheticExpertLoads.Generate(new SyntheticLoadOptions(Layers, Experts, 1));
        var (problem, problemDiagnostics) = PlacementProblem.Create(loads ?? throw new InvalidOperationException(string.Join("; ", diagnostics)), Case.Value);
        _problem = problem ?? throw new InvalidOperationException(string.Join("; ", problemDiagnostics));
        _algorithm = PlacementAlgorithms.Find(Case.Algorithm)!;
        var check = _algorithm.Place(_problem);
        if (check.Placement is null || !PlacementInvariants.Check(_problem, check.Placement).IsEmpty)
        {
            throw new InvalidOperationException($"{Case}: no valid placement: {string.Join("; ", check.Diagnostics)}");
        }
    }

    [Benchmark]
    public ExpertPlacement? Place() => _algorithm.Place(_problem).Placement;

    private static PlacementShape Shape(int redundant, int devices, bool uneven) =>
        new(Experts + redundant, devices, RanksPerNode) { ExpertGroups = 8, AllowUneven = uneven };
}

/// <summary>Case names in full in the summary table (the default cuts parameter values at 20 characters).</summary>
public sealed class WideParameters : ManualConfig
{
    public WideParameters() => SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(40);
}
