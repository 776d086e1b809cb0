using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MoePlan.LanguageServer;

namespace MoePlan.Benchmarks;

/// <summary>
/// How long an editor waits for diagnostics after a change (docs/benchmarks.md): starts <c>moeplan lsp</c> as an editor
/// does, opens a 300-line plan (the sample plan <c>plans/deepseek-r1-cloudmatrix384.moe</c> after 245 lines of
/// comments and <c>let</c> constants) and sends N full-text changes, each retyping the plan's TPOT target, one after
/// the other; the latency of a change is from writing its <c>didChange</c> to reading the
/// <c>publishDiagnostics</c> of its version, with the server's debounce (default 25 ms) included.
/// Run: <c>dotnet run -c Release --project bench/MoePlan.Benchmarks -- lsp-latency --exe PATH/moeplan [--changes N]</c>.
/// </summary>
public static class LanguageServerLatencyBenchmark
{
    private const string SamplePlan = "plans/deepseek-r1-cloudmatrix384.moe";
    private const string SloLine = "slo { tpot p99 < 70ms }";
    private const int PlanLines = 300;

    public static async Task<int> RunAsync(string[] args)
    {
        var exe = StartupBenchmark.Option(args, "--exe") ?? "moeplan";
        var changes = int.Parse(StartupBenchmark.Option(args, "--changes") ?? "40", CultureInfo.InvariantCulture);
        if (!File.Exists(SamplePlan) || !File.ReadAllText(SamplePlan).Contains(SloLine, StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"lsp-latency: run from the repository's folder ({SamplePlan} with '{SloLine}' is the base of the 300-line plan)");
            return 2;
        }

        var folder = Directory.CreateTempSubdirectory("moeplan-lsp-bench-");
        try
        {
            var path = Path.Combine(folder.FullName, "plan-300-lines.moe");
            var text = LongPlan(File.ReadAllText(SamplePlan));
            await File.WriteAllTextAsync(path, text);
            var uri = new Uri(path).AbsoluteUri;
            Console.WriteLine($"lsp-latency: {exe} lsp, a {text.Split('\n').Length - 1}-line plan, {changes} changes one after the other, processors {Environment.ProcessorCount}, load average at start {StartupBenchmark.LoadAverage()}");

            await using var session = new EditorSession(exe);
            var clock = Stopwatch.StartNew();
            await session.RequestAsync("initialize", new JsonObject { ["processId"] = Environment.ProcessId, ["rootUri"] = null, ["capabilities"] = new JsonObject() });
            var initialized = clock.Elapsed.TotalMilliseconds;
            await session.NotifyAsync("initialized", []);
            clock.Restart();
            await session.NotifyAsync("textDocument/didOpen", new JsonObject
            {
                ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "moeplan", ["version"] = 1, ["text"] = text },
            });
            var opened = await session.DiagnosticsAsync(uri, 1);
            var openMs = clock.Elapsed.TotalMilliseconds;
            var latencies = new double[changes];
            for (var i = 0; i < changes; i++)
            {
                var version = i + 2;
                var changed = text.Replace(SloLine, $"slo {{ tpot p99 < {70 + ((i + 1) % 10)}ms }}", StringComparison.Ordinal);
                clock.Restart();
                await session.NotifyAsync("textDocument/didChange", new JsonObject
                {
                    ["textDocument"] = new JsonObject { ["uri"] = uri, ["version"] = version },
                    ["contentChanges"] = new JsonArray(new JsonObject { ["text"] = changed }),
                });
                var published = await session.DiagnosticsAsync(uri, version);
                latencies[i] = clock.Elapsed.TotalMilliseconds;
                if (published["diagnostics"]!.AsArray().Count != opened["diagnostics"]!.AsArray().Count)
                {
                    Console.Error.WriteLine($"lsp-latency: change {version} published other diagnostics than the opened plan: {published.ToJsonString()}");
                    return 1;
                }
            }

            var exit = await session.ShutdownAsync();
            Array.Sort(latencies);
            Console.WriteLine();
            Console.WriteLine("| step | count | median ms | p90 ms | max ms |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            Console.WriteLine(FormattableString.Invariant($"| initialize (process start to answer) | 1 | {initialized:0} | | |"));
            Console.WriteLine(FormattableString.Invariant($"| didOpen -> publishDiagnostics (first compile) | 1 | {openMs:0} | | |"));
            Console.WriteLine(FormattableString.Invariant(
                $"| didChange -> publishDiagnostics | {changes} | {StartupBenchmark.Quantile(latencies, 0.5):0.0} | {StartupBenchmark.Quantile(latencies, 0.9):0.0} | {latencies[^1]:0.0} |"));
            Console.WriteLine();
            Console.WriteLine($"server exit code {exit}; load average at end {StartupBenchmark.LoadAverage()}");
            return exit == 0 ? 0 : 1;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The sample plan after comments and <c>let</c> chains, to <see cref="PlanLines"/> lines in all.</summary>
    internal static string LongPlan(string sample)
    {
        var lines = sample.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        var text = new StringBuilder();
        text.Append("# The language server benchmark's plan: 300 lines, the sample plan after constants.\n");
        var prefix = PlanLines - lines.Length - 1;
        for (var i = 0; i < prefix; i++)
        {
            // Every fifth line a comment; the others a chain of constants, each from the one before.
            text.Append(i % 5 == 0
                ? FormattableString.Invariant($"# constants {i + 1} to {i + 4}\n")
                : i % 5 == 1 ? FormattableString.Invariant($"let c{i} = {i} * 2\n") : FormattableString.Invariant($"let c{i} = c{i - 1} + {i}\n"));
        }

        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The editor's end of a session: the server process on standard input and output.</summary>
    private sealed class EditorSession : IAsyncDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
        private readonly Process _process;
        private readonly LspConnection _connection;
        private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _responses = new();
        private readonly ConcurrentDictionary<(string Uri, int Version), TaskCompletionSource<JsonObject>> _diagnostics = new();
        private readonly Task _reader;
        private int _nextId;

        public EditorSession(string exe)
        {
            _process = Process.Start(new ProcessStartInfo(exe, ["lsp"]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false })
                ?? throw new InvalidOperationException($"cannot start {exe}");
            _connection = new LspConnection(_process.StandardOutput.BaseStream, _process.StandardInput.BaseStream);
            _reader = Task.Run(async () =>
            {
                while (await _connection.ReadAsync() is { } message)
                {
                    if (message["id"] is { } id && message["method"] is null)
                    {
                        Pending(_responses, id.GetValue<int>()).TrySetResult(message);
                    }
                    else if ((string?)message["method"] == "textDocument/publishDiagnostics" && message["params"] is JsonObject p
                        && p["version"] is { } version)
                    {
                        Pending(_diagnostics, ((string)p["uri"]!, version.GetValue<int>())).TrySetResult(p);
                    }
                }
            });
        }

        public async Task<JsonObject> RequestAsync(string method, JsonObject parameters)
        {
            var id = Interlocked.Increment(ref _nextId);
            var answer = Pending(_responses, id);
            await _connection.SendRequestAsync(id, method, parameters);
            return await answer.Task.WaitAsync(Timeout);
        }

        public Task NotifyAsync(string method, JsonObject parameters) => _connection.SendNotificationAsync(method, parameters);

        public Task<JsonObject> DiagnosticsAsync(string uri, int version) => Pending(_diagnostics, (uri, version)).Task.WaitAsync(Timeout);

        public async Task<int> ShutdownAsync()
        {
            await RequestAsync("shutdown", []);
            await _connection.SendNotificationAsync("exit", null);
            await _process.WaitForExitAsync().WaitAsync(Timeout);
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill();
            }

            await _reader.WaitAsync(Timeout);
            _process.Dispose();
        }

        private static TaskCompletionSource<JsonObject> Pending<TKey>(ConcurrentDictionary<TKey, TaskCompletionSource<JsonObject>> table, TKey key)
            where TKey : notnull =>
            table.GetOrAdd(key, _ => new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
