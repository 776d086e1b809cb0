using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MoePlan.Benchmarks -- --filter '*Placement*'   (or *CostModel*, *Kernel*, *SchedulerScript*)
// taskset -c 0 dotnet run -c Release --project bench/MoePlan.Benchmarks -- proxy-overhead [rate] [seconds]   (a load generator, not BenchmarkDotNet)
// dotnet run -c Release --project bench/MoePlan.Benchmarks -- startup --exe PATH/moeplan [--runs N] [PLAN]   (whole-process wall time)
// dotnet run -c Release --project bench/MoePlan.Benchmarks -- lsp-latency --exe PATH/moeplan [--changes N]   (didChange -> publishDiagnostics)
if (args.Length > 0 && args[0] == "startup")
{
    return MoePlan.Benchmarks.StartupBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "lsp-latency")
{
    return await MoePlan.Benchmarks.LanguageServerLatencyBenchmark.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "proxy-overhead")
{
    return await MoePlan.Benchmarks.ProxyOverheadBenchmark.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(MoePlan.Benchmarks.PlacementBenchmarks).Assembly).Run(args);
return 0;
