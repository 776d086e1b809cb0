using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MoePlan.Benchmarks -- --filter '*Placement*'   (or *CostModel*, *Kernel*, *SchedulerScript*)
// taskset -c 0 dotnet bench/MoePlan.Benchmarks/bin/Release/net10.0/MoePlan.Benchmarks.dll proxy-overhead [rate] [count] [proxy core]
// (a load generator, not BenchmarkDotNet; it starts the proxy as proxy-overhead-server in a process pinned to the core)
if (args.Length > 0 && args[0] == "proxy-overhead")
{
    return await MoePlan.Benchmarks.ProxyOverheadBenchmark.RunAsync(args[1..]);
}

if (args.Length > 1 && args[0] == "proxy-overhead-server")
{
    return await MoePlan.Benchmarks.ProxyOverheadBenchmark.ServeAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(MoePlan.Benchmarks.PlacementBenchmarks).Assembly).Run(args);
return 0;
