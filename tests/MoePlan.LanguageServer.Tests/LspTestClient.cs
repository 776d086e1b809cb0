using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePlan.LanguageServer;

namespace MoePlan.LanguageServer.Tests;

/// <summary>An editor's side of a session with <c>moeplan lsp</c>: the verb started as a process, spoken to on its
/// standard input and output.</summary>
internal sealed class LspTestClient : IAsyncDisposable
{
    // Continuations run asynchronously: a test that blocks waiting for diagnostics must not block the reader.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Stream _toServer;
    private readonly LspConnection _connection;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _responses = new();
    private readonly BlockingCollection<JsonObject> _notifications = [];
    private readonly Task _reader;
    private int _nextId;

    public LspTestClient(int debounceMilliseconds = 0)
    {
        var cli = typeof(Cli.MoePlanCli).Assembly.Location;
        _process = Process.Start(new ProcessStartInfo("dotnet", [cli, "lsp", "--debounce-ms", debounceMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _toServer = _process.StandardInput.BaseStream;
        Server = _process.WaitForExitAsync().ContinueWith(_ => _process.ExitCode, TaskScheduler.Default);
        _connection = new LspConnection(_process.StandardOutput.BaseStream, _toServer);
        _reader = Task.Run(async () =>
        {
            while (await _connection.ReadAsync() is { } message)
            {
                if (message["id"] is { } id && message["method"] is null)
                {
                    _responses.GetOrAdd(id.GetValue<int>(), _ => new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(message);
                }
                else
                {
                    _notifications.Add(message);
                }
            }

            _notifications.CompleteAdding();
        });
    }

    /// <summary>The server's run: its exit code once it stops.</summary>
    public Task<int> Server { get; }

    public async Task<JsonObject> RequestAsync(string method, JsonObject parameters)
    {
        var id = Interlocked.Increment(ref _nextId);
        var pending = _responses.GetOrAdd(id, _ => new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously));
        await SendAsync(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters });
        return await pending.Task.WaitAsync(Timeout);
    }

    public Task NotifyAsync(string method, JsonObject? parameters) =>
        SendAsync(new JsonObject { ["jsonrpc"] = "2.0", ["method"] = method, ["params"] = parameters });

    /// <summary>The next publishDiagnostics for <paramref name="uri"/> (others are skipped).</summary>
    public JsonObject NextDiagnostics(string uri)
    {
        var skipped = new List<string>();
        while (_notifications.TryTake(out var message, Timeout))
        {
            if ((string?)message["method"] == "textDocument/publishDiagnostics" && (string?)message["params"]!["uri"] == uri)
            {
                return message["params"]!.AsObject();
            }

            skipped.Add(message.ToJsonString());
        }

        throw new TimeoutException($"no diagnostics for {uri}; received:\n{string.Join("\n", skipped)}");
    }

    /// <summary>Every notification received so far, without waiting.</summary>
    public List<JsonObject> Drain()
    {
        var all = new List<JsonObject>();
        while (_notifications.TryTake(out var message))
        {
            all.Add(message);
        }

        return all;
    }

    public async Task<int> ShutdownAsync()
    {
        var shutdown = await RequestAsync("shutdown", []);
        if (shutdown["error"] is not null)
        {
            throw new InvalidOperationException(shutdown.ToJsonString());
        }

        await NotifyAsync("exit", null);
        return await Server.WaitAsync(Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        _toServer.Dispose();
        try
        {
            await Server.WaitAsync(Timeout);
            await _reader.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    private async Task SendAsync(JsonObject message)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(message.ToJsonString());
        var header = System.Text.Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n");
        await _toServer.WriteAsync(header);
        await _toServer.WriteAsync(body);
        await _toServer.FlushAsync();
    }

    public static JsonObject Position(int line, int character) => new() { ["line"] = line, ["character"] = character };

    public static JsonObject Document(string uri) => new() { ["uri"] = uri };

    public static JsonObject At(string uri, int line, int character) => new() { ["textDocument"] = Document(uri), ["position"] = Position(line, character) };
}
