namespace MoePlan.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor HardwareFigureRequired =
        new("MP3002", DiagnosticSeverity.Error, "Hardware figure required", "{0} has no figure for {1}, which {2} needs: {3}");

    public static readonly DiagnosticDescriptor RanksNotWholeDevices =
        new("MP3003", DiagnosticSeverity.Error, "Ranks do not fill whole devices", "{0}: dp {1} x tp {2} = {3} ranks, but a {4} package has {5} dies (ranks); use a multiple of {5}");

    public static readonly DiagnosticDescriptor ExpertsNotDivisible =
        new("MP3004", DiagnosticSeverity.Error, "EP does not divide experts", "{0}: EP {1} does not divide {2} routed + {3} redundant experts ({4})");

    public static readonly DiagnosticDescriptor HeadsNotDivisible =
        new("MP3005", DiagnosticSeverity.Error, "TP does not divide heads", "{0}: TP {1} does not divide {2}");

    public static readonly DiagnosticDescriptor ExpertParallelNotDivisible =
        new("MP3006", DiagnosticSeverity.Error, "EP does not divide ranks", "{0}: EP {1} must divide the instance's dp x tp = {2} ranks");

    public static readonly DiagnosticDescriptor ClusterTooSmall =
        new("MP3007", DiagnosticSeverity.Error, "Cluster too small", "the pools need {0} devices ({1}) but the cluster has {2} ({3} nodes x {4})");

    public static readonly DiagnosticDescriptor IdleDevices =
        new("MP3008", DiagnosticSeverity.Info, "Idle devices", "{0} of the cluster's {1} devices belong to no pool");

    public static readonly DiagnosticDescriptor InstanceSplitsNodes =
        new("MP3009", DiagnosticSeverity.Error, "Instance does not fit nodes", "{0}: an instance of {1} devices {2} nodes of {3} devices");

    public static readonly DiagnosticDescriptor ProxyModeMismatch =
        new("MP3011", DiagnosticSeverity.Warning, "Proxy mode does not suit the engine", "proxy mode `{0}` does not suit {1}: {2}");

    public static readonly DiagnosticDescriptor MtpUnsupported =
        new("MP3013", DiagnosticSeverity.Error, "Model has no MTP layers", "{0} has no multi-token-prediction layers to draft with");

    public static readonly DiagnosticDescriptor OverlapNeedsTwoBatches =
        new("MP3014", DiagnosticSeverity.Warning, "Microbatch overlap without two microbatches", "{0}: microbatch overlap splits a rank's batch in two, but a rank holds {1}");

    public static readonly DiagnosticDescriptor SupernodeShape =
        new("MP3015", DiagnosticSeverity.Error, "Supernode does not fit the cluster", "supernode of {0} devices must be a multiple of devices_per_node ({1}) and at most the cluster's {2} devices");

    public static readonly DiagnosticDescriptor HierarchicalFallsBack =
        new("MP3018", DiagnosticSeverity.Warning, "Hierarchical EPLB falls back", "eplb-hierarchical packs expert groups onto nodes, but {0}; EPLB then uses its global policy");

    public static readonly DiagnosticDescriptor MemoryDoesNotFit =
        new("MP3020", DiagnosticSeverity.Error, "Memory does not fit", "{0} needs {1} GB per {2} (weights {3}, KV cache {4}, activations {5}, buffers {6}) but {7} has {8} GB, {9} GB usable after the {10}% reserve");
}

public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor SloNotMet =
        new("MP3019", DiagnosticSeverity.Warning, "SLO not met", "the cost model predicts {0} {1} ms against the SLO `{2} < {3} ms`");
}
