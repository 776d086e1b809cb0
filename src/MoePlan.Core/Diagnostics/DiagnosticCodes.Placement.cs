namespace MoePlan.Core.Diagnostics;

/// <summary>MP5101..MP5149: expert-load files, synthetic loads, placement problems, algorithms and map formats.</summary>
public static partial class DiagnosticCodes
{
    // Expert-load files (MP5101..MP5119).
    public static readonly DiagnosticDescriptor LoadFileEmpty = new(
        "MP5101", DiagnosticSeverity.Error, "Empty expert-load file", "the expert-load file has no data");

    public static readonly DiagnosticDescriptor LoadCsvHeader = new(
        "MP5102", DiagnosticSeverity.Error, "Bad CSV header", "expected the header 'layer,expert,load', found '{0}'");

    public static readonly DiagnosticDescriptor LoadCsvFieldCount = new(
        "MP5103", DiagnosticSeverity.Error, "Wrong number of CSV fields", "expected 3 fields (layer,expert,load), found {0}");

    public static readonly DiagnosticDescriptor LoadNotNumeric = new(
        "MP5104", DiagnosticSeverity.Error, "Load is not a number", "the load '{0}' is not a finite number");

    public static readonly DiagnosticDescriptor LoadNegative = new(
        "MP5105", DiagnosticSeverity.Error, "Negative load", "the load {0} is negative; loads count tokens and must be 0 or more");

    public static readonly DiagnosticDescriptor LoadBadIndex = new(
        "MP5106", DiagnosticSeverity.Error, "Bad layer or expert index", "the {0} index '{1}' is not a whole number from 0 to {2}");

    public static readonly DiagnosticDescriptor LoadDuplicateEntry = new(
        "MP5107", DiagnosticSeverity.Error, "Duplicate load entry", "layer {0}, expert {1} already has a load (first given on line {2})");

    public static readonly DiagnosticDescriptor LoadMissingExperts = new(
        "MP5108", DiagnosticSeverity.Error, "Missing expert loads", "layer {0} has no load for expert(s) {1}");

    public static readonly DiagnosticDescriptor LoadMissingLayers = new(
        "MP5109", DiagnosticSeverity.Error, "Missing layers", "no loads for layer(s) {0}");

    public static readonly DiagnosticDescriptor LoadRaggedRows = new(
        "MP5110", DiagnosticSeverity.Error, "Ragged rows", "layer {0} has {1} expert loads but layer {2} has {3}; every layer needs the same number of experts");

    public static readonly DiagnosticDescriptor LoadJsonSyntax = new(
        "MP5111", DiagnosticSeverity.Error, "JSON syntax error", "invalid JSON: {0}");

    public static readonly DiagnosticDescriptor LoadWrongShape = new(
        "MP5112", DiagnosticSeverity.Error, "Wrong shape of load data", "{0}");

    public static readonly DiagnosticDescriptor LoadShapeMismatch = new(
        "MP5113", DiagnosticSeverity.Error, "Loads do not match the model", "the file has {0} {1} but the model has {2}");

    public static readonly DiagnosticDescriptor LoadsTooLarge = new(
        "MP5119", DiagnosticSeverity.Error, "Loads too large", "the loads add up beyond the range of a double at this value; loads are token counts: rescale the file");

    public static readonly DiagnosticDescriptor LoadAllZero = new(
        "MP5114", DiagnosticSeverity.Warning, "All loads are zero", "every load in the file is zero; placement will balance slot counts only");

    public static readonly DiagnosticDescriptor LoadTooManyErrors = new(
        "MP5115", DiagnosticSeverity.Error, "Too many errors", "stopped after {0} errors in the expert-load file");

    public static readonly DiagnosticDescriptor LoadOnDenseLayer = new(
        "MP5116", DiagnosticSeverity.Error, "Loads on a dense layer", "layer(s) {0} of {1} are dense (no routed experts) but the file gives them non-zero loads");

    // Synthetic loads (MP5120..MP5124).
    public static readonly DiagnosticDescriptor SyntheticBadParameter = new(
        "MP5120", DiagnosticSeverity.Error, "Bad synthetic-load parameter", "synthetic loads: {0}");

    // Placement problems and algorithms (MP5125..MP5139).
    public static readonly DiagnosticDescriptor PlacementBadParameter = new(
        "MP5125", DiagnosticSeverity.Error, "Bad placement parameter", "placement: {0}");

    public static readonly DiagnosticDescriptor PlacementTooFewSlots = new(
        "MP5126", DiagnosticSeverity.Error, "Fewer slots than experts", "{0} physical expert slots cannot hold {1} logical experts (each expert needs at least one slot)");

    public static readonly DiagnosticDescriptor PlacementUnevenSlots = new(
        "MP5127", DiagnosticSeverity.Error, "Slots do not divide over devices", "{0} physical expert slots do not divide evenly over {1} devices (allow uneven placement or change the redundant-expert count)");

    public static readonly DiagnosticDescriptor PlacementCapsUnreachable = new(
        "MP5128", DiagnosticSeverity.Error, "Caps leave slots unfilled", "the caps allow at most {0} replicas per layer but {1} physical slots must be filled");

    public static readonly DiagnosticDescriptor PlacementUnknownAlgorithm = new(
        "MP5129", DiagnosticSeverity.Error, "Unknown placement algorithm", "unknown placement algorithm '{0}'");

    public static readonly DiagnosticDescriptor PlacementHierarchicalFallback = new(
        "MP5130", DiagnosticSeverity.Warning, "Hierarchical EPLB falls back to global", "{0} expert groups do not divide over {1} nodes; eplb-hierarchical uses the global policy (as DeepSeek's EPLB does)");

    public static readonly DiagnosticDescriptor PlacementEvenOnly = new(
        "MP5131", DiagnosticSeverity.Error, "Algorithm places evenly only", "{0} places the same number of experts on every device, but {1} slots do not divide over {2} devices");

    public static readonly DiagnosticDescriptor PlacementIgnoresUneven = new(
        "MP5132", DiagnosticSeverity.Info, "Uneven placement not used", "{0} places the same number of experts on every device; the uneven allowance is not used");

    public static readonly DiagnosticDescriptor PlacementCapIgnored = new(
        "MP5133", DiagnosticSeverity.Info, "Replica cap tightened", "{0} keeps every replica of an expert inside one node, so an expert has at most {1} replicas");

    public static readonly DiagnosticDescriptor PlacementHierarchicalNoRoom = new(
        "MP5134", DiagnosticSeverity.Warning, "Hierarchical EPLB falls back to global", "nodes of {0} device(s) cannot hold {1} slots of {2} experts without two copies of an expert on one device; eplb-hierarchical uses the global policy");

    // Engine map formats (MP5140..MP5149).
    public static readonly DiagnosticDescriptor MapFormatUnsupported = new(
        "MP5140", DiagnosticSeverity.Error, "Placement cannot be written in this format", "{0}: {1}");
}
