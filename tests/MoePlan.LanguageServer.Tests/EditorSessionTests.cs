using System.Text.Json.Nodes;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.LanguageServer.Tests;

/// <summary>The server driven as an editor drives it: initialize, open a broken plan, fix it, hover, complete, format,
/// apply quick fixes, go to definitions, shut down.</summary>
public sealed class EditorSessionTests : IDisposable
{
    /// <summary>Lines (0-based): 0 let, 13 `decode {`, 15 the misspelt `paralel`, 16 `max_batch batch per device`.</summary>
    private const string Broken = """
        let batch = 2 * 8
        deployment "lsp" {
          engine vllm
          model qwen1.5-moe-a2.7b
          hardware ascend-910c
          cluster { nodes 1  devices_per_node 4 }

          prefill {
            instances 1
            parallel { dp 4  ep 4 }
            max_batch_tokens 4096 per device
          }

          decode {
            instances 1
            paralel { dp 4  ep 4 }
            max_batch batch per device
            context 2048
          }
          placement { algorithm moeplan  redundant_experts 4  loads synthetic seed 15 }
          workload { arrivals constant 4/s  input fixed 256  output fixed 32  requests 200  seed 4 }
        }

        """;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "moeplan-lsp-" + Guid.NewGuid().ToString("N"));

    public EditorSessionTests() => Directory.CreateDirectory(_folder);

    private static string Fixed => Broken.Replace("paralel", "parallel", StringComparison.Ordinal);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task An_editor_session_gets_diagnostics_hover_completion_formatting_and_fixes()
    {
        await using var client = new LspTestClient();
        var uri = new Uri(Path.Combine(_folder, "plan.moe")).AbsoluteUri;

        var init = await client.RequestAsync("initialize", new JsonObject { ["processId"] = null, ["rootUri"] = null, ["capabilities"] = new JsonObject() });
        var capabilities = init["result"]!["capabilities"]!;
        Assert.True((bool)capabilities["hoverProvider"]!);
        Assert.True((bool)capabilities["documentFormattingProvider"]!);
        await client.NotifyAsync("initialized", []);

        // Open the broken plan: MP2001 on `paralel` (line 15, characters 4 to 11), with its suggestion.
        await client.NotifyAsync("textDocument/didOpen", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = Broken },
        });
        var opened = client.NextDiagnostics(uri);
        var unknown = opened["diagnostics"]!.AsArray().Single(d => (string?)d!["code"] == "MP2001")!;
        Assert.Equal(1, (int)unknown["severity"]!);
        Assert.Equal(Range(15, 4, 15, 11), unknown["range"]!.ToJsonString());
        Assert.Contains("did you mean `parallel`?", (string?)unknown["message"], StringComparison.Ordinal);

        // The quick fix replaces the name with the suggestion.
        var actions = (await client.RequestAsync("textDocument/codeAction", new JsonObject
        {
            ["textDocument"] = LspTestClient.Document(uri),
            ["range"] = JsonNode.Parse(Range(15, 4, 15, 11)),
            ["context"] = new JsonObject { ["diagnostics"] = new JsonArray(unknown.DeepClone()) },
        }))["result"]!.AsArray();
        var replace = actions.Single(a => (string?)a!["title"] == "Replace with `parallel`")!;
        var edit = replace["edit"]!["changes"]![uri]![0]!;
        Assert.Equal("parallel", (string?)edit["newText"]);
        Assert.Equal(Range(15, 4, 15, 11), edit["range"]!.ToJsonString());

        // The editor applies it: no error left.
        await client.NotifyAsync("textDocument/didChange", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = uri, ["version"] = 2 },
            ["contentChanges"] = new JsonArray(new JsonObject { ["text"] = Fixed }),
        });
        var changed = client.NextDiagnostics(uri);
        Assert.Equal(2, (int)changed["version"]!);
        Assert.DoesNotContain(changed["diagnostics"]!.AsArray(), d => (int)d!["severity"]! == 1);

        // Hover on a let name used as a value: 2 * 8 = 16.
        var onLet = await client.RequestAsync("textDocument/hover", LspTestClient.At(uri, 16, 15));
        var letText = (string?)onLet["result"]!["contents"]!["value"];
        Assert.Contains("**`let batch`** = `16`", letText, StringComparison.Ordinal);

        // Hover on the setting: its meaning and its value after the arithmetic.
        var onSetting = (string?)(await client.RequestAsync("textDocument/hover", LspTestClient.At(uri, 16, 6)))["result"]!["contents"]!["value"];
        Assert.Contains("**`max_batch`** in `decode`: running sequences", onSetting, StringComparison.Ordinal);
        Assert.Contains("value: `16` (a plain number)", onSetting, StringComparison.Ordinal);

        // Hover on the pool: per-rank memory and the cost model's step time (as `moeplan cost` reports it).
        var onPool = (string?)(await client.RequestAsync("textDocument/hover", LspTestClient.At(uri, 13, 4)))["result"]!["contents"]!["value"];
        Assert.Contains("per-rank memory (GB)", onPool, StringComparison.Ordinal);
        Assert.Contains("| weights |", onPool, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_folder, "plan.moe"), Fixed);
        var costOutput = new StringWriter();
        Assert.Equal(0, Cli.MoePlanCli.Run(["cost", Path.Combine(_folder, "plan.moe"), "--format", "json"], costOutput, new StringWriter()));
        var cost = JsonNode.Parse(costOutput.ToString())!;
        var decodeStepMs = FindNumber(cost, "decode", "step_ms");
        Assert.Contains($"step time: {decodeStepMs:0.00} ms", onPool, StringComparison.Ordinal);

        // Completion: setting names of the block at a line start; catalog names after `model`; units after a number.
        var settings = Labels(await client.RequestAsync("textDocument/completion", LspTestClient.At(uri, 17, 4)));
        Assert.Contains("max_batch", settings);
        Assert.Contains("mtp", settings);
        Assert.DoesNotContain("nodes", settings);
        var models = Labels(await client.RequestAsync("textDocument/completion", LspTestClient.At(uri, 3, 8)));
        Assert.Contains("deepseek-v3", models);
        Assert.Contains("qwen3-235b-a22b", models);
        var units = Labels(await client.RequestAsync("textDocument/completion", LspTestClient.At(uri, 17, 16)));
        Assert.Contains("ms", units);
        Assert.Contains("GiB", units);

        // Go to definition: from the use of `batch` to its let (line 0, characters 4 to 9).
        var definition = (await client.RequestAsync("textDocument/definition", LspTestClient.At(uri, 16, 15)))["result"]!;
        Assert.Equal(uri, (string?)definition["uri"]);
        Assert.Equal(Range(0, 4, 0, 9), definition["range"]!.ToJsonString());

        // Formatting: the canonical sample plan with its indentation spoiled comes back as it is in the repository.
        var sample = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"));
        var spoiled = sample.Replace("\n  ", "\n \t  ", StringComparison.Ordinal);
        var sampleUri = new Uri(Path.Combine(_folder, "tiny.moe")).AbsoluteUri;
        await client.NotifyAsync("textDocument/didOpen", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = sampleUri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = spoiled },
        });
        var formatting = (await client.RequestAsync("textDocument/formatting", new JsonObject
        {
            ["textDocument"] = LspTestClient.Document(sampleUri),
            ["options"] = new JsonObject { ["tabSize"] = 2, ["insertSpaces"] = true },
        }))["result"]!.AsArray();
        Assert.Equal(sample, (string?)Assert.Single(formatting)!["newText"]);

        Assert.Equal(0, await client.ShutdownAsync());
    }

    [Fact]
    public async Task The_redundant_experts_hint_is_a_quick_fix_that_clears_MP3004()
    {
        await using var client = new LspTestClient();
        await client.RequestAsync("initialize", new JsonObject { ["capabilities"] = new JsonObject() });
        var text = File.ReadAllText(RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid", "MP3004-experts-not-divisible.moe"));
        var uri = new Uri(Path.Combine(_folder, "mp3004.moe")).AbsoluteUri;
        await client.NotifyAsync("textDocument/didOpen", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = text },
        });

        // 256 routed + 30 redundant = 286 slots; the smallest count >= 30 that EP 16 and EP 32 both divide is 32 (288 = 9 x 32).
        var diagnostic = client.NextDiagnostics(uri)["diagnostics"]!.AsArray().First(d => (string?)d!["code"] == "MP3004")!;
        Assert.StartsWith("use 32 redundant experts", (string?)diagnostic["data"]!["hint"], StringComparison.Ordinal);
        var actions = (await client.RequestAsync("textDocument/codeAction", new JsonObject
        {
            ["textDocument"] = LspTestClient.Document(uri),
            ["range"] = diagnostic["range"]!.DeepClone(),
            ["context"] = new JsonObject { ["diagnostics"] = new JsonArray(diagnostic.DeepClone()) },
        }))["result"]!.AsArray();
        var fix = actions.First(a => (string?)a!["title"] == "Use 32 redundant experts")!;
        var edited = Apply(text, fix["edit"]!["changes"]![uri]!.AsArray());
        Assert.Contains("placement { redundant_experts 32 }", edited, StringComparison.Ordinal);

        await client.NotifyAsync("textDocument/didChange", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = uri, ["version"] = 2 },
            ["contentChanges"] = new JsonArray(new JsonObject { ["text"] = edited }),
        });
        Assert.DoesNotContain(client.NextDiagnostics(uri)["diagnostics"]!.AsArray(), d => (string?)d!["code"] == "MP3004");
        Assert.Equal(0, await client.ShutdownAsync());
    }

    [Fact]
    public async Task Diagnostics_of_an_imported_file_are_published_to_that_file()
    {
        await using var client = new LspTestClient();
        await client.RequestAsync("initialize", new JsonObject { ["capabilities"] = new JsonObject() });
        var common = Path.Combine(_folder, "common.moe");
        File.WriteAllText(common, "let ratio = 1 +\n");
        var uri = new Uri(Path.Combine(_folder, "main.moe")).AbsoluteUri;
        await client.NotifyAsync("textDocument/didOpen", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = "import \"common.moe\"\n" + Fixed },
        });
        var imported = client.NextDiagnostics(new Uri(common).AbsoluteUri);
        var error = Assert.Single(imported["diagnostics"]!.AsArray())!;
        Assert.StartsWith("MP1", (string?)error["code"], StringComparison.Ordinal);

        // Definition of the import string is the imported file.
        var definition = (await client.RequestAsync("textDocument/definition", LspTestClient.At(uri, 0, 10)))["result"]!;
        Assert.Equal(new Uri(common).AbsoluteUri, (string?)definition["uri"]);
        Assert.Equal(0, await client.ShutdownAsync());
    }

    private static string Range(int startLine, int startCharacter, int endLine, int endCharacter) =>
        $"{{\"start\":{{\"line\":{startLine},\"character\":{startCharacter}}},\"end\":{{\"line\":{endLine},\"character\":{endCharacter}}}}}";

    private static List<string> Labels(JsonObject response) => response["result"]!.AsArray().Select(i => (string)i!["label"]!).ToList();

    /// <summary>Applies LSP text edits (non-overlapping) to a text, last first.</summary>
    private static string Apply(string text, JsonArray edits)
    {
        var lines = new Core.Text.LineMap(text);
        foreach (var e in edits.OrderByDescending(e => (int)e!["range"]!["start"]!["line"]!).ThenByDescending(e => (int)e!["range"]!["start"]!["character"]!))
        {
            var start = lines.OffsetOf((int)e!["range"]!["start"]!["line"]!, (int)e["range"]!["start"]!["character"]!);
            var end = lines.OffsetOf((int)e["range"]!["end"]!["line"]!, (int)e["range"]!["end"]!["character"]!);
            text = text[..start] + (string)e["newText"]! + text[end..];
        }

        return text;
    }

    private static double FindNumber(JsonNode root, string pool, string name) =>
        (double)root[pool]![name]!;
}
