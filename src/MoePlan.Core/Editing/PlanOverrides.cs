using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Parsing;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.Core.Editing;

/// <summary>One <c>--set PATH=VALUE</c>: a dotted path of blocks ending in a setting, and the setting's new text.</summary>
public sealed record PlanOverride(string Path, string Value, string Original);

/// <summary>
/// <c>--set PATH=VALUE</c> on any verb that reads a plan: the plan's text with those settings rewritten in place through
/// the syntax tree (comments, lets and every other setting kept), then compiled as usual, so a bad value is the
/// ordinary diagnostic at the setting's line. Paths are the blocks' names (<c>decode.parallel.ep</c>,
/// <c>workload.arrivals</c>, <c>cluster.nodes</c>) or the names a <c>sweep</c> block uses (<c>decode.ep</c>,
/// <c>decode.overlap</c>, <c>decode.max_batch</c>, where a plain number means per device, as in a sweep).
/// </summary>
public static class PlanOverrides
{
    /// <summary>Parses <c>PATH=VALUE</c> arguments; MP5600 for one without a path or a value.</summary>
    public static (ImmutableArray<PlanOverride> Overrides, ImmutableArray<Diagnostic> Diagnostics) Parse(IEnumerable<string> arguments)
    {
        var overrides = ImmutableArray.CreateBuilder<PlanOverride>();
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        foreach (var argument in arguments)
        {
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var path = equals < 0 ? "" : argument[..equals].Trim();
            var value = equals < 0 ? "" : argument[(equals + 1)..].Trim();
            if (equals < 0 || path.Length == 0 || value.Length == 0)
            {
                diagnostics.Add(DiagnosticCodes.MalformedOverride.Create(null, TextExcerpt.Of(argument), "expected PATH=VALUE, e.g. `decode.max_batch=64` or `workload.arrivals=poisson 8/s`"));
            }
            else if (value.Any(c => c is '{' or '}' or '#' || IsControlOrLineBreak(c)))
            {
                // One line of arguments: a value cannot open a block, start a comment or end the setting's line.
                diagnostics.Add(DiagnosticCodes.MalformedOverride.Create(null, TextExcerpt.Of(argument), "a value is one line of arguments, without `{`, `}`, `#` or control characters"));
            }
            else
            {
                overrides.Add(new PlanOverride(path, value, argument));
            }
        }

        return (overrides.ToImmutable(), diagnostics.ToImmutable());
    }

    /// <summary>
    /// The plan's text with the overrides applied, or null with MP5601 for a path the plan's language does not have. A
    /// text that does not parse is returned unchanged (compiling it reports why).
    /// </summary>
    public static (string? Text, ImmutableArray<Diagnostic> Diagnostics) Apply(string text, string displayPath, IReadOnlyList<PlanOverride> overrides)
    {
        if (overrides.Count == 0)
        {
            return (text, []);
        }

        var parsed = MoeParser.Parse(text, displayPath);
        if (parsed.Syntax?.Statements.OfType<DeploymentSyntax>().FirstOrDefault() is not { } deployment)
        {
            return (text, []);
        }

        var edits = new List<(int Start, int Length, string Text)>();
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        // The same setting given twice (`decode.ep` and `decode.parallel.ep` included): the last one wins, as on a
        // command line; two edits of one range would garble it.
        var effective = overrides
            .Select((o, i) => (Override: o, Index: i, Key: string.Join('.', Canonical(o.Path, o.Value).Segments)))
            .GroupBy(e => e.Key, StringComparer.Ordinal)
            .Select(g => g.Last())
            .OrderBy(e => e.Index)
            .Select(e => e.Override);
        foreach (var o in effective)
        {
            if (Edit(deployment, o) is { } problem)
            {
                diagnostics.Add(DiagnosticCodes.UnknownOverridePath.Create(null, o.Original, problem));
            }
        }

        if (diagnostics.Count > 0)
        {
            return (null, diagnostics.ToImmutable());
        }

        foreach (var (start, length, replacement) in edits.OrderByDescending(e => e.Start))
        {
            text = text[..start] + replacement + text[(start + length)..];
        }

        return (text, []);

        string? Edit(DeploymentSyntax deployment, PlanOverride o)
        {
            var (segments, value) = Canonical(o.Path, o.Value);
            var block = deployment.Body;
            var kind = LanguageSchema.Deployment;
            var where = "the deployment";
            for (var i = 0; i < segments.Length; i++)
            {
                var name = segments[i];
                var known = LanguageSchema.SettingNames(kind);
                if (!known.Contains(name))
                {
                    return $"{where} has no setting `{name}`{Suggestions.DidYouMean(name, known)}";
                }

                var setting = block.Settings.LastOrDefault(s => s.Name.Name == name);
                if (i < segments.Length - 1)
                {
                    if (setting?.Block is not { } child)
                    {
                        return $"{where} has no `{name} {{ }}` block to set `{string.Join('.', segments[(i + 1)..])}` in";
                    }

                    block = child;
                    kind = LanguageSchema.ChildBlockKind(kind, name);
                    where = $"`{string.Join('.', segments[..(i + 1)])}`";
                    continue;
                }

                if (setting is null)
                {
                    // Before the block's closing brace, on its line: the lines after keep their numbers, so
                    // diagnostics still point at the file as it is on disk.
                    edits.Add((block.Range.Start + block.Range.Length - 1, 0, $"  {name} {value} "));
                }
                else
                {
                    var start = setting.Name.Range.Start + setting.Name.Range.Length;
                    edits.Add((start, setting.Range.Start + setting.Range.Length - start, " " + value));
                }
            }

            return null;
        }
    }

    /// <summary>A sweep name (<c>decode.ep</c>, <c>decode.overlap</c>, <c>decode.max_batch=64</c>) as the setting's path and text.</summary>
    private static (string[] Segments, string Value) Canonical(string path, string value)
    {
        var segments = path.Split('.');
        if (segments.Length == 2 && segments[0] is "prefill" or "decode")
        {
            var pool = segments[0];
            switch (segments[1])
            {
                case "dp" or "tp" or "ep":
                    return ([pool, "parallel", segments[1]], value);
                case "overlap":
                    return ([pool, "microbatch_overlap"], value);
                case "max_batch" or "max_batch_tokens" when int.TryParse(value, out _):
                    return (segments, value + " per device");
            }
        }

        return (segments, value);
    }

    private static bool IsControlOrLineBreak(char c) => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085';
}
