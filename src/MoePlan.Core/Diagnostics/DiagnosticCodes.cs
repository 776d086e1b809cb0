using System.Collections.Immutable;
using System.Reflection;

namespace MoePlan.Core.Diagnostics;

/// <summary>
/// The central list of diagnostic codes. One partial file per stage:
/// MP1xxx syntax, MP2xxx binding (MP21xx model config files), MP3xxx verification,
/// MP4xxx scripts, MP5xxx runtime and input files (MP51xx expert-load files).
/// </summary>
public static partial class DiagnosticCodes
{
    private static readonly Lazy<ImmutableArray<DiagnosticDescriptor>> AllDescriptors = new(() =>
        typeof(DiagnosticCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .OrderBy(d => d.Code, StringComparer.Ordinal)
            .ToImmutableArray());

    /// <summary>Every code, sorted.</summary>
    public static ImmutableArray<DiagnosticDescriptor> All => AllDescriptors.Value;
}
