using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Proxy.Routing;

/// <summary>One engine instance behind the proxy: its pool, its index in the pool (the policies' instance number), its URL, and for SGLang prefill instances the bootstrap port a decode pulls KV from.</summary>
public sealed record Upstream(PoolRole Pool, int Instance, Uri Url, int? BootstrapPort = null)
{
    public string Name => $"{(Pool == PoolRole.Prefill ? "prefill" : "decode")}-{Instance}";
}

/// <summary>
/// The upstreams file (<c>moeplan proxy --upstreams FILE</c>; <c>compile --target moeplan-proxy</c> writes one): a line
/// <c>pool instance url [bootstrap_port]</c> per engine instance, <c>#</c> comments and blank lines ignored. Instances
/// of a pool are numbered 0..n-1 (the numbers the policies route by). Without decode upstreams the proxy sends whole
/// requests to the prefill instances (no disaggregation).
/// </summary>
public sealed record UpstreamList(IReadOnlyList<Upstream> Prefill, IReadOnlyList<Upstream> Decode)
{
    public const int MaxInstance = 9999;

    public bool Disaggregated => Decode.Count > 0;

    public IEnumerable<Upstream> All => Prefill.Concat(Decode);

    /// <summary>Parses the file's text; null with located diagnostics when it is not usable.</summary>
    public static UpstreamList? Parse(string file, string text, ICollection<Diagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(diagnostics);
        var found = new Dictionary<(PoolRole, int), Upstream>();
        var lines = text.Split('\n');
        int errors = 0;
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].TrimEnd('\r');
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            string content = (hash >= 0 ? line[..hash] : line).Trim();
            if (content.Length == 0)
            {
                continue;
            }

            var span = new SourceSpan(file, 0, line.Length, n + 1, line.Length - line.TrimStart().Length + 1);
            var fields = content.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            Diagnostic? problem = null;
            PoolRole pool = PoolRole.Prefill;
            int instance = 0;
            Uri? url = null;
            int? bootstrap = null;
            if (fields.Length is < 3 or > 4)
            {
                problem = DiagnosticCodes.UpstreamsBadLine.Create(span, TextExcerpt.Of(content));
            }
            else if (fields[0] is not ("prefill" or "decode"))
            {
                problem = DiagnosticCodes.UpstreamsBadPool.Create(span, TextExcerpt.Of(fields[0]));
            }
            else if (!int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out instance) || instance > MaxInstance)
            {
                problem = DiagnosticCodes.UpstreamsBadInstance.Create(span, TextExcerpt.Of(fields[1]));
            }
            else if (!Uri.TryCreate(fields[2], UriKind.Absolute, out url) || url.Scheme is not ("http" or "https"))
            {
                problem = DiagnosticCodes.UpstreamsBadUrl.Create(span, TextExcerpt.Of(fields[2]));
            }
            else if (fields.Length == 4)
            {
                if (int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535)
                {
                    bootstrap = port;
                }
                else
                {
                    problem = DiagnosticCodes.UpstreamsBadBootstrapPort.Create(span, TextExcerpt.Of(fields[3]));
                }
            }

            pool = fields.Length > 0 && fields[0] == "decode" ? PoolRole.Decode : PoolRole.Prefill;
            if (problem is null && !found.TryAdd((pool, instance), new Upstream(pool, instance, url!, bootstrap)))
            {
                problem = DiagnosticCodes.UpstreamsDuplicate.Create(span, fields[0], instance);
            }

            if (problem is not null)
            {
                diagnostics.Add(problem);
                errors++;
            }
        }

        var prefill = Numbered(found, PoolRole.Prefill, file, diagnostics, ref errors);
        var decode = Numbered(found, PoolRole.Decode, file, diagnostics, ref errors);
        if (prefill.Count == 0 && errors == 0)
        {
            diagnostics.Add(DiagnosticCodes.UpstreamsNoPrefill.Create(new SourceSpan(file, 0, 0, 1, 1)));
            errors++;
        }

        return errors == 0 ? new UpstreamList(prefill, decode) : null;
    }

    /// <summary>Warnings where the file's instance counts differ from the plan's (allowed: a partial deployment).</summary>
    public void CompareWith(DeploymentPlan plan, string file, ICollection<Diagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (Prefill.Count != plan.Prefill.Instances.Value)
        {
            diagnostics.Add(DiagnosticCodes.UpstreamsPlanMismatch.Create(new SourceSpan(file, 0, 0, 1, 1), Prefill.Count, "prefill", plan.Prefill.Instances.Value));
        }

        if (Disaggregated && Decode.Count != plan.Decode.Instances.Value)
        {
            diagnostics.Add(DiagnosticCodes.UpstreamsPlanMismatch.Create(new SourceSpan(file, 0, 0, 1, 1), Decode.Count, "decode", plan.Decode.Instances.Value));
        }
    }

    /// <summary>The file's text for these upstreams (the bundle's and the tests' writer).</summary>
    public string Write()
    {
        var text = new System.Text.StringBuilder("# pool instance url [bootstrap_port]\n");
        foreach (var u in All)
        {
            text.Append(u.Pool == PoolRole.Prefill ? "prefill" : "decode").Append(' ').Append(u.Instance.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(u.Url.ToString().TrimEnd('/'));
            if (u.BootstrapPort is { } port)
            {
                text.Append(' ').Append(port.ToString(CultureInfo.InvariantCulture));
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    private static List<Upstream> Numbered(Dictionary<(PoolRole, int), Upstream> found, PoolRole pool, string file, ICollection<Diagnostic> diagnostics, ref int errors)
    {
        var list = found.Values.Where(u => u.Pool == pool).OrderBy(u => u.Instance).ToList();
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i].Instance != i)
            {
                diagnostics.Add(DiagnosticCodes.UpstreamsGap.Create(new SourceSpan(file, 0, 0, 1, 1), pool == PoolRole.Prefill ? "prefill" : "decode", list.Count - 1, i));
                errors++;
                return [];
            }
        }

        return list;
    }
}
