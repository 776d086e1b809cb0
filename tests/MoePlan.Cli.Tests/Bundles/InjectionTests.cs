using System.Text;
using System.Text.Json;
using MoePlan.Core.Emit;
using MoePlan.Tests.Support;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// Names and strings with every kind of line break (CR, LF, NEL, U+2028, U+2029) cannot inject into generated files:
/// names are refused when the plan is bound (MP2050), and each output format's escaping rule round-trips free strings
/// through the real parser of that format (YamlDotNet, System.Text.Json, bash).
/// </summary>
public sealed class InjectionTests
{
    public static readonly string[] Separators = ["\r", "\n", "\u0085", "\u2028", "\u2029"];

    public static TheoryData<string> SeparatorData()
    {
        var data = new TheoryData<string>();
        foreach (var s in Separators)
        {
            data.Add(s);
        }

        return data;
    }

    /// <summary>Hostile payloads for each separator, then seeded random strings over an alphabet of separators, quotes,
    /// shell and YAML metacharacters and non-ASCII letters.</summary>
    private static List<string> Payloads()
    {
        var payloads = new List<string>();
        foreach (var s in Separators)
        {
            payloads.Add($"tiny{s}injected: true{s}#");
            payloads.Add($"x{s}'; touch pwned; '{s}\"$(id)\"`id`");
            payloads.Add($"{s}- a{s}---{s}key: {{a: 1}}");
            payloads.Add($"\\{s}\"\\\"{s}");
            payloads.Add(s);
        }

        const string alphabet = "ab :#-'\"\\$`{}[]|>&;*!%@\t\r\n\u0085\u2028\u2029\u00e9\u4e2d\u0001\u007f\ufeff";
        var random = new Random(19);
        for (var i = 0; i < 300; i++)
        {
            var text = new StringBuilder();
            for (var n = random.Next(1, 24); n > 0; n--)
            {
                text.Append(alphabet[random.Next(alphabet.Length)]);
            }

            payloads.Add(text.ToString());
        }

        return payloads;
    }

    [Fact]
    public void The_yaml_rule_parses_back_to_the_same_string_and_nothing_else()
    {
        foreach (var payload in Payloads())
        {
            var stream = new YamlStream();
            stream.Load(new StringReader($"# {OutputEscaping.Line(payload)}\nk: {OutputEscaping.Yaml(payload)}\n"));
            var document = Assert.Single(stream.Documents);
            var map = Assert.IsType<YamlMappingNode>(document.RootNode);
            var entry = Assert.Single(map.Children);
            Assert.Equal("k", ((YamlScalarNode)entry.Key).Value);
            Assert.Equal(payload, ((YamlScalarNode)entry.Value).Value);
        }
    }

    [Fact]
    public void The_json_rule_parses_back_to_the_same_string()
    {
        foreach (var payload in Payloads())
        {
            var literal = OutputEscaping.Json(payload);
            Assert.DoesNotContain(literal, OutputEscaping.NeedsEscape);
            using var document = JsonDocument.Parse("{\"k\": " + literal + "}");
            Assert.Equal(payload, document.RootElement.GetProperty("k").GetString());
        }
    }

    [Fact]
    public void The_shell_rule_gives_bash_exactly_one_word_with_the_same_bytes()
    {
        // One bash run prints every word NUL-terminated; a payload that split or expanded would shift or change them.
        var payloads = Payloads().Select(p => p.Replace("\0", "", StringComparison.Ordinal)).ToList();
        var script = new StringBuilder("set -eu\n");
        foreach (var payload in payloads)
        {
            script.Append("printf '%s\\0' ").Append(OutputEscaping.Shell(payload)).Append('\n');
        }

        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var file = Path.Combine(folder, "words.sh");
            var output = Path.Combine(folder, "words.out");
            File.WriteAllText(file, script.ToString(), new UTF8Encoding(false));
            var error = NginxFactAttribute.Run("bash", $"-c \"bash '{file}' > '{output}'\"", out var message);
            Assert.True(error is null, $"bash: {error} {message}");
            var words = Encoding.UTF8.GetString(File.ReadAllBytes(output)).Split('\0')[..^1];
            Assert.Equal(payloads, words);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void The_line_rule_keeps_comments_on_one_line_and_nginx_takes_only_plain_tokens()
    {
        foreach (var payload in Payloads())
        {
            Assert.DoesNotContain(OutputEscaping.Line(payload), OutputEscaping.NeedsEscape);
            if (payload.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not '.' and not '_' and not '-' and not ':' and not '/'))
            {
                Assert.Throws<ArgumentException>(() => OutputEscaping.Nginx(payload));
            }
        }

        Assert.Equal("node-01.example:8000/v1", OutputEscaping.Nginx("node-01.example:8000/v1"));
    }

    [Theory]
    [MemberData(nameof(SeparatorData))]
    public void A_deployment_name_with_a_line_break_is_refused_and_writes_nothing(string separator)
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var plan = Path.Combine(folder, "plan.moe");
            var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"))
                .Replace("deployment \"qwen1.5-moe-tiny\"", $"deployment \"tiny{separator}injected: true{separator}#\"", StringComparison.Ordinal);
            File.WriteAllText(plan, text);
            var output = Path.Combine(folder, "out");
            var (code, stdout, stderr) = CliRunner.Run("compile", plan, "-o", output);
            Assert.Equal(1, code);
            var all = stdout + stderr;
            if (separator == "\n")
            {
                // A plan's string ends on its line: LF is a syntax error before any name rule.
                Assert.Contains("error MP1002", all, StringComparison.Ordinal);
            }
            else
            {
                Assert.Contains("error MP2050", all, StringComparison.Ordinal);
                Assert.Contains("[hint: call it \"tiny-injected-true\"]", all, StringComparison.Ordinal);
                // The diagnostic itself stays on one line.
                Assert.Single(all.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("MP2050", StringComparison.Ordinal));
            }

            Assert.False(Directory.Exists(output));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(SeparatorData))]
    public void A_path_with_a_line_break_stays_inside_its_value_in_every_file(string separator)
    {
        // The model comes from a config.json in a folder whose name holds the separator; the path reaches plan.json and,
        // through it, the Kubernetes ConfigMap.
        var folder = CliRunner.TempFolder();
        var models = Path.Combine(folder, $"m{separator}injected: true{separator}#");
        Directory.CreateDirectory(models);
        try
        {
            File.Copy(TestData.PathOf("models", "Qwen3-235B-A22B.config.json"), Path.Combine(models, "Qwen3-235B-A22B.config.json"));
            var configPath = $"m{separator}injected: true{separator}#/Qwen3-235B-A22B.config.json";
            var trace = RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv").Replace('\\', '/');
            var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"))
                .Replace("model qwen3-235b-a22b", $"model from \"{configPath}\"", StringComparison.Ordinal)
                .Replace("data/azure_llm_inference_trace_code.csv", trace, StringComparison.Ordinal);
            var plan = Path.Combine(folder, "plan.moe");
            File.WriteAllText(plan, text);
            var output = Path.Combine(folder, "out");
            var (code, stdout, stderr) = CliRunner.Run(["compile", plan, "-o", output, .. BundleFiles.AllTargets]);
            if (separator == "\n")
            {
                // No plan string holds an LF (MP1002), so such a path cannot be named at all.
                Assert.Equal(1, code);
                Assert.Contains("error MP1002", stdout + stderr, StringComparison.Ordinal);
                Assert.False(Directory.Exists(output));
                return;
            }

            Assert.True(code == 0, stdout + stderr);

            var files = BundleFiles.Read(output);
            using var planJson = JsonDocument.Parse(files["plan.json"]);
            Assert.Equal(configPath, planJson.RootElement.GetProperty("model").GetProperty("config_json").GetString());
            var yamlFiles = 0;
            foreach (var (path, content) in files)
            {
                if (path.EndsWith(".yaml", StringComparison.Ordinal))
                {
                    foreach (var document in BundleFiles.YamlDocuments(content))
                    {
                        var keys = document!.AsObject().Select(p => p.Key).ToList();
                        Assert.DoesNotContain("injected", keys);
                        Assert.All(keys, k => Assert.Contains(k, new[] { "apiVersion", "kind", "metadata", "spec", "data", "all", "P", "D", "C", "pattern_path", "max_moe_layer_num", "enable_dynamic", "enable_dump" }));
                    }

                    yamlFiles++;
                }
                else if (path.EndsWith(".json", StringComparison.Ordinal))
                {
                    using (JsonDocument.Parse(content))
                    {
                    }
                }
                else if (path.EndsWith(".sh", StringComparison.Ordinal))
                {
                    var error = NginxFactAttribute.Run("bash", $"-n \"{Path.Combine(output, path)}\"", out var message);
                    Assert.True(error is null, $"{path}: bash -n: {error} {message}");
                }
            }

            // The ConfigMap carries plan.json byte for byte (its YAML block scalar holds no raw line break of its own).
            var configMap = BundleFiles.YamlDocuments(files["kubernetes/configmap.yaml"]).Single()!;
            Assert.Equal(files["plan.json"].TrimEnd('\n'), configMap["data"]!["plan.json"]!.GetValue<string>().TrimEnd('\n'));
            Assert.True(yamlFiles >= 3);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
