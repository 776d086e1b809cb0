using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePlan.Cli.Files;
using MoePlan.Tests.Support;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>Compiles sample plans into bundles on disk and reads them back for the bundle tests.</summary>
internal static partial class BundleFiles
{
    /// <summary>Every bundle target, as repeated --target options.</summary>
    public static readonly string[] AllTargets = ["--target", "vllm", "--target", "sglang", "--target", "omni-infer", "--target", "kubernetes", "--target", "nginx"];

    /// <summary>Compiles a plan into a new temporary folder; returns the folder and its files (relative path, '/' separators) with their text.
    /// An aggregated plan (<c>serve { }</c>) has no omni-infer or moeplan-proxy form (MP5204, tested on its own): asked for
    /// every target, it gets the others.</summary>
    public static (string Folder, SortedDictionary<string, string> Files) Compile(string plan, params string[] extra)
    {
        if (IsAggregated(plan))
        {
            extra = WithoutDisaggregatedOnlyTargets(extra);
        }

        var folder = CliRunner.TempFolder();
        var (code, output, error) = CliRunner.Run(["compile", RepositoryPaths.PathOf(plan.Split('/')), "-o", folder, .. extra]);
        if (code != 0)
        {
            throw new InvalidOperationException($"compile {plan} exited {code}: {output}{error}");
        }

        return (folder, Read(folder));
    }

    /// <summary>The plan (a repository path) has one serve pool.</summary>
    public static bool IsAggregated(string plan) =>
        MoePlan.Core.Compilation.PlanCompiler.Compile(RepositoryPaths.PathOf(plan.Split('/')), new FileSystemSourceResolver(), throughVerification: true).Bound?.IsAggregated == true;

    /// <summary>The bundle's plan.json has one serve pool (aggregated serving).</summary>
    public static bool IsAggregated(SortedDictionary<string, string> files) =>
        JsonDocument.Parse(files["plan.json"]).RootElement.TryGetProperty("serve", out _);

    /// <summary>The options without <c>--target omni-infer</c> and <c>--target moeplan-proxy</c>.</summary>
    public static string[] WithoutDisaggregatedOnlyTargets(string[] options)
    {
        var kept = new List<string>();
        for (var i = 0; i < options.Length; i++)
        {
            if (options[i] == "--target" && i + 1 < options.Length && options[i + 1] is "omni-infer" or "moeplan-proxy")
            {
                i++;
                continue;
            }

            kept.Add(options[i]);
        }

        return [.. kept];
    }

    public static SortedDictionary<string, string> Read(string folder)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        // The ownership manifest lists the other files (its own test checks it); snapshots and checks read the bundle.
        foreach (var path in Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Where(p => Path.GetFileName(p) != BundleDirectory.ManifestName))
        {
            files[Path.GetRelativePath(folder, path).Replace('\\', '/')] = File.ReadAllText(path);
        }

        return files;
    }

    /// <summary>Above this many bytes an expert map (a file under placement/, or a ConfigMap data entry) is shortened.</summary>
    public const int ShortenMapsAbove = 4096;

    /// <summary>Above this many bytes any other file is shortened.</summary>
    public const int ShortenFilesAbove = 65536;

    /// <summary>
    /// Every file of a bundle folder, one after another under "=== path ===" headers (the approved-file form). Expert
    /// maps would make it megabytes no one reads, so a large one is replaced by a line with its size, line count,
    /// SHA-256 of its exact bytes and JSON shape (<see cref="Describe"/>); a ConfigMap keeps its small entries, and its
    /// header carries the SHA-256 of the whole file. Every byte thus stays under test. Other files are verbatim.
    /// </summary>
    public static string Snapshot(string folder)
    {
        var text = new StringBuilder();
        foreach (var path in Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p) != BundleDirectory.ManifestName)
            .Select(p => Path.GetRelativePath(folder, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal))
        {
            var bytes = File.ReadAllBytes(Path.Combine(folder, path));
            var content = Encoding.UTF8.GetString(bytes);
            if (ShortenedConfigMap(content) is { } configMap)
            {
                text.Append("=== ").Append(path).Append(" (data entries over ").Append(ShortenMapsAbove)
                    .Append(" bytes shortened; whole file ").Append(Facts(bytes)).Append(") ===\n").Append(configMap);
            }
            else if (bytes.Length > (path.StartsWith("placement/", StringComparison.Ordinal) ? ShortenMapsAbove : ShortenFilesAbove))
            {
                text.Append("=== ").Append(path).Append(" ===\n").Append(Describe(bytes)).Append('\n');
            }
            else
            {
                text.Append("=== ").Append(path).Append(" ===\n").Append(content);
            }

            if (text[^1] != '\n')
            {
                text.Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>One line standing for a shortened file or entry: "[shortened: N bytes, N lines, sha256 X; JSON {...}]".</summary>
    public static string Describe(byte[] bytes) => $"[shortened: {Facts(bytes)}; {Shape(bytes)}]";

    private static string Facts(byte[] bytes)
    {
        var lines = bytes.Count(b => b == (byte)'\n') + (bytes.Length > 0 && bytes[^1] != (byte)'\n' ? 1 : 0);
        return $"{bytes.Length} bytes, {lines} lines, sha256 {Convert.ToHexStringLower(SHA256.HashData(bytes))}";
    }

    /// <summary>The top level of a JSON text: its keys with scalar values, array lengths and object sizes.</summary>
    private static string Shape(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return "JSON " + Summary(document.RootElement, top: true);
        }
        catch (JsonException)
        {
            return "not JSON";
        }
    }

    private static string Summary(JsonElement element, bool top) => element.ValueKind switch
    {
        JsonValueKind.Object when top => "{" + string.Join(", ", element.EnumerateObject().Take(12).Select(p => $"{p.Name}: {Summary(p.Value, top: false)}"))
            + (element.EnumerateObject().Count() > 12 ? ", ..." : "") + "}",
        JsonValueKind.Object => $"{{{element.EnumerateObject().Count()} keys}}",
        JsonValueKind.Array => $"[{element.GetArrayLength()}]",
        JsonValueKind.String => element.GetString()!.Length <= 40 ? element.GetRawText() : "string",
        _ => element.GetRawText(),
    };

    /// <summary>
    /// A Kubernetes ConfigMap (one YAML document) with each literal data entry over <see cref="ShortenMapsAbove"/> bytes
    /// replaced by its <see cref="Describe"/> line, whose hash is that of the entry's value (so equal to the hash of the
    /// placement file it carries); null when the text is no such ConfigMap or has no entry that large.
    /// </summary>
    private static string? ShortenedConfigMap(string yaml)
    {
        if (!yaml.Contains("\nkind: ConfigMap\n", StringComparison.Ordinal))
        {
            return null;
        }

        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("data"), out var dataNode) || dataNode is not YamlMappingNode data)
        {
            return null;
        }

        var values = data.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => (c.Value as YamlScalarNode)?.Value, StringComparer.Ordinal);
        var ending = yaml.EndsWith('\n') ? "\n" : "";
        var lines = (ending.Length > 0 ? yaml[..^1] : yaml).Split('\n');
        var result = new StringBuilder();
        var inData = false;
        var shortened = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length > 0 && line[0] != ' ' && line[0] != '#')
            {
                inData = line == "data:";
            }
            else if (inData && EntryHeader().Match(line) is { Success: true } header
                && values.GetValueOrDefault(header.Groups[1].Value) is { } value && Encoding.UTF8.GetByteCount(value) > ShortenMapsAbove)
            {
                // A literal block: the lines after its key that are blank or indented deeper than the key.
                var end = i + 1;
                while (end < lines.Length && (lines[end].Length == 0 || lines[end].StartsWith("   ", StringComparison.Ordinal)))
                {
                    end++;
                }

                result.Append("  ").Append(header.Groups[1].Value).Append(": ").Append(Describe(Encoding.UTF8.GetBytes(value)));
                result.Append(end < lines.Length ? "\n" : ending);
                i = end - 1;
                shortened++;
                continue;
            }

            result.Append(line).Append(i < lines.Length - 1 ? "\n" : ending);
        }

        return shortened > 0 ? result.ToString() : null;
    }

    [GeneratedRegex(@"^  ([^\s:#][^:]*): \|[-+]?[1-9]?[-+]?$")]
    private static partial Regex EntryHeader();

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
