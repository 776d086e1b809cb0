using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Core.Calibration;

/// <summary>
/// Reads a profile <see cref="CalibrationProfileWriter.Yaml"/> wrote (docs/calibration.md, "Profiles"). The free factors'
/// values are what plans use; each must lie within its bounds. The cases (with their leave-one-out errors) set the
/// intervals of the plans that use the profile. Every problem is a located MP582x diagnostic in the profile.
/// </summary>
public static class CalibrationProfileReader
{
    public static readonly ImmutableArray<string> Families = ["Ascend", "Blackwell", "Hopper"];

    private static readonly string[] TopKeys = ["schema", "family", "measurements", "fit", "factors", "fixed", "indistinguishable", "cases"];
    private static readonly string[] FactorKeys = ["value", "family", "lower", "upper", "identified"];
    private static readonly string[] CaseKeys = ["name", "plan", "hardware", "metric", "regime", "measured", "predicted", "error", "loo_error", "batch_per_device", "tokens_per_device", "source"];

    public static (CalibrationProfile? Profile, ImmutableArray<Diagnostic> Diagnostics) Parse(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        var diagnostics = new List<Diagnostic>();
        var capped = new CappedDiagnostics(diagnostics);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            return (null, [DiagnosticCodes.ProfileSyntax.Create(YamlNodeText.Span(path, e.Start), e.Message)]);
        }

        var file = new SourceSpan(path, 0, 0, 1, 1);
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode top)
        {
            return (null, [DiagnosticCodes.ProfileShape.Create(file, "a calibration profile", "one YAML mapping (schema, family, factors, cases)",
                stream.Documents.Count == 1 ? YamlNodeText.Kind(stream.Documents[0].RootNode) : $"{stream.Documents.Count} documents")]);
        }

        var keys = new Dictionary<string, (YamlNode Key, YamlNode Value)>(StringComparer.Ordinal);
        foreach (var (key, value) in top.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? "";
            if (TopKeys.Contains(name, StringComparer.Ordinal))
            {
                keys[name] = (key, value);
            }
            else
            {
                capped.Add(DiagnosticCodes.ProfileUnknownKey.Create(Span(path, key), TextExcerpt.Of(name), "a calibration profile", string.Join(", ", TopKeys)));
            }
        }

        foreach (var required in new[] { "schema", "family", "factors", "cases" })
        {
            if (!keys.ContainsKey(required))
            {
                capped.Add(DiagnosticCodes.ProfileMissingKey.Create(Span(path, top), required, "the calibration profile"));
            }
        }

        if (keys.TryGetValue("schema", out var schema) && Scalar(path, "`schema`", schema.Value, capped) is { } s && s != CalibrationProfile.Schema)
        {
            capped.Add(DiagnosticCodes.ProfileSchema.Create(Span(path, schema.Value), TextExcerpt.Of(s), CalibrationProfile.Schema));
        }

        string? family = null;
        if (keys.TryGetValue("family", out var familyNode) && Scalar(path, "`family`", familyNode.Value, capped) is { } f)
        {
            if (Families.Contains(f, StringComparer.Ordinal))
            {
                family = f;
            }
            else
            {
                capped.Add(DiagnosticCodes.ProfileInvalidValue.Create(Span(path, familyNode.Value), "family", TextExcerpt.Of(f), $"a hardware family ({string.Join(", ", Families)})"));
            }
        }

        var measurementFiles = ImmutableArray<string>.Empty;
        if (keys.TryGetValue("measurements", out var files))
        {
            if (files.Value is YamlSequenceNode list)
            {
                measurementFiles = [.. list.Children.Select(n => Scalar(path, "a `measurements` entry", n, capped)).OfType<string>()];
            }
            else
            {
                capped.Add(DiagnosticCodes.ProfileShape.Create(Span(path, files.Value), "`measurements`", "a list of files", YamlNodeText.Kind(files.Value)));
            }
        }

        var prior = family is null ? EfficiencyFactors.Hopper : EfficiencyFactors.For(family);
        var factors = prior;
        var fitted = ImmutableArray.CreateBuilder<FittedFactor>();
        if (keys.TryGetValue("factors", out var factorsNode))
        {
            if (factorsNode.Value is YamlMappingNode map)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (keyNode, valueNode) in map.Children)
                {
                    var name = (keyNode as YamlScalarNode)?.Value ?? "";
                    if (FreeFactor.Find(name) is not { } factor)
                    {
                        capped.Add(DiagnosticCodes.ProfileUnknownKey.Create(Span(path, keyNode), TextExcerpt.Of(name), "`factors`", string.Join(", ", FreeFactor.All.Select(x => x.Name))));
                        continue;
                    }

                    seen.Add(name);
                    if (Factor(path, factor, valueNode, capped) is { } read)
                    {
                        factors = factor.With(factors, read.Value);
                        fitted.Add(read with { Prior = factor.Get(prior) });
                    }
                }

                foreach (var missing in FreeFactor.All.Where(x => !seen.Contains(x.Name)))
                {
                    capped.Add(DiagnosticCodes.ProfileMissingKey.Create(Span(path, map), missing.Name, "`factors`"));
                }
            }
            else
            {
                capped.Add(DiagnosticCodes.ProfileShape.Create(Span(path, factorsNode.Value), "`factors`", "a mapping of factor names", YamlNodeText.Kind(factorsNode.Value)));
            }
        }

        var indistinguishable = ImmutableArray.CreateBuilder<EfficiencyFactors>();
        if (keys.TryGetValue("indistinguishable", out var setsNode))
        {
            if (setsNode.Value is YamlSequenceNode sets)
            {
                foreach (var set in sets.Children)
                {
                    if (FactorSet(path, set, factors, capped) is { } read)
                    {
                        indistinguishable.Add(read);
                    }
                }
            }
            else
            {
                capped.Add(DiagnosticCodes.ProfileShape.Create(Span(path, setsNode.Value), "`indistinguishable`", "a list of factor sets", YamlNodeText.Kind(setsNode.Value)));
            }
        }

        var cases = ImmutableArray.CreateBuilder<ProfileCase>();
        if (keys.TryGetValue("cases", out var casesNode))
        {
            if (casesNode.Value is YamlSequenceNode list)
            {
                for (var i = 0; i < list.Children.Count; i++)
                {
                    if (Case(path, i, list.Children[i], capped) is { } c)
                    {
                        cases.Add(c);
                    }
                }
            }
            else
            {
                capped.Add(DiagnosticCodes.ProfileShape.Create(Span(path, casesNode.Value), "`cases`", "a list of cases", YamlNodeText.Kind(casesNode.Value)));
            }
        }

        capped.Complete(file);
        if (diagnostics.Any(d => d.IsError) || family is null)
        {
            return (null, [.. diagnostics]);
        }

        // The profile's order of factors is the writer's; keep the canonical one whatever the file's order.
        var ordered = FreeFactor.All.Select(x => fitted.First(f => f.Factor == x)).ToImmutableArray();
        return (new CalibrationProfile(family, factors, ordered, cases.ToImmutable(), measurementFiles) { Indistinguishable = indistinguishable.ToImmutable() },
            [.. diagnostics]);
    }

    /// <summary>An <c>indistinguishable</c> entry: every free factor by name, each within its bounds.</summary>
    private static EfficiencyFactors? FactorSet(string path, YamlNode node, EfficiencyFactors fitted, ICollection<Diagnostic> diagnostics)
    {
        const string Where = "an `indistinguishable` entry";
        if (node is not YamlMappingNode map)
        {
            diagnostics.Add(DiagnosticCodes.ProfileShape.Create(Span(path, node), Where, "a mapping of factor names to values", YamlNodeText.Kind(node)));
            return null;
        }

        var errors = diagnostics.Count;
        var set = fitted;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var name = (keyNode as YamlScalarNode)?.Value ?? "";
            if (FreeFactor.Find(name) is not { } factor)
            {
                diagnostics.Add(DiagnosticCodes.ProfileUnknownKey.Create(Span(path, keyNode), TextExcerpt.Of(name), Where, string.Join(", ", FreeFactor.All.Select(x => x.Name))));
                continue;
            }

            seen.Add(name);
            if (Scalar(path, $"{Where} `{name}`", valueNode, diagnostics) is not { } text)
            {
                continue;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= factor.Lower && v <= factor.Upper)
            {
                set = factor.With(set, v);
            }
            else
            {
                diagnostics.Add(DiagnosticCodes.ProfileInvalidValue.Create(Span(path, valueNode), factor.Name, TextExcerpt.Of(text),
                    $"a number from {factor.Lower.ToString(CultureInfo.InvariantCulture)} to {factor.Upper.ToString(CultureInfo.InvariantCulture)} (the factor's bounds: {factor.Why})"));
            }
        }

        foreach (var missing in FreeFactor.All.Where(x => !seen.Contains(x.Name)))
        {
            diagnostics.Add(DiagnosticCodes.ProfileMissingKey.Create(Span(path, map), missing.Name, Where));
        }

        return diagnostics.Count > errors ? null : set;
    }

    private static FittedFactor? Factor(string path, FreeFactor factor, YamlNode node, ICollection<Diagnostic> diagnostics)
    {
        var where = $"factor `{factor.Name}`";
        if (node is not YamlMappingNode map)
        {
            diagnostics.Add(DiagnosticCodes.ProfileShape.Create(Span(path, node), where, "a mapping (value, family, lower, upper, identified)", YamlNodeText.Kind(node)));
            return null;
        }

        double? value = null;
        var identified = true;
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            switch (key)
            {
                case "value":
                    if (Scalar(path, where + " `value`", valueNode, diagnostics) is { } text)
                    {
                        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= factor.Lower && v <= factor.Upper)
                        {
                            value = v;
                        }
                        else
                        {
                            diagnostics.Add(DiagnosticCodes.ProfileInvalidValue.Create(Span(path, valueNode), factor.Name, TextExcerpt.Of(text),
                                $"a number from {factor.Lower.ToString(CultureInfo.InvariantCulture)} to {factor.Upper.ToString(CultureInfo.InvariantCulture)} (the factor's bounds: {factor.Why})"));
                        }
                    }

                    break;
                case "identified":
                    identified = Scalar(path, where + " `identified`", valueNode, diagnostics) != "false";
                    break;
                case "family" or "lower" or "upper":
                    // Written for the reader; the bounds are the product's, not the file's.
                    break;
                default:
                    diagnostics.Add(DiagnosticCodes.ProfileUnknownKey.Create(Span(path, keyNode), TextExcerpt.Of(key), where, string.Join(", ", FactorKeys)));
                    break;
            }
        }

        if (value is null && !map.Children.Keys.Any(k => (k as YamlScalarNode)?.Value == "value"))
        {
            diagnostics.Add(DiagnosticCodes.ProfileMissingKey.Create(Span(path, map), "value", where));
        }

        return value is { } found ? new FittedFactor(factor, found, found, identified) : null;
    }

    private static ProfileCase? Case(string path, int index, YamlNode node, ICollection<Diagnostic> diagnostics)
    {
        var where = $"case {(index + 1).ToString(CultureInfo.InvariantCulture)}";
        if (node is not YamlMappingNode map)
        {
            diagnostics.Add(DiagnosticCodes.ProfileShape.Create(Span(path, node), where, "a mapping (name, metric, measured, ...)", YamlNodeText.Kind(node)));
            return null;
        }

        var errors = diagnostics.Count;
        var values = new Dictionary<string, (string Text, YamlNode Node)>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            if (!CaseKeys.Contains(key, StringComparer.Ordinal))
            {
                diagnostics.Add(DiagnosticCodes.ProfileUnknownKey.Create(Span(path, keyNode), TextExcerpt.Of(key), where, string.Join(", ", CaseKeys)));
            }
            else if (Scalar(path, $"{where} `{key}`", valueNode, diagnostics) is { } text)
            {
                values[key] = (text, valueNode);
            }
        }

        string? Text(string key)
        {
            if (values.TryGetValue(key, out var v))
            {
                return v.Text;
            }

            diagnostics.Add(DiagnosticCodes.ProfileMissingKey.Create(Span(path, map), key, where));
            return null;
        }

        double? Number(string key, bool optional = false)
        {
            if (optional && !values.ContainsKey(key))
            {
                return null;
            }

            if (Text(key) is not { } text)
            {
                return null;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v))
            {
                return v;
            }

            diagnostics.Add(DiagnosticCodes.ProfileInvalidValue.Create(Span(path, values[key].Node), key, TextExcerpt.Of(text), "a number"));
            return null;
        }

        var name = Text("name");
        var plan = Text("plan");
        var hardware = Text("hardware");
        var metricName = Text("metric");
        var metric = metricName is null ? null : CostMetric.Find(metricName);
        if (metricName is not null && metric is null)
        {
            diagnostics.Add(DiagnosticCodes.ProfileInvalidValue.Create(Span(path, values["metric"].Node), "metric", TextExcerpt.Of(metricName), $"a metric ({string.Join(", ", CostMetric.Names)})"));
        }

        var measured = Number("measured");
        var predicted = Number("predicted");
        var loo = Number("loo_error", optional: true);
        var batch = Number("batch_per_device");
        var tokens = Number("tokens_per_device");
        var source = Text("source");
        if (measured is <= 0 && values.TryGetValue("measured", out var m))
        {
            diagnostics.Add(DiagnosticCodes.ProfileInvalidValue.Create(Span(path, m.Node), "measured", TextExcerpt.Of(m.Text), "a positive number"));
        }

        return diagnostics.Count > errors || name is null || plan is null || hardware is null || metric is null || measured is not { } me ||
               predicted is not { } pr || batch is not { } b || tokens is not { } t || source is null
            ? null
            : new ProfileCase(name, plan, hardware, metric.Name, metric.Regime, me, pr, loo, b, t, source);
    }

    private static string? Scalar(string path, string where, YamlNode node, ICollection<Diagnostic> diagnostics)
    {
        if (node is YamlScalarNode { Value: { } value })
        {
            return value;
        }

        diagnostics.Add(DiagnosticCodes.ProfileShape.Create(Span(path, node), where, "a single value", YamlNodeText.Kind(node)));
        return null;
    }

    private static SourceSpan Span(string path, YamlNode node) => YamlNodeText.Span(path, node.Start);
}
