using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using MoePlan.Core.Binding;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Core.Inventory;

/// <summary>
/// Reads an inventory file (docs/bundles.md, "Inventory"):
/// <code>
/// nodes:
///   - host: gpu-a01
///     ip: 10.0.0.11
///     devices: 8
///     nics: [eth0]
///     ib_devices: [mlx5_0, mlx5_1]
///     pool: prefill        # optional
///     labels: {rack: r1}   # optional
/// </code>
/// Every problem is a located MP54xx diagnostic; nothing throws on bad input.
/// </summary>
public static partial class InventoryParser
{
    /// <summary>An inventory of thousands of nodes is a few hundred kilobytes.</summary>
    public const long MaxBytes = 4L * 1024 * 1024;

    public const int MaxDevices = 1024;

    private static readonly string[] TopKeys = ["nodes"];
    private static readonly string[] NodeKeys = ["host", "ip", "devices", "nics", "ib_devices", "pool", "labels"];

    public static (ClusterInventory? Inventory, ImmutableArray<Diagnostic> Diagnostics) Parse(string path, string text)
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
            return (null, [DiagnosticCodes.InventorySyntax.Create(YamlNodeText.Span(path, e.Start), e.Message)]);
        }

        var file = new SourceSpan(path, 0, 0, 1, 1);
        if (stream.Documents.Count != 1)
        {
            return (null, [DiagnosticCodes.InventoryShape.Create(file, "the inventory", "one YAML document", $"{stream.Documents.Count} documents")]);
        }

        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode top)
        {
            return (null, [DiagnosticCodes.InventoryShape.Create(YamlNodeText.Span(path, root.Start), "the inventory", "a mapping with `nodes`", YamlNodeText.Kind(root))]);
        }

        YamlNode? nodesNode = null;
        foreach (var (key, value) in top.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? "";
            if (name == "nodes")
            {
                nodesNode = value;
            }
            else
            {
                capped.Add(DiagnosticCodes.InventoryUnknownKey.Create(YamlNodeText.Span(path, key.Start), TextExcerpt.Of(name), "the inventory", string.Join(", ", TopKeys)));
            }
        }

        if (nodesNode is null)
        {
            capped.Add(DiagnosticCodes.InventoryMissingKey.Create(YamlNodeText.Span(path, top.Start), "nodes", "the inventory"));
            return (null, [.. diagnostics]);
        }

        if (nodesNode is not YamlSequenceNode list)
        {
            capped.Add(DiagnosticCodes.InventoryShape.Create(YamlNodeText.Span(path, nodesNode.Start), "`nodes`", "a list of nodes", YamlNodeText.Kind(nodesNode)));
            return (null, [.. diagnostics]);
        }

        if (list.Children.Count == 0)
        {
            capped.Add(DiagnosticCodes.InventoryNoNodes.Create(YamlNodeText.Span(path, list.Start)));
        }

        var nodes = ImmutableArray.CreateBuilder<InventoryNode>();
        for (var i = 0; i < list.Children.Count; i++)
        {
            if (Node(path, i, list.Children[i], capped) is { } node)
            {
                nodes.Add(node);
            }
        }

        return diagnostics.Any(d => d.IsError) ? (null, [.. diagnostics]) : (new ClusterInventory(path, nodes.ToImmutable()), [.. diagnostics]);
    }

    private static InventoryNode? Node(string path, int index, YamlNode yaml, ICollection<Diagnostic> diagnostics)
    {
        var where = $"node {index.ToString(CultureInfo.InvariantCulture)}";
        if (yaml is not YamlMappingNode map)
        {
            diagnostics.Add(DiagnosticCodes.InventoryShape.Create(YamlNodeText.Span(path, yaml.Start), where, "a mapping (host, ip, devices, ...)", YamlNodeText.Kind(yaml)));
            return null;
        }

        var errors = diagnostics.Count(d => d.IsError);
        string? host = null;
        string? address = null;
        int? devices = null;
        var nics = ImmutableArray<string>.Empty;
        var ib = ImmutableArray<string>.Empty;
        PoolRole? pool = null;
        var labels = ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);
        var spans = ImmutableDictionary.CreateBuilder<string, SourceSpan>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            var span = YamlNodeText.Span(path, value.Start);
            spans[key] = span;
            switch (key)
            {
                case "host":
                    if (Scalar(path, where + " `host`", value, diagnostics) is { } h)
                    {
                        if (NameRules.DeploymentNameProblem(h) is { } problem)
                        {
                            diagnostics.Add(DiagnosticCodes.InventoryInvalidHost.Create(span, TextExcerpt.Of(h), problem));
                        }
                        else
                        {
                            host = h;
                        }
                    }

                    break;
                case "ip":
                    if (Scalar(path, where + " `ip`", value, diagnostics) is { } ip)
                    {
                        if (IsIpv4(ip))
                        {
                            address = ip;
                        }
                        else
                        {
                            diagnostics.Add(DiagnosticCodes.InventoryInvalidAddress.Create(span, TextExcerpt.Of(ip)));
                        }
                    }

                    break;
                case "devices":
                    if (Scalar(path, where + " `devices`", value, diagnostics) is { } d)
                    {
                        if (d.Length <= 5 && d.All(char.IsAsciiDigit) && int.Parse(d, CultureInfo.InvariantCulture) is >= 1 and <= MaxDevices and var count)
                        {
                            devices = count;
                        }
                        else
                        {
                            diagnostics.Add(DiagnosticCodes.InventoryInvalidDevices.Create(span, TextExcerpt.Of(d)));
                        }
                    }

                    break;
                case "nics":
                    nics = Names(path, where, "nics", value, diagnostics);
                    break;
                case "ib_devices":
                    ib = Names(path, where, "ib_devices", value, diagnostics);
                    break;
                case "pool":
                    if (Scalar(path, where + " `pool`", value, diagnostics) is { } p)
                    {
                        pool = p switch
                        {
                            "prefill" => PoolRole.Prefill,
                            "decode" => PoolRole.Decode,
                            _ => null,
                        };
                        if (pool is null)
                        {
                            diagnostics.Add(DiagnosticCodes.InventoryInvalidPool.Create(span, TextExcerpt.Of(p)));
                        }
                    }

                    break;
                case "labels":
                    labels = Labels(path, where, value, diagnostics);
                    break;
                default:
                    diagnostics.Add(DiagnosticCodes.InventoryUnknownKey.Create(YamlNodeText.Span(path, keyNode.Start), TextExcerpt.Of(key), where, string.Join(", ", NodeKeys)));
                    break;
            }
        }

        var nodeSpan = YamlNodeText.Span(path, map.Start);
        foreach (var (key, present) in new[] { ("host", host is not null || spans.ContainsKey("host")), ("ip", address is not null || spans.ContainsKey("ip")), ("devices", devices is not null || spans.ContainsKey("devices")) })
        {
            if (!present)
            {
                diagnostics.Add(DiagnosticCodes.InventoryMissingKey.Create(nodeSpan, key, where));
            }
        }

        return diagnostics.Count(d => d.IsError) > errors || host is null || address is null || devices is null
            ? null
            : new InventoryNode(host, address, devices.Value, nics, ib, pool, labels, nodeSpan) { KeySpans = spans.ToImmutable() };
    }

    private static string? Scalar(string path, string where, YamlNode node, ICollection<Diagnostic> diagnostics)
    {
        if (node is YamlScalarNode { Value: { } value })
        {
            return value;
        }

        diagnostics.Add(DiagnosticCodes.InventoryShape.Create(YamlNodeText.Span(path, node.Start), where, "a single value", YamlNodeText.Kind(node)));
        return null;
    }

    private static ImmutableArray<string> Names(string path, string where, string key, YamlNode node, ICollection<Diagnostic> diagnostics)
    {
        // One name alone is accepted as a list of one.
        var items = node switch
        {
            YamlSequenceNode sequence => sequence.Children,
            YamlScalarNode => [node],
            _ => null,
        };
        if (items is null)
        {
            diagnostics.Add(DiagnosticCodes.InventoryShape.Create(YamlNodeText.Span(path, node.Start), $"{where} `{key}`", "a list of names", YamlNodeText.Kind(node)));
            return [];
        }

        var names = ImmutableArray.CreateBuilder<string>();
        foreach (var item in items)
        {
            if (Scalar(path, $"{where} `{key}` entry", item, diagnostics) is not { } name)
            {
                continue;
            }

            if (InterfaceName().IsMatch(name))
            {
                names.Add(name);
            }
            else
            {
                diagnostics.Add(DiagnosticCodes.InventoryInvalidInterface.Create(YamlNodeText.Span(path, item.Start), key, TextExcerpt.Of(name)));
            }
        }

        return names.ToImmutable();
    }

    private static ImmutableSortedDictionary<string, string> Labels(string path, string where, YamlNode node, ICollection<Diagnostic> diagnostics)
    {
        var labels = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        if (node is not YamlMappingNode map)
        {
            diagnostics.Add(DiagnosticCodes.InventoryShape.Create(YamlNodeText.Span(path, node.Start), $"{where} `labels`", "a mapping of label keys to values", YamlNodeText.Kind(node)));
            return labels.ToImmutable();
        }

        foreach (var (keyNode, valueNode) in map.Children)
        {
            var key = Scalar(path, $"{where} label key", keyNode, diagnostics);
            var value = Scalar(path, $"{where} label value", valueNode, diagnostics);
            if (key is null || value is null)
            {
                continue;
            }

            if (LabelKeyProblem(key) is { } keyProblem)
            {
                diagnostics.Add(DiagnosticCodes.InventoryInvalidLabel.Create(YamlNodeText.Span(path, keyNode.Start), TextExcerpt.Of(key), keyProblem));
            }
            else if (!LabelValue().IsMatch(value))
            {
                diagnostics.Add(DiagnosticCodes.InventoryInvalidLabel.Create(YamlNodeText.Span(path, valueNode.Start), TextExcerpt.Of(value),
                    "is not a label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"));
            }
            else
            {
                labels[key] = value;
            }
        }

        return labels.ToImmutable();
    }

    /// <summary>Kubernetes label keys: an optional DNS-1123 prefix and '/', then a name of at most 63 characters.</summary>
    private static string? LabelKeyProblem(string key)
    {
        var slash = key.LastIndexOf('/');
        var prefix = slash >= 0 ? key[..slash] : null;
        var name = slash >= 0 ? key[(slash + 1)..] : key;
        if (prefix is not null && NameRules.DeploymentNameProblem(prefix) is not null)
        {
            return "has a prefix that is not a DNS-1123 name of at most 63 characters";
        }

        return name.Length > 0 && LabelValue().IsMatch(name) ? null : "is not a label key (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, after an optional DNS prefix and '/')";
    }

    private static bool IsIpv4(string text)
    {
        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit)
            && (p.Length == 1 || p[0] != '0') && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.:-]{1,32}$")]
    private static partial Regex InterfaceName();

    [GeneratedRegex(@"^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
