namespace MoePlan.Core.Diagnostics;

/// <summary>Codes of aggregated serving (<c>serve { }</c>, docs/dsl.md): MP2021..MP2022 binding, MP3021 verification.</summary>
public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor AggregatedAndDisaggregated =
        new("MP2021", DiagnosticSeverity.Error, "Aggregated and disaggregated pools", "`serve` is one pool that prefills and decodes, instead of `prefill` and `decode`; this plan has both forms ({0})");

    public static readonly DiagnosticDescriptor DisaggregatedOnlySetting =
        new("MP2022", DiagnosticSeverity.Error, "Setting of disaggregated serving only", "`{0}` {1}, but this plan serves aggregated (`serve`): there is no prefill-to-decode hand-off");

    public static readonly DiagnosticDescriptor ChunkBudgetBelowDecodeBatch =
        new("MP3021", DiagnosticSeverity.Error, "Chunked-prefill budget leaves no room for prefill", "serve: `max_batch_tokens {0} per device` is the whole step's token budget, but the decode batch alone takes {1} per device (max_batch {2} x {3} token(s) per sequence): no prompt token would ever be scheduled");
}
