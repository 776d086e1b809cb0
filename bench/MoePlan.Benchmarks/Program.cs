using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MoePlan.Benchmarks -- --filter '*Placement*'   (or *CostModel*, *Kernel*, *SchedulerScript*)
BenchmarkSwitcher.FromAssembly(typeof(MoePlan.Benchmarks.PlacementBenchmarks).Assembly).Run(args);
