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
/// The live proxy's added latency (issue #16's target: under 1 ms at p50 and 5 ms at p99 per request at 1,000
/// requests/s on one core; docs/benchmarks.md). An open-loop load generator sends a fixed count of streamed completions
/// at a fixed rate to an instant emulated upstream (a Kestrel app answering a 3-token SSE stream at once, so what is
/// measured is the proxy, not an engine): directly, then through <c>moeplan proxy</c> to that same upstream (round-robin,
/// no P/D), then through the proxy in vLLM P/D mode (the same upstream as prefill, a second as decode). The added latency
/// is the difference of the end-to-end percentiles. The proxy runs in a process of its own pinned to one core
/// (<c>taskset -c</c>, so the runtime sees one processor); the load generator and the upstreams run in this process,
/// which the command pins to another core. The table also gives each process's CPU time per request (on a contended
/// core it is inflated too; the direct row's is what the load generator and an upstream cost). Not BenchmarkDotNet: a rate and a latency distribution are what is measured.
/// <para>
/// Run: <c>taskset -c 0 dotnet bench/MoePlan.Benchmarks/bin/Release/net10.0/MoePlan.Benchmarks.dll proxy-overhead
/// [rate 1000] [count 10000] [proxy core 1]</c>.
/// </para>
/// </summary>
public static class ProxyOverheadBenchmark
{
    private const string Chunk = "data: {\"id\":\"c\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" the\",\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    private const string Whole = "{\"id\":\"c\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" the\",\"finish_reason\":\"length\"}],\"kv_transfer_params\":{\"do_remote_prefill\":true}}";

    private static readonly byte[] WholeBytes = Encoding.UTF8.GetBytes(Whole);

    /// <summary>The target of issue #16: added latency at p50 and p99.</summary>
    private const double TargetP50Ms = 1, TargetP99Ms = 5;

    /// <summary>Sequential requests before each measured run: connections opened, the tokenizer loaded, code jitted.</summary>
    private const int WarmUpRequests = 2000;

    /// <summary>
    /// Then seconds of the measured load itself, not measured: on one busy core the JIT takes seconds to recompile the
    /// hot code at tier 1 in the background, and a long-running proxy's overhead is what it costs once that is done
    /// (before, the measured run overlapped it: the proxy ran much of its first 10 s of load on tier-0 code). The load
    /// generator warms up the same way before the direct run, so the baseline is not a cold process's either.
    /// </summary>
    private const int WarmUpSeconds = 10;

    public static async Task<int> RunAsync(string[] args)
    {
        int rate = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        int count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000;
        int core = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
        if (rate < 1 || count < 1 || core < 0)
        {
            Console.Error.WriteLine("usage: proxy-overhead [rate >= 1] [count >= 1] [proxy core >= 0]");
            return 2;
        }

        await using var upstream = await InstantUpstream.StartAsync();
        await using var decode = await InstantUpstream.StartAsync();
        bool pinned = File.Exists(TasksetPath);
        Console.WriteLine($"proxy overhead: {count:N0} streamed completions (3 tokens) per run, open loop at {rate:N0}/s; load generator and upstreams: this process ({Environment.ProcessorCount} processor(s) visible); proxy: {(pinned ? $"its own process on core {core} (taskset)" : "its own process, NOT pinned (no taskset)")}");
        Console.WriteLine($"load average before: {LoadAverage()}");

        var (directWarm, direct) = await LoadAsync(upstream.Address, rate, count);
        Run proxied, proxiedPd, proxiedWarm, proxiedPdWarm;
        await using (var proxy = await ProxyProcess.StartAsync(core, pinned, upstream.Address, null))
        {
            (proxiedWarm, proxied) = await LoadAsync(proxy.Address, rate, count, proxy);
        }

        await using (var proxy = await ProxyProcess.StartAsync(core, pinned, upstream.Address, decode.Address))
        {
            (proxiedPdWarm, proxiedPd) = await LoadAsync(proxy.Address, rate, count, proxy);
        }

        Console.WriteLine($"load average after: {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine($"| run ({rate:N0}/s, {count:N0} requests) | completed | achieved rate | e2e p50 | e2e p99 | added p50 | added p99 | CPU per request: proxy / load generator and upstreams | proxy allocated per request, gen-0 GCs | target (< {TargetP50Ms:0} ms p50, < {TargetP99Ms:0} ms p99 added) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        Row("direct to the upstream", direct, null, count);
        Row("through the proxy, no P/D", proxied, direct, count);
        Row("through the proxy, vLLM P/D (prefill, then decode)", proxiedPd, direct, count);
        Console.WriteLine();
        Console.WriteLine($"The warm-up loads ({WarmUpSeconds} s at the same rate, right after the sequential warm-up; the proxy's first seconds of load, while the JIT recompiles its hot code):");
        Console.WriteLine();
        Console.WriteLine($"| warm-up ({rate:N0}/s, {rate * WarmUpSeconds:N0} requests) | completed | achieved rate | e2e p50 | e2e p99 | added p50 | added p99 | CPU per request: proxy / load generator and upstreams | proxy allocated per request, gen-0 GCs | target |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        Row("direct to the upstream", directWarm, null, rate * WarmUpSeconds);
        Row("through the proxy, no P/D", proxiedWarm, directWarm, rate * WarmUpSeconds);
        Row("through the proxy, vLLM P/D (prefill, then decode)", proxiedPdWarm, directWarm, rate * WarmUpSeconds);
        return 0;
    }

    /// <summary><c>proxy-overhead-server UPSTREAM [DECODE]</c>: the proxy of one run, in its own process; prints its address, answers <c>gc</c> lines with its allocation figures, stops at the end of standard input.</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        var upstream = new Uri(args[0]);
        Uri? decode = args.Length > 1 ? new Uri(args[1]) : null;
        var config = new ServingConfig(2, 1 << 30, 1 << 20, 1, int.MaxValue, double.MaxValue, 1, 0, 1, ProxyMode.Sequential, false, false, 0, null, null);
        var list = decode is null
            ? new UpstreamList([new Upstream(PoolRole.Prefill, 0, upstream)], [])
            : new UpstreamList([new Upstream(PoolRole.Prefill, 0, upstream)], [new Upstream(PoolRole.Decode, 0, decode)]);
        await using var proxy = await ProxyServer.StartAsync(new ProxyOptions(list, EngineKind.Vllm, ProxyMode.Sequential, config with { PrefillInstances = 1, DecodeInstances = list.Decode.Count }, "m"), RoutingPolicies.Create("round-robin"));
        Console.WriteLine(proxy.Address);
        Console.Out.Flush();
        // "gc" asks for the bytes the process allocated so far and its gen-0 collections (the parent's figures per run).
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "gc")
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{GC.GetTotalAllocatedBytes(precise: true)} {GC.CollectionCount(0)}"));
                Console.Out.Flush();
            }
        }

        return 0;
    }

    private static void Row(string name, Run run, Run? baseline, int count)
    {
        double p50 = Quantile(run.Ms, 0.5), p99 = Quantile(run.Ms, 0.99);
        string Ms(double ms) => ms.ToString("0.000", CultureInfo.InvariantCulture) + " ms";
        string added = "| | |", cpu = $"- / {run.LocalCpuUs:0} us | ", verdict = "";
        if (baseline is { } b)
        {
            double addedP50 = p50 - Quantile(b.Ms, 0.5), addedP99 = p99 - Quantile(b.Ms, 0.99);
            added = $"| {Ms(addedP50)} | {Ms(addedP99)} |";
            cpu = $"{run.ProxyCpuUs:0} us / {run.LocalCpuUs:0} us | {run.ProxyAllocatedBytes / 1024.0:0.0} KiB, {run.ProxyGen0Collections}";
            verdict = run.Failed == 0 && addedP50 < TargetP50Ms && addedP99 < TargetP99Ms ? "met" : "not met";
        }

        Console.WriteLine($"| {name} | {run.Ms.Length:N0} of {count:N0} | {run.Rate:0}/s | {Ms(p50)} | {Ms(p99)} {added} {cpu} | {verdict} |");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private const string TasksetPath = "/usr/bin/taskset";

    /// <summary>A run: the latencies of the completed requests (sorted), how many failed, the rate achieved, the proxy process's CPU per request.</summary>
    private sealed record Run(double[] Ms, int Failed, double Rate, double ProxyCpuUs, double LocalCpuUs, double ProxyAllocatedBytes, int ProxyGen0Collections);

    /// <summary>
    /// The warm-up load (open loop at the rate, after the sequential warm-up), then the measured one: request i leaves at
    /// i / rate seconds whatever the earlier ones do; a fixed count.
    /// </summary>
    private static async Task<(Run WarmUp, Run Measured)> LoadAsync(Uri url, int rate, int count, ProxyProcess? proxy = null)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = url };
        var body = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"prompt\":\"Hello, how are you today?\",\"max_tokens\":3,\"stream\":true}");
        for (int i = 0; i < WarmUpRequests; i++)
        {
            await SendAsync(client, body);
        }

        var warmUp = await MeasureAsync(client, body, rate, rate * WarmUpSeconds, proxy);
        return (warmUp, await MeasureAsync(client, body, rate, count, proxy));
    }

    private static async Task<Run> MeasureAsync(HttpClient client, byte[] body, int rate, int count, ProxyProcess? proxy)
    {
        var cpu = proxy?.CpuTime ?? TimeSpan.Zero;
        var gc = proxy is null ? default : await proxy.GcAsync();
        var localCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var (latencies, elapsed) = await OpenLoopAsync(client, body, rate, count);
        double cpuUs = proxy is null ? 0 : (proxy.CpuTime - cpu).TotalMicroseconds / count;
        double localCpuUs = (Process.GetCurrentProcess().TotalProcessorTime - localCpu).TotalMicroseconds / count;
        var gcAfter = proxy is null ? default : await proxy.GcAsync();
        var ok = latencies.Where(l => l >= 0).Order().ToArray();
        return new Run(ok, count - ok.Length, count / elapsed, cpuUs, localCpuUs, (gcAfter.Bytes - gc.Bytes) / (double)count, gcAfter.Gen0 - gc.Gen0);
    }

    /// <summary>Sends <paramref name="count"/> requests open loop at the rate; each one's latency (-1 when it failed) and the seconds it took.</summary>
    private static async Task<(double[] Latencies, double Seconds)> OpenLoopAsync(HttpClient client, byte[] body, int rate, int count)
    {
        var latencies = new double[count];
        var tasks = new Task[count];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            double due = i * 1000.0 / rate;
            // Sleep, never spin: the load generator shares its core with the upstreams and the responses' continuations,
            // and a pacing loop that spins between requests 1 ms apart took that core from them (the first version
            // measured its own spinning as latency). Requests due within the timer's ~1 ms resolution leave together.
            double wait = due - clock.Elapsed.TotalMilliseconds;
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, wait)));
            }

            int index = i;
            tasks[i] = Task.Run(async () => latencies[index] = await SendAsync(client, body));
        }

        await Task.WhenAll(tasks);
        return (latencies, clock.Elapsed.TotalSeconds);
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

    /// <summary>The proxy of one run in a process of its own (this assembly's <c>proxy-overhead-server</c>), pinned to one core when taskset is there.</summary>
    private sealed class ProxyProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private ProxyProcess(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        /// <summary>The bytes the proxy process allocated so far and its gen-0 collections.</summary>
        public async Task<(long Bytes, int Gen0)> GcAsync()
        {
            await _process.StandardInput.WriteLineAsync("gc");
            await _process.StandardInput.FlushAsync();
            var fields = (await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the proxy process ended")).Split(' ');
            return (long.Parse(fields[0], CultureInfo.InvariantCulture), int.Parse(fields[1], CultureInfo.InvariantCulture));
        }

        public TimeSpan CpuTime
        {
            get
            {
                _process.Refresh();
                return _process.TotalProcessorTime;
            }
        }

        public static async Task<ProxyProcess> StartAsync(int core, bool pinned, Uri upstream, Uri? decode)
        {
            // dotnet x.dll, or the apphost: the same way this process was started.
            var self = Environment.ProcessPath!;
            var command = new List<string>();
            if (pinned)
            {
                command.AddRange([TasksetPath, "-c", core.ToString(CultureInfo.InvariantCulture)]);
            }

            command.Add(self);
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                command.Add(typeof(ProxyOverheadBenchmark).Assembly.Location);
            }

            command.AddRange(["proxy-overhead-server", upstream.ToString()]);
            if (decode is not null)
            {
                command.Add(decode.ToString());
            }

            var info = new ProcessStartInfo(command[0]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in command.Skip(1))
            {
                info.ArgumentList.Add(a);
            }

            // As `moeplan proxy` runs: moeplan's runtimeconfig turns tiered PGO off (MoePlan.Cli.csproj), this assembly's does not.
            info.Environment["DOTNET_TieredPGO"] = "0";
            foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                // PROXY_DOTNET_x=v: DOTNET_x=v for the proxy process only (to try a runtime setting on the proxy alone).
                if (((string)e.Key).StartsWith("PROXY_DOTNET_", StringComparison.Ordinal))
                {
                    info.Environment[((string)e.Key)["PROXY_".Length..]] = (string?)e.Value;
                }
            }

            var process = Process.Start(info)!;
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            return new ProxyProcess(process, new Uri(line ?? throw new InvalidOperationException("the proxy process ended before it listened")));
        }

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(30_000))
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
            _process.Dispose();
        }
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
                    // With its length, as vLLM's (FastAPI's JSONResponse) whole answers come: not chunked.
                    ctx.Response.ContentType = "application/json";
                    ctx.Response.ContentLength = WholeBytes.Length;
                    await ctx.Response.Body.WriteAsync(WholeBytes);
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
