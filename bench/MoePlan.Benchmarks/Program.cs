using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MoePlan.Benchmarks -- --filter '*Placement*'   (or *CostModel*, *Kernel*, *SchedulerScript*)
// taskset -c 0 dotnet run -c Release --project bench/MoePlan.Benchmarks -- proxy-overhead [rate] [seconds]   (a load generator, not BenchmarkDotNet)
if (args.Length > 0 && args[0] == "proxy-overhead")
{
    return await MoePlan.Benchmarks.ProxyOverheadBenchmark.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(MoePlan.Benchmarks.PlacementBenchmarks).Assembly).Run(args);
return 0;
