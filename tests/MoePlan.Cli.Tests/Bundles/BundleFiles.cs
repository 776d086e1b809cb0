using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePlan.Tests.Support;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>Compiles sample plans into bundles on disk and reads them back for the bundle tests.</summary>
internal static class BundleFiles
{
    /// <summary>Every bundle target, as repeated --target options.</summary>
    public static readonly string[] AllTargets = ["--target", "vllm", "--target", "sglang", "--target", "omni-infer", "--target", "kubernetes", "--target", "nginx"];

    /// <summary>Compiles a plan into a new temporary folder; returns the folder and its files (relative path, '/' separators) with their text.</summary>
    public static (string Folder, SortedDictionary<string, string> Files) Compile(string plan, params string[] extra)
    {
        var folder = CliRunner.TempFolder();
        var (code, output, error) = CliRunner.Run(["compile", RepositoryPaths.PathOf(plan.Split('/')), "-o", folder, .. extra]);
        if (code != 0)
        {
            throw new InvalidOperationException($"compile {plan} exited {code}: {output}{error}");
        }

        return (folder, Read(folder));
    }

    public static SortedDictionary<string, string> Read(string folder)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.GetFiles(folder, "*", SearchOption.AllDirectories))
        {
            files[Path.GetRelativePath(folder, path).Replace('\\', '/')] = File.ReadAllText(path);
        }

        return files;
    }

    /// <summary>Every file of a bundle, one after another under "=== path ===" headers (the approved-file form).</summary>
    public static string Concatenate(IReadOnlyDictionary<string, string> files)
    {
        var text = new StringBuilder();
        foreach (var (path, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            text.Append("=== ").Append(path).Append(" ===\n").Append(content);
            if (!content.EndsWith('\n'))
            {
                text.Append('\n');
            }
        }

        return text.ToString();
    }

    public static void Delete(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, true);
        }
    }

    /// <summary>The documents of a YAML text as JSON (plain scalars typed as YAML 1.2's core schema types them).</summary>
    public static List<JsonNode?> YamlDocuments(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => ToJson(d.RootNode)).ToList();
    }

    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain)
        {
            return JsonValue.Create(value);
        }

        return value switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" or "True" or "TRUE" => JsonValue.Create(true),
            "false" or "False" or "FALSE" => JsonValue.Create(false),
            _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
            _ when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && value.Any(char.IsDigit) => JsonValue.Create(d),
            _ => JsonValue.Create(value),
        };
    }

    public static JsonElement Element(JsonNode? node) => JsonDocument.Parse(node?.ToJsonString() ?? "null").RootElement.Clone();
}
