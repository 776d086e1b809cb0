using System.Text.Json.Nodes;
using Xunit;

namespace MoePlan.LanguageServer.Tests;

/// <summary>Hover on an aggregated plan's <c>serve</c> block: the pool's memory and its mixed step (TTFT and TPOT).</summary>
public sealed class ServeHoverTests : IDisposable
{
    /// <summary>Line 6 (0-based) is `serve {`.</summary>
    private const string Plan = """
        deployment "lsp-serve" {
          engine vllm
          model qwen1.5-moe-a2.7b
          hardware ascend-910c
          cluster { nodes 1  devices_per_node 4 }

          serve {
            instances 1
            parallel { dp 4  ep 4 }
            max_batch 16 per device
            context 2048
            max_batch_tokens 512 per device
          }
          placement { algorithm moeplan  redundant_experts 4  loads synthetic seed 15 }
          workload { arrivals constant 4/s  input fixed 256  output fixed 32  requests 200  seed 4 }
        }

        """;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "moeplan-lsp-" + Guid.NewGuid().ToString("N"));

    public ServeHoverTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Hover_on_serve_shows_its_memory_and_both_latencies()
    {
        await using var client = new LspTestClient();
        var uri = new Uri(Path.Combine(_folder, "plan.moe")).AbsoluteUri;
        await client.RequestAsync("initialize", new JsonObject { ["processId"] = null, ["rootUri"] = null, ["capabilities"] = new JsonObject() });
        await client.NotifyAsync("initialized", []);
        await client.NotifyAsync("textDocument/didOpen", new JsonObject
        {
            ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = Plan },
        });
        var opened = client.NextDiagnostics(uri);
        Assert.DoesNotContain(opened["diagnostics"]!.AsArray(), d => (int)d!["severity"]! == 1);

        var onPool = (string?)(await client.RequestAsync("textDocument/hover", LspTestClient.At(uri, 6, 4)))["result"]!["contents"]!["value"];
        Assert.Contains("per-rank memory (GB)", onPool, StringComparison.Ordinal);
        Assert.Contains("; TTFT ", onPool, StringComparison.Ordinal);
        Assert.Contains(" ms, TPOT ", onPool, StringComparison.Ordinal);
    }
}
