using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MoePlan.Benchmarks -- --filter '*Placement*'
BenchmarkSwitcher.FromAssembly(typeof(MoePlan.Benchmarks.PlacementBenchmarks).Assembly).Run(args);
