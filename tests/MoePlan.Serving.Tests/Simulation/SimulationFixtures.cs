using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>Compiled sample plans and repository paths for the simulation tests.</summary>
internal static class SimulationFixtures
{
    private static readonly Lazy<string> LazyRoot = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "MoePlan.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"MoePlan.sln not found above {AppContext.BaseDirectory}");
    });

    private static readonly Dictionary<string, CompilationResult> Compiled = [];

    public static string PathOf(params string[] segments) => Path.Combine([LazyRoot.Value, .. segments]);

    public static CompilationResult Compile(string planFile)
    {
        lock (Compiled)
        {
            if (!Compiled.TryGetValue(planFile, out var result))
            {
                result = PlanCompiler.Compile(PathOf("plans", planFile), new DiskResolver());
                Assert.NotNull(result.Plan);
                Compiled[planFile] = result;
            }

            return result;
        }
    }

    public static DeploymentPlan Plan(string planFile) => Compile(planFile).Plan!;

    internal sealed class DiskResolver : ISourceResolver
    {
        public string Resolve(string fromFile, string path) =>
            Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(fromFile) ?? "", path));

        public bool TryRead(string resolvedPath, out string text, out string error)
        {
            if (!File.Exists(resolvedPath))
            {
                text = "";
                error = "no such file";
                return false;
            }

            text = File.ReadAllText(resolvedPath);
            error = "";
            return true;
        }
    }
}
