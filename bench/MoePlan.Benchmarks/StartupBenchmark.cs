using System.Diagnostics;
using System.Globalization;

namespace MoePlan.Benchmarks;

/// <summary>
/// Whole-process wall time of the installed or published CLI (docs/benchmarks.md): what a CI step or an editor waits
/// for, runtime start and JIT included. Runs each command once to warm the disk cache, then N times one after the
/// other, and prints the median, the 90th percentile and the fastest run. Not BenchmarkDotNet: BenchmarkDotNet measures
/// calls inside a warm process, and a cold process is what is measured here.
/// Also prints each run's CPU time (user + system), which a busy machine stretches far less than wall time.
/// Run: <c>dotnet run -c Release --project bench/MoePlan.Benchmarks -- startup --exe PATH/moeplan [--check-exe PATH/moeplan-check]
/// [--runs N] [PLAN]</c>; <c>--check-exe</c> adds the ahead-of-time <c>moeplan-check</c> (src/MoePlan.Check) on the same plan.
/// </summary>
public static class StartupBenchmark
{
    public static int Run(string[] args)
    {
        var exe = Option(args, "--exe") ?? "moeplan";
        var runs = int.Parse(Option(args, "--runs") ?? "20", CultureInfo.InvariantCulture);
        var plan = args.LastOrDefault(a => a.EndsWith(".moe", StringComparison.Ordinal)) ?? "plans/deepseek-r1-cloudmatrix384.moe";
        if (!File.Exists(plan))
        {
            Console.Error.WriteLine($"startup: no plan '{plan}' (run from the repository's folder, or name one)");
            return 2;
        }

        List<(string Exe, string[] Arguments, string Label)> commands =
        [
            (exe, ["--help"], "moeplan --help"),
            (exe, ["check", plan], $"moeplan check {plan}"),
            (exe, ["check", plan, "--format", "json"], $"moeplan check {plan} --format json"),
        ];
        if (Option(args, "--check-exe") is { } checkExe)
        {
            commands.Add((checkExe, [plan], $"moeplan-check {plan}"));
            commands.Add((checkExe, [plan, "--format", "json"], $"moeplan-check {plan} --format json"));
        }

        Console.WriteLine($"startup: {exe}, {runs} runs per command after one warm-up, processors {Environment.ProcessorCount}, load average at start {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| command | runs | median ms | p90 ms | fastest ms | median CPU ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (program, arguments, label) in commands)
        {
            var exit = RunOnce(program, arguments, out _, out _);
            if (exit is not (0 or 1))
            {
                Console.Error.WriteLine($"startup: '{program} {string.Join(' ', arguments)}' exited {exit}");
                return 2;
            }

            var wall = new double[runs];
            var cpu = new double[runs];
            for (var i = 0; i < runs; i++)
            {
                RunOnce(program, arguments, out wall[i], out cpu[i]);
            }

            Array.Sort(wall);
            Array.Sort(cpu);
            Console.WriteLine(FormattableString.Invariant(
                $"| `{label}` | {runs} | {Quantile(wall, 0.5):0} | {Quantile(wall, 0.9):0} | {wall[0]:0} | {Quantile(cpu, 0.5):0} |"));
        }

        Console.WriteLine();
        Console.WriteLine($"load average at end {LoadAverage()}");
        return 0;
    }

    private static int RunOnce(string exe, string[] arguments, out double milliseconds, out double cpuMilliseconds)
    {
        var info = new ProcessStartInfo(exe, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var cpuBefore = ChildrenCpuMilliseconds();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {exe}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        milliseconds = clock.Elapsed.TotalMilliseconds;
        Task.WaitAll(stdout, stderr);
        cpuMilliseconds = ChildrenCpuMilliseconds() - cpuBefore;
        return process.ExitCode;
    }

    /// <summary>
    /// User + system CPU of this process's ended and reaped children (getrusage RUSAGE_CHILDREN, Linux x64: two timevals
    /// first); the difference around one run is that run's. A process's own CPU time cannot be read once it has exited.
    /// </summary>
    private static double ChildrenCpuMilliseconds()
    {
        if (!OperatingSystem.IsLinux())
        {
            return double.NaN;
        }

        var usage = System.Runtime.InteropServices.Marshal.AllocHGlobal(256);
        try
        {
            if (GetResourceUsage(-1, usage) != 0)
            {
                return double.NaN;
            }

            long Read(int field) => System.Runtime.InteropServices.Marshal.ReadInt64(usage, field * 8);
            return ((Read(0) + Read(2)) * 1000.0) + ((Read(1) + Read(3)) / 1000.0);
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeHGlobal(usage);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetResourceUsage(int who, IntPtr usage);

    internal static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>The q-quantile of sorted values (nearest rank).</summary>
    internal static double Quantile(double[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>The 1, 5 and 15 minute load averages (Linux), so a figure says how busy the machine was.</summary>
    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
