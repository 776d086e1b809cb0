using MoePlan.Proxy.Routing;

namespace MoePlan.Proxy.Server;

/// <summary>An upstream failed one attempt: refused, timed out, answered 5xx, or its stream broke.</summary>
/// <param name="MarkDown">The upstream itself is unhealthy (refused, timed out, died); a 5xx it answered is not marked down.</param>
public sealed class UpstreamFailure(Upstream upstream, string message, bool markDown, Exception? inner = null) : Exception(message, inner)
{
    public Upstream Upstream => upstream;

    public bool MarkDown => markDown;
}
