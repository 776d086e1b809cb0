using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace MoePlan.LanguageServer.Tests;

/// <summary><c>moeplan lsp</c> as an editor starts it: a process speaking LSP on its standard input and output.</summary>
public sealed class ProcessTests
{
    [Fact]
    public async Task The_lsp_verb_answers_initialize_and_exits_0_after_shutdown()
    {
        var cli = typeof(Cli.MoePlanCli).Assembly.Location;
        using var process = Process.Start(new ProcessStartInfo("dotnet", [cli, "lsp"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        try
        {
            var connection = new LspConnection(process.StandardOutput.BaseStream, process.StandardInput.BaseStream);
            await connection.SendNotificationAsync("custom/unknownNotification", null);
            await Send(process, new JsonObject { ["jsonrpc"] = "2.0", ["id"] = 1, ["method"] = "initialize", ["params"] = new JsonObject { ["capabilities"] = new JsonObject() } });
            var initialized = await connection.ReadAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, (int)initialized!["id"]!);
            Assert.Equal("moeplan", (string?)initialized["result"]!["serverInfo"]!["name"]);

            await Send(process, new JsonObject { ["jsonrpc"] = "2.0", ["id"] = 2, ["method"] = "shutdown" });
            var shutdown = await connection.ReadAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(2, (int)shutdown!["id"]!);
            Assert.Null(shutdown["error"]);
            await Send(process, new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "exit" });
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, process.ExitCode);
            Assert.Equal("", await process.StandardError.ReadToEndAsync());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    private static async Task Send(Process process, JsonObject message)
    {
        var body = Encoding.UTF8.GetBytes(message.ToJsonString());
        var stream = process.StandardInput.BaseStream;
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"));
        await stream.WriteAsync(body);
        await stream.FlushAsync();
    }
}
