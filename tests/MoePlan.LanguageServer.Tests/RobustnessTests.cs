using System.Text.Json.Nodes;
using CsCheck;
using MoePlan.Core.Tests.Properties;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.LanguageServer.Tests;

/// <summary>
/// The server never fails on what the robustness tests throw at the compiler: the invalid-plan corpus and byte and
/// token mutations of the sample plans (the same mutators, <see cref="MutationTests"/>). Every request on every
/// mutant is answered without an internal error, and the server still shuts down cleanly.
/// </summary>
public sealed class RobustnessTests
{
    private const int Cases = 120;

    private static readonly IReadOnlyList<string> Plans = RepositoryPaths.SamplePlans().Append("plans/common/slo.moe").ToList();

    private static readonly Gen<(int Input, bool Bytes, Mutation[] Mutations)> Mutants = Gen.Select(
        Gen.Int[0, 1000],
        Gen.Bool,
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], (k, p, c) => new Mutation(k, p, c)).Array[1, 4],
        (i, b, m) => (i, b, m));

    [Fact]
    public async Task Mutated_and_invalid_plans_never_make_a_request_fail()
    {
        var texts = Directory.GetFiles(RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid"), "*.moe")
            .Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList();
        Mutants.Sample(c =>
        {
            var plan = Plans[c.Input % Plans.Count];
            var text = File.ReadAllText(RepositoryPaths.PathOf(plan.Split('/')));
            texts.Add(c.Bytes ? MutationTests.MutateBytes(text, c.Mutations) : MutationTests.MutateTokens(text, c.Mutations));
        }, iter: Cases, threads: 1);

        await using var client = new LspTestClient();
        await client.RequestAsync("initialize", new JsonObject { ["capabilities"] = new JsonObject() });
        for (var i = 0; i < texts.Count; i++)
        {
            // In plans/ so that `import "common/slo.moe"` and the plans' data files resolve as for the samples.
            var uri = new Uri(RepositoryPaths.PathOf("plans", $"mutant-{i}.moe")).AbsoluteUri;
            var text = texts[i];
            await client.NotifyAsync("textDocument/didOpen", new JsonObject
            {
                ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = text },
            });
            var lines = text.Split('\n');
            foreach (var (line, character) in new[] { (0, 0), (lines.Length / 2, 4), (lines.Length - 1, 1000), (3, 7) })
            {
                foreach (var method in new[] { "textDocument/hover", "textDocument/completion", "textDocument/definition" })
                {
                    AssertAnswered(await client.RequestAsync(method, LspTestClient.At(uri, line, character)), method, text);
                }
            }

            AssertAnswered(await client.RequestAsync("textDocument/formatting", new JsonObject { ["textDocument"] = LspTestClient.Document(uri), ["options"] = new JsonObject() }), "formatting", text);
            AssertAnswered(await client.RequestAsync("textDocument/codeAction", new JsonObject
            {
                ["textDocument"] = LspTestClient.Document(uri),
                ["range"] = new JsonObject { ["start"] = LspTestClient.Position(0, 0), ["end"] = LspTestClient.Position(lines.Length, 0) },
                ["context"] = new JsonObject { ["diagnostics"] = new JsonArray() },
            }), "codeAction", text);
            await client.NotifyAsync("textDocument/didClose", new JsonObject { ["textDocument"] = LspTestClient.Document(uri) });
        }

        // Every compile that failed internally would have been logged as an error message.
        Assert.DoesNotContain(client.Drain(), m => (string?)m["method"] == "window/logMessage");
        Assert.Equal(0, await client.ShutdownAsync());
    }

    private static void AssertAnswered(JsonObject response, string method, string text)
    {
        if (response["error"] is { } error)
        {
            Assert.Fail($"{method} failed: {error.ToJsonString()}\non:\n{text}");
        }
    }
}
