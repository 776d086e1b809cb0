namespace MoePlan.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor UnknownSetting =
        new("MP2001", DiagnosticSeverity.Error, "Unknown setting", "unknown setting `{0}` in `{1}`{2}");

    public static readonly DiagnosticDescriptor DuplicateSetting =
        new("MP2002", DiagnosticSeverity.Error, "Duplicate setting", "`{0}` is set twice in `{1}`; the first is at line {2}");

    public static readonly DiagnosticDescriptor UnknownModel =
        new("MP2003", DiagnosticSeverity.Error, "Unknown model", "unknown model `{0}`{1}");

    public static readonly DiagnosticDescriptor UnknownHardware =
        new("MP2004", DiagnosticSeverity.Error, "Unknown hardware", "unknown hardware `{0}`{1}");

    public static readonly DiagnosticDescriptor UnknownWord =
        new("MP2005", DiagnosticSeverity.Error, "Unknown value", "`{0}` is not a valid {1}; expected {2}{3}");

    public static readonly DiagnosticDescriptor WrongArguments =
        new("MP2006", DiagnosticSeverity.Error, "Wrong arguments", "`{0}` expects {1}");

    public static readonly DiagnosticDescriptor WrongDimension =
        new("MP2007", DiagnosticSeverity.Error, "Wrong unit", "`{0}` expects {1}, found {2}");

    public static readonly DiagnosticDescriptor OutOfRange =
        new("MP2008", DiagnosticSeverity.Error, "Value out of range", "`{0}` must be {1}, found {2}");

    public static readonly DiagnosticDescriptor UndefinedName =
        new("MP2009", DiagnosticSeverity.Error, "Undefined name", "`{0}` is not defined{1}");

    public static readonly DiagnosticDescriptor DuplicateLet =
        new("MP2010", DiagnosticSeverity.Error, "Duplicate constant", "`{0}` is already defined at {1}");

    public static readonly DiagnosticDescriptor ImportNotFound =
        new("MP2011", DiagnosticSeverity.Error, "Cannot read file", "cannot read `{0}`: {1}");

    public static readonly DiagnosticDescriptor ImportCycle =
        new("MP2012", DiagnosticSeverity.Error, "Import cycle", "import cycle: {0}");

    public static readonly DiagnosticDescriptor DeploymentInImport =
        new("MP2013", DiagnosticSeverity.Error, "Deployment in an imported file", "an imported file may hold only `import` and `let`; `{0}` declares a deployment");

    public static readonly DiagnosticDescriptor DeploymentCount =
        new("MP2014", DiagnosticSeverity.Error, "Deployment count", "a plan file declares exactly one `deployment`, found {0}");

    public static readonly DiagnosticDescriptor UnknownUnit =
        new("MP2015", DiagnosticSeverity.Error, "Unknown unit", "unknown unit `{0}`{1}");

    public static readonly DiagnosticDescriptor InvalidArithmetic =
        new("MP2016", DiagnosticSeverity.Error, "Invalid arithmetic", "{0}");

    public static readonly DiagnosticDescriptor UnexpectedBlock =
        new("MP2017", DiagnosticSeverity.Error, "Unexpected block", "`{0}` {1}");

    public static readonly DiagnosticDescriptor MissingSetting =
        new("MP2020", DiagnosticSeverity.Error, "Missing setting", "`{0}` needs `{1}`");
}

public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor ConflictingSettings =
        new("MP2018", DiagnosticSeverity.Error, "Conflicting settings", "{0}");
}
