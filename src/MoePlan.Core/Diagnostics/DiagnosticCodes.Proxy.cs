namespace MoePlan.Core.Diagnostics;

/// <summary>
/// MP5500..MP5549: the live proxy's inputs (the upstreams file) and its engine and bench options; MP4030..MP4039: a
/// scheduler script in the live proxy (warnings it logs while it keeps serving).
/// </summary>
public static partial class DiagnosticCodes
{
    // Upstreams file (MP5500..MP5509).
    public static readonly DiagnosticDescriptor UpstreamsBadLine = new(
        "MP5500", DiagnosticSeverity.Error, "Bad upstream line", "expected 'pool instance url [bootstrap_port]', found '{0}'");

    public static readonly DiagnosticDescriptor UpstreamsBadPool = new(
        "MP5501", DiagnosticSeverity.Error, "Unknown upstream pool", "unknown pool '{0}'; expected prefill or decode");

    public static readonly DiagnosticDescriptor UpstreamsBadInstance = new(
        "MP5502", DiagnosticSeverity.Error, "Bad upstream instance", "instance '{0}' is not a whole number from 0 to 9999");

    public static readonly DiagnosticDescriptor UpstreamsBadUrl = new(
        "MP5503", DiagnosticSeverity.Error, "Bad upstream URL", "'{0}' is not an absolute http:// or https:// URL");

    public static readonly DiagnosticDescriptor UpstreamsDuplicate = new(
        "MP5504", DiagnosticSeverity.Error, "Upstream listed twice", "{0} instance {1} is listed twice");

    public static readonly DiagnosticDescriptor UpstreamsGap = new(
        "MP5505", DiagnosticSeverity.Error, "Upstream instances not numbered from 0", "{0} instances must be numbered 0 to {1} without gaps; instance {2} is missing");

    public static readonly DiagnosticDescriptor UpstreamsNoPrefill = new(
        "MP5506", DiagnosticSeverity.Error, "No prefill upstream", "the file lists no prefill upstream (lines 'prefill 0 http://host:port')");

    public static readonly DiagnosticDescriptor UpstreamsBadBootstrapPort = new(
        "MP5507", DiagnosticSeverity.Error, "Bad bootstrap port", "bootstrap port '{0}' is not a port number from 1 to 65535");

    public static readonly DiagnosticDescriptor UpstreamsPlanMismatch = new(
        "MP5508", DiagnosticSeverity.Warning, "Upstreams differ from the plan", "the file lists {0} {1} instance(s) but the plan has {2}; the proxy routes over the file's");

    // A scheduler script in the live proxy (MP4030..MP4039): logged, once per failure class, while it keeps serving.
    public static readonly DiagnosticDescriptor ProxyScriptHookFailed = new(
        "MP4030", DiagnosticSeverity.Warning, "Script hook failed in the proxy", "{0} failed ({1}): {2}; the default policy decided the call (further {1} failures of {0} are only counted in /metrics)");

    public static readonly DiagnosticDescriptor ProxyScriptRestarted = new(
        "MP4031", DiagnosticSeverity.Warning, "Script host restarted by the proxy", "the script host died during {0}; it is started again ({1} of {2} restarts) and the default policy decides until it is up");

    public static readonly DiagnosticDescriptor ProxyScriptOff = new(
        "MP4032", DiagnosticSeverity.Warning, "Script off in the proxy", "the script is not called again ({0}); the default policy decides from now on");
}
