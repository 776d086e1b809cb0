using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Proxy.Server;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Benchmarks;

/// <summary>
/// The live proxy's added latency (docs/benchmarks.md): an open-loop load generator sends streamed completions at a fixed
/// rate to an instant upstream (answers a 3-token SSE stream at once), first directly, then through <c>moeplan proxy</c>
/// (round-robin, no P/D, and vLLM P/D with an instant prefill and decode upstream); the added latency is the difference of
/// the end-to-end percentiles. Not BenchmarkDotNet: a rate and a latency distribution are what is measured.
/// Run: <c>taskset -c 0 dotnet run -c Release --project bench/MoePlan.Benchmarks -- proxy-overhead [rate] [seconds]</c>.
/// </summary>
public static class ProxyOverheadBenchmark
{
    private const string Chunk = "data: {\"id\":\"c\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" the\",\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    private const string Whole = "{\"id\":\"c\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" the\",\"finish_reason\":\"length\"}],\"kv_transfer_params\":{\"do_remote_prefill\":true}}";

    public static async Task<int> RunAsync(string[] args)
    {
        int rate = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        int seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        await using var prefill = await InstantUpstream.StartAsync();
        await using var decode = await InstantUpstream.StartAsync();
        var config = new ServingConfig(2, 1 << 30, 1 << 20, 1, int.MaxValue, double.MaxValue, 1, 0, 1, ProxyMode.Sequential, false, false, 0, null, null);
        var whole = new UpstreamList([new Upstream(PoolRole.Prefill, 0, prefill.Address), new Upstream(PoolRole.Prefill, 1, decode.Address)], []);
        var pd = new UpstreamList([new Upstream(PoolRole.Prefill, 0, prefill.Address)], [new Upstream(PoolRole.Decode, 0, decode.Address)]);
        await using var proxy = await ProxyServer.StartAsync(new ProxyOptions(whole, EngineKind.Vllm, ProxyMode.Sequential, config, "m"), RoutingPolicies.Create("round-robin"));
        await using var pdProxy = await ProxyServer.StartAsync(new ProxyOptions(pd, EngineKind.Vllm, ProxyMode.Sequential, config with { PrefillInstances = 1 }, "m"), RoutingPolicies.Create("round-robin"));

        Console.WriteLine($"proxy overhead: {rate} requests/s for {seconds} s each, streamed completions (3 tokens), processors {Environment.ProcessorCount}");
        var direct = await LoadAsync(prefill.Address, rate, seconds);
        var proxied = await LoadAsync(proxy.Address, rate, seconds);
        var proxiedPd = await LoadAsync(pdProxy.Address, rate, seconds);
        Print("direct to the upstream", direct, null);
        Print("through the proxy (no P/D)", proxied, direct);
        Print("through the proxy (vLLM P/D: prefill then decode)", proxiedPd, direct);
        return 0;
    }

    private static void Print(string name, (double[] Ms, int Failed, double Rate, double CpuUs) run, (double[] Ms, int Failed, double Rate, double CpuUs)? baseline)
    {
        double p50 = Quantile(run.Ms, 0.5), p99 = Quantile(run.Ms, 0.99);
        string added = baseline is { } b
            ? $"; added p50 {p50 - Quantile(b.Ms, 0.5):0.000} ms, p99 {p99 - Quantile(b.Ms, 0.99):0.000} ms, added CPU {run.CpuUs - b.CpuUs:0} us per request"
            : "";
        Console.WriteLine($"  {name}: {run.Ms.Length} ok, {run.Failed} failed, achieved {run.Rate:0} requests/s; e2e p50 {p50:0.000} ms, p99 {p99:0.000} ms; process CPU {run.CpuUs:0} us per request{added}");
    }

    /// <summary>Open loop: request i leaves at i / rate seconds whatever the earlier ones do.</summary>
    /// <summary>Also the process's CPU time per request (load generator, proxy and upstream together): what one core must supply.</summary>
    private static async Task<(double[] Ms, int Failed, double Rate, double CpuUs)> LoadAsync(Uri url, int rate, int seconds)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = url };
        var body = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"prompt\":\"Hello, how are you today?\",\"max_tokens\":3,\"stream\":true}");
        // Warm-up: connections, JIT, the tokenizer.
        for (int i = 0; i < 200; i++)
        {
            await SendAsync(client, body);
        }

        int n = rate * seconds;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var latencies = new double[n];
        var tasks = new Task[n];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++)
        {
            double due = i * 1000.0 / rate;
            while (clock.Elapsed.TotalMilliseconds < due)
            {
                double wait = due - clock.Elapsed.TotalMilliseconds;
                if (wait > 2)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait - 1));
                }
                else
                {
                    Thread.SpinWait(50);
                }
            }

            int index = i;
            tasks[i] = Task.Run(async () => latencies[index] = await SendAsync(client, body));
        }

        await Task.WhenAll(tasks);
        double elapsed = clock.Elapsed.TotalSeconds;
        double cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / n;
        var ok = latencies.Where(l => l >= 0).Order().ToArray();
        return (ok, n - ok.Length, n / elapsed, cpuUs);
    }

    /// <summary>Milliseconds to the end of the stream, or -1 when it failed.</summary>
    private static async Task<double> SendAsync(HttpClient client, byte[] body)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync(new Uri("/v1/completions", UriKind.Relative), content);
            string text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode && text.Contains("[DONE]", StringComparison.Ordinal) ? Stopwatch.GetElapsedTime(start).TotalMilliseconds : -1;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    private static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
    }

    /// <summary>An upstream that answers at once: a whole JSON body for stream false (a P/D prefill), else a 3-token SSE stream.</summary>
    private sealed class InstantUpstream : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private InstantUpstream(WebApplication app, Uri address)
        {
            _app = app;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<InstantUpstream> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            app.MapPost("/v1/completions", async ctx =>
            {
                using var read = new StreamReader(ctx.Request.Body);
                string request = await read.ReadToEndAsync();
                if (request.Contains("\"stream\":false", StringComparison.Ordinal))
                {
                    ctx.Response.ContentType = "application/json";
                    await ctx.Response.WriteAsync(Whole);
                    return;
                }

                ctx.Response.ContentType = "text/event-stream";
                await ctx.Response.WriteAsync(Chunk + Chunk + Chunk + "data: [DONE]\n\n");
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new InstantUpstream(app, new Uri(address));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
