using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePlan.Core.Placement;
using MoePlan.Core.Text;

namespace MoePlan.LanguageServer;

/// <summary>Options of <c>moeplan lsp</c>.</summary>
/// <param name="DebounceMilliseconds">How long after the last change a document is compiled and its diagnostics sent.</param>
public sealed record LanguageServerOptions(int DebounceMilliseconds = 25);

/// <summary>
/// The server: reads requests until <c>exit</c> or the end of the input, answers each; compiles documents on open
/// and (debounced) on change and publishes their diagnostics. A request that fails is answered with an error, never
/// by ending the process.
/// </summary>
public sealed class PlanLanguageServer
{
    private readonly LspConnection _connection;
    private readonly PlanWorkspace _workspace;
    private readonly LanguageServerOptions _options;
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PlanAnalysis> _analyses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HashSet<string>> _publishedPaths = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PlacementMemo> _placements = new(StringComparer.Ordinal);
    private readonly object _analysisLock = new();
    private bool _shutdown;

    public PlanLanguageServer(Stream input, Stream output, ISourceResolver disk, LanguageServerOptions? options = null)
    {
        _connection = new LspConnection(input, output);
        _workspace = new PlanWorkspace(disk);
        _options = options ?? new LanguageServerOptions();
    }

    /// <summary>Serves until <c>exit</c> (0 after <c>shutdown</c>, 1 without) or the end of the input (1).</summary>
    public async Task<int> RunAsync(CancellationToken cancellation = default)
    {
        while (await _connection.ReadAsync(cancellation) is { } message)
        {
            var method = message["method"]?.GetValue<string>();
            var id = message["id"];
            if (method == "exit")
            {
                return _shutdown ? 0 : 1;
            }

            if (method is null)
            {
                if (id is not null || message.ContainsKey("__parseError"))
                {
                    await _connection.SendErrorAsync(id, -32700, "not a JSON-RPC request");
                }

                continue;
            }

            try
            {
                var result = Handle(method, message["params"] as JsonObject ?? []);
                if (id is not null)
                {
                    await _connection.SendResponseAsync(id, result);
                }
            }
            catch (MethodNotFound)
            {
                if (id is not null)
                {
                    await _connection.SendErrorAsync(id, -32601, $"method not supported: {method}");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug must not take the editor's server down: the request fails, the server goes on.
                if (id is not null)
                {
                    await _connection.SendErrorAsync(id, -32603, $"{method} failed: {e.GetType().Name}: {e.Message}");
                }
                else
                {
                    await _connection.SendNotificationAsync("window/logMessage", new JsonObject { ["type"] = 1, ["message"] = $"moeplan: {method} failed: {e.GetType().Name}: {e.Message}" });
                }
            }
        }

        return 1;
    }

    private JsonNode? Handle(string method, JsonObject p)
    {
        switch (method)
        {
            case "initialize":
                return new JsonObject
                {
                    ["capabilities"] = new JsonObject
                    {
                        ["textDocumentSync"] = new JsonObject { ["openClose"] = true, ["change"] = 1, ["save"] = true },
                        ["hoverProvider"] = true,
                        ["completionProvider"] = new JsonObject { ["triggerCharacters"] = new JsonArray(" ") },
                        ["definitionProvider"] = true,
                        ["documentFormattingProvider"] = true,
                        ["codeActionProvider"] = new JsonObject { ["codeActionKinds"] = new JsonArray("quickfix") },
                    },
                    ["serverInfo"] = new JsonObject { ["name"] = "moeplan" },
                };
            case "initialized" or "$/cancelRequest" or "$/setTrace" or "workspace/didChangeConfiguration" or "textDocument/didSave" or "workspace/didChangeWatchedFiles":
                return null;
            case "shutdown":
                _shutdown = true;
                return null;
            case "textDocument/didOpen":
                {
                    var item = p["textDocument"]!;
                    var document = _workspace.Open(item["uri"]!.GetValue<string>(), item["text"]?.GetValue<string>() ?? "", item["version"]?.GetValue<int>() ?? 0);
                    Schedule(document, 0);
                    return null;
                }

            case "textDocument/didChange":
                {
                    var uri = p["textDocument"]!["uri"]!.GetValue<string>();
                    var text = (p["contentChanges"] as JsonArray)?.LastOrDefault()?["text"]?.GetValue<string>();
                    if (text is not null)
                    {
                        Schedule(_workspace.Open(uri, text, p["textDocument"]!["version"]?.GetValue<int>() ?? 0), _options.DebounceMilliseconds);
                    }

                    return null;
                }

            case "textDocument/didClose":
                {
                    var uri = p["textDocument"]!["uri"]!.GetValue<string>();
                    _workspace.Close(uri);
                    _analyses.TryRemove(uri, out _);
                    _placements.TryRemove(uri, out _);
                    _ = _connection.SendNotificationAsync("textDocument/publishDiagnostics", new JsonObject { ["uri"] = uri, ["diagnostics"] = new JsonArray() });
                    return null;
                }

            case "textDocument/hover":
                return WithDocument(p, (a, offset) => PlanLanguageFeatures.Hover(a, offset));
            case "textDocument/completion":
                return WithDocument(p, (a, offset) => PlanLanguageFeatures.Completion(a, offset)) ?? new JsonArray();
            case "textDocument/definition":
                return WithDocument(p, (a, offset) => PlanLanguageFeatures.Definition(a, _workspace, offset));
            case "textDocument/formatting":
                return WithDocument(p, (a, _) => PlanLanguageFeatures.Formatting(a)) ?? new JsonArray();
            case "textDocument/codeAction":
                return WithDocument(p, (a, _) =>
                {
                    var range = p["range"]!;
                    return PlanLanguageFeatures.CodeActions(a, OffsetOf(a, range["start"]), OffsetOf(a, range["end"]));
                }) ?? new JsonArray();
            default:
                if (method.StartsWith("$/", StringComparison.Ordinal))
                {
                    return null;
                }

                throw new MethodNotFound();
        }
    }

    private JsonNode? WithDocument(JsonObject p, Func<PlanAnalysis, int, JsonNode?> answer)
    {
        var uri = p["textDocument"]?["uri"]?.GetValue<string>();
        if (uri is null || _workspace.Find(uri) is not { } document)
        {
            return null;
        }

        var analysis = AnalysisOf(document);
        return answer(analysis, p["position"] is { } position ? OffsetOf(analysis, position) : 0);
    }

    private static int OffsetOf(PlanAnalysis analysis, JsonNode? position) =>
        position is null ? 0 : analysis.Lines.OffsetOf(position["line"]?.GetValue<int>() ?? 0, position["character"]?.GetValue<int>() ?? 0);

    /// <summary>The analysis of the document as it is now (compiled here if the debounced one is not done yet).</summary>
    private PlanAnalysis AnalysisOf(OpenDocument document)
    {
        if (_analyses.TryGetValue(document.Uri, out var done) && ReferenceEquals(done.Document, document))
        {
            return done;
        }

        lock (_analysisLock)
        {
            var analysis = Analyse(document);
            _analyses[document.Uri] = analysis;
            return analysis;
        }
    }

    private PlanAnalysis Analyse(OpenDocument document) =>
        PlanAnalysis.Run(document, _workspace, _placements.GetOrAdd(document.Uri, _ => new PlacementMemo()));

    /// <summary>Compiles after <paramref name="delayMilliseconds"/> unless another change comes first, then publishes.</summary>
    private void Schedule(OpenDocument document, int delayMilliseconds)
    {
        var source = new CancellationTokenSource();
        if (_pending.TryGetValue(document.Uri, out var previous))
        {
            previous.Cancel();
        }

        _pending[document.Uri] = source;
        _ = Task.Run(async () =>
        {
            try
            {
                if (delayMilliseconds > 0)
                {
                    await Task.Delay(delayMilliseconds, source.Token);
                }

                if (source.IsCancellationRequested)
                {
                    return;
                }

                PlanAnalysis analysis;
                lock (_analysisLock)
                {
                    if (source.IsCancellationRequested)
                    {
                        return;
                    }

                    analysis = Analyse(document);
                    _analyses[document.Uri] = analysis;
                }

                await PublishAsync(analysis);
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                // Never lost silently: the editor shows it as a diagnostic of the document.
                Trace.TraceError(e.ToString());
                await _connection.SendNotificationAsync("window/logMessage", new JsonObject { ["type"] = 1, ["message"] = $"moeplan: compiling {document.Path} failed: {e.Message}" });
            }
        });
    }

    private async Task PublishAsync(PlanAnalysis analysis)
    {
        LineMap? LinesOf(string path) => _workspace.TryRead(path, out var text, out _) ? new LineMap(text) : null;
        var byPath = analysis.DiagnosticsByPath(LinesOf);
        var published = _publishedPaths.GetOrAdd(analysis.Document.Uri, _ => new HashSet<string>(StringComparer.Ordinal));
        HashSet<string> cleared;
        lock (published)
        {
            // Files that had diagnostics from this document last time and have none now are cleared.
            cleared = [.. published.Where(p => !byPath.ContainsKey(p))];
            published.Clear();
            published.UnionWith(byPath.Keys);
        }

        foreach (var (path, diagnostics) in byPath)
        {
            var uri = path == analysis.Document.Path ? analysis.Document.Uri : PlanWorkspace.UriOf(path);
            var message = new JsonObject { ["uri"] = uri, ["diagnostics"] = diagnostics };
            if (path == analysis.Document.Path)
            {
                message["version"] = analysis.Document.Version;
            }

            await _connection.SendNotificationAsync("textDocument/publishDiagnostics", message);
        }

        foreach (var path in cleared)
        {
            await _connection.SendNotificationAsync("textDocument/publishDiagnostics", new JsonObject { ["uri"] = PlanWorkspace.UriOf(path), ["diagnostics"] = new JsonArray() });
        }
    }

    private sealed class MethodNotFound : Exception;
}
