using System.Collections.Immutable;

namespace MoePlan.Core.Catalog;

/// <summary>
/// An accelerator of the embedded catalog. Figures are per package (what one buys and what
/// "device" means in a plan); a package of several dies (Ascend 910C: two) exposes each die as its own
/// rank, so per-rank figures divide by <see cref="DiesPerPackage"/>. A figure that no source gives is
/// null: the verifier says it is required when a check needs it. <see cref="Sources"/> maps each
/// property name to where its figure comes from.
/// </summary>
public sealed record HardwareEntry(
    string Name,
    string DisplayName,
    string Vendor,
    string Family,
    int DiesPerPackage,
    double? Bf16TeraFlopsPerPackage,
    double? Fp8TeraFlopsPerPackage,
    double? Int8TeraOpsPerPackage,
    long? HbmBytesPerPackage,
    double? HbmBytesPerSecondPerPackage,
    double? ScaleUpBytesPerSecondPerDirection,
    double? ScaleUpLatencyMicroseconds,
    double? ScaleOutBytesPerSecondPerDirection,
    int? DevicesPerNode,
    bool Estimated,
    ImmutableSortedDictionary<string, string> Sources)
{
    /// <summary>Other names <see cref="EmbeddedCatalog.FindHardware"/> accepts (lower-case kebab).</summary>
    public ImmutableArray<string> Aliases { get; init; } = ImmutableArray<string>.Empty;

    /// <summary>Dense FP4 rate (Blackwell); null when the chip has none or no source gives it.</summary>
    public double? Fp4TeraFlopsPerPackage { get; init; }

    /// <summary>
    /// Packages in one scale-up domain (all reachable over <see cref="ScaleUpBytesPerSecondPerDirection"/>):
    /// an NVLink node, a GB200 NVL72 rack, a CloudMatrix384 supernode.
    /// </summary>
    public int? ScaleUpDomainPackages { get; init; }
}
