using System.Globalization;
using MoePlan.Core.Formatting;
using MoePlan.Core.Syntax;

namespace MoePlan.Core.Search;

/// <summary>
/// Writes a candidate as a plan: the base plan's source with the varied settings rewritten in place (through the
/// syntax tree's ranges), everything else (comments, lets, imports, other settings) kept, then formatted canonically.
/// </summary>
public static class PlanTextWriter
{
    /// <param name="baseText">The base plan's source.</param>
    /// <param name="syntax">Its syntax tree (<c>CompilationResult.Syntax</c>).</param>
    /// <param name="baseSettings">The base plan's settings; only values that differ are rewritten.</param>
    /// <param name="candidate">The candidate (EP "= dp" resolved).</param>
    /// <param name="nodes">The cluster's node count to write, or null to keep it.</param>
    /// <param name="relocate">Maps a path string of the plan (imports, loads, traces, configs) to the one to write; null keeps paths.</param>
    public static string Write(string baseText, FileSyntax syntax, CandidateSettings baseSettings, CandidateSettings candidate, int? nodes = null,
        Func<string, string>? relocate = null)
    {
        var deployment = syntax.Statements.OfType<DeploymentSyntax>().FirstOrDefault()
                         ?? throw new ArgumentException("the syntax has no deployment", nameof(syntax));
        var edits = new List<(int Start, int Length, string Text)>();
        var body = deployment.Body;
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        string OnOff(bool v) => v ? "on" : "off";

        void Set(BlockSyntax block, string name, string value, bool changed)
        {
            if (!changed)
            {
                return;
            }

            var setting = Find(block, name);
            if (setting is null)
            {
                Insert(block, $"{name} {value}");
            }
            else if (setting.Arguments.Length == 0)
            {
                edits.Add((setting.Name.Range.Start + setting.Name.Range.Length, 0, " " + value));
            }
            else
            {
                var first = setting.Arguments[0].Range;
                var last = setting.Arguments[^1].Range;
                edits.Add((first.Start, last.Start + last.Length - first.Start, value));
            }
        }

        void Insert(BlockSyntax block, string text) =>
            edits.Add((block.Range.Start + block.Range.Length - 1, 0, $"  {text}  "));

        if (nodes is { } n && Block(body, "cluster") is { } cluster)
        {
            Set(cluster, "nodes", I(n), true);
        }

        string Text(SettingSyntax setting) => baseText.Substring(setting.Range.Start, setting.Range.Length);
        var written = Find(body, "serve") ?? Find(body, "decode");
        string Parallel(PoolValues v) => $"parallel {{ dp {I(v.Dp)}  tp {I(v.Tp)}  ep {I(v.Ep)} }}";

        // Context and MTP are not search dimensions: a pool written anew takes them as the base plan wrote them.
        string Carried(string name) => written?.Block is { } from && Find(from, name) is { } s ? "\n" + Text(s) : "";
        string ServeText(CandidateSettings s)
        {
            var d = Pool(s, false);
            return $"serve {{\ninstances {I(d.Instances)}\n{Parallel(d)}\nmax_batch {I(d.Batch)} per device{Carried("context")}\n" +
                   $"max_batch_tokens {I(s.PrefillMaxBatchTokens)} per device{(d.Mtp ? Carried("mtp") : "")}{(d.Overlap ? "\nmicrobatch_overlap on" : "")}\n}}";
        }

        string DisaggregatedText(CandidateSettings s)
        {
            var (p, d) = (Pool(s, true), Pool(s, false));
            return $"prefill {{\ninstances {I(p.Instances)}\n{Parallel(p)}\nmax_batch_tokens {I(p.Batch)} per device{(p.Overlap ? "\nmicrobatch_overlap on" : "")}\n}}\n\n" +
                   $"decode {{\ninstances {I(d.Instances)}\n{Parallel(d)}\nmax_batch {I(d.Batch)} per device{Carried("context")}{(d.Mtp ? Carried("mtp") : "")}{(d.Overlap ? "\nmicrobatch_overlap on" : "")}\n}}";
        }

        if (baseSettings.Aggregated || candidate.Aggregated)
        {
            // Another serving form (or a serve pool rewritten whole): the pool blocks are written anew in the first one's place.
            var first = Find(body, baseSettings.Aggregated ? "serve" : "prefill") ?? throw new ArgumentException("the deployment has no pool block", nameof(syntax));
            edits.Add((first.Range.Start, first.Range.Length, candidate.Aggregated ? ServeText(candidate) : DisaggregatedText(candidate)));
            if (!baseSettings.Aggregated && Find(body, "decode") is { } decodeSetting)
            {
                edits.Add((decodeSetting.Range.Start, decodeSetting.Range.Length, ""));
            }

            // An aggregated plan hands nothing from prefill to decode: no proxy mode (MP2022).
            if (candidate.Aggregated && Block(body, "proxy") is { } aggregatedProxy && Find(aggregatedProxy, "mode") is { } modeSetting)
            {
                edits.Add((modeSetting.Range.Start, modeSetting.Range.Length, ""));
            }
        }

        foreach (var (name, b, c) in baseSettings.Aggregated || candidate.Aggregated ? []
                     : new[] { ("prefill", Pool(baseSettings, true), Pool(candidate, true)), ("decode", Pool(baseSettings, false), Pool(candidate, false)) })
        {
            var pool = Block(body, name) ?? throw new ArgumentException($"the deployment has no {name} block", nameof(syntax));
            Set(pool, "instances", I(c.Instances), c.Instances != b.Instances);
            if (c.Dp != b.Dp || c.Tp != b.Tp || c.Ep != b.Ep)
            {
                if (Block(pool, "parallel") is { } parallel)
                {
                    Set(parallel, "dp", I(c.Dp), c.Dp != b.Dp);
                    Set(parallel, "tp", I(c.Tp), c.Tp != b.Tp);
                    Set(parallel, "ep", I(c.Ep), c.Ep != b.Ep);
                }
                else
                {
                    Insert(pool, $"parallel {{ dp {I(c.Dp)}  tp {I(c.Tp)}  ep {I(c.Ep)} }}");
                }
            }

            Set(pool, name == "prefill" ? "max_batch_tokens" : "max_batch", I(c.Batch) + " per device", c.Batch != b.Batch);
            Set(pool, "microbatch_overlap", OnOff(c.Overlap), c.Overlap != b.Overlap);
            if (name == "decode" && c.Mtp != b.Mtp)
            {
                // Only "off" can be new: on keeps the base plan's mtp block (draft tokens and acceptance).
                if (Find(pool, "mtp") is { } mtp)
                {
                    edits.Add((mtp.Range.Start, mtp.Range.Length, "mtp off"));
                }
                else
                {
                    Insert(pool, "mtp off");
                }
            }
        }

        if (baseSettings.RedundantExperts != candidate.RedundantExperts)
        {
            var placement = Block(body, "placement") ?? throw new ArgumentException("the deployment has no placement block", nameof(syntax));
            Set(placement, "redundant_experts", I(candidate.RedundantExperts), true);
        }

        var proxyModeChanged = !candidate.Aggregated && baseSettings.ProxyParallel != candidate.ProxyParallel;
        if (proxyModeChanged || (candidate.ProxyPolicy >= 0 && baseSettings.ProxyPolicy != candidate.ProxyPolicy))
        {
            var mode = candidate.ProxyParallel ? "parallel" : "sequential";
            var modeChanged = proxyModeChanged;
            var policyChanged = candidate.ProxyPolicy >= 0 && baseSettings.ProxyPolicy != candidate.ProxyPolicy;
            if (Block(body, "proxy") is { } proxy)
            {
                Set(proxy, "mode", mode, modeChanged);
                Set(proxy, "policy", candidate.ProxyPolicyName, policyChanged);
            }
            else
            {
                Insert(body, "proxy { " + string.Join("  ", new[] { modeChanged ? "mode " + mode : null, policyChanged ? "policy " + candidate.ProxyPolicyName : null }.OfType<string>()) + " }");
            }
        }

        // A candidate is one deployment: its plan carries no sweep (docs/search.md, "Written plans").
        if (Find(body, "sweep") is { } sweep)
        {
            edits.Add((sweep.Range.Start, sweep.Range.Length, "# sweep block left out: moeplan search wrote this plan as one of its candidates"));
        }

        if (relocate is not null)
        {
            foreach (var import in syntax.Statements.OfType<ImportSyntax>())
            {
                Relocate(import.Path, relocate, edits);
            }

            RelocateStrings(body, relocate, edits);
        }

        var text = baseText;
        foreach (var (start, length, replacement) in edits.OrderByDescending(e => e.Start))
        {
            text = string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(start + length));
        }

        var formatted = PlanFormatter.Format(text, "search-candidate.moe");
        return formatted.Text ?? throw new InvalidOperationException("the rewritten plan does not parse: " +
                                                                    string.Join("; ", formatted.Diagnostics.Select(d => d.Message)));
    }

    private readonly record struct PoolValues(int Instances, int Dp, int Tp, int Ep, int Batch, bool Overlap, bool Mtp);

    private static PoolValues Pool(CandidateSettings s, bool prefill) => prefill
        ? new(s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel, s.PrefillMaxBatchTokens, s.PrefillOverlap, false)
        : new(s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel, s.DecodeMaxBatch, s.DecodeOverlap, s.DecodeMtp);

    private static SettingSyntax? Find(BlockSyntax block, string name) =>
        block.Settings.LastOrDefault(s => string.Equals(s.Name.Name, name, StringComparison.Ordinal));

    private static BlockSyntax? Block(BlockSyntax block, string name) => Find(block, name)?.Block;

    private static void RelocateStrings(BlockSyntax block, Func<string, string> relocate, List<(int, int, string)> edits)
    {
        foreach (var setting in block.Settings)
        {
            foreach (var argument in setting.Arguments)
            {
                if (argument is StringLiteralSyntax s)
                {
                    Relocate(s, relocate, edits);
                }
            }

            if (setting.Block is { } child)
            {
                RelocateStrings(child, relocate, edits);
            }
        }
    }

    private static void Relocate(StringLiteralSyntax literal, Func<string, string> relocate, List<(int, int, string)> edits)
    {
        var moved = relocate(literal.Value);
        if (!string.Equals(moved, literal.Value, StringComparison.Ordinal))
        {
            edits.Add((literal.Range.Start, literal.Range.Length, "\"" + moved.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\""));
        }
    }
}
