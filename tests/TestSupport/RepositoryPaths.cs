namespace MoePlan.Tests.Support;

/// <summary>The repository root (the folder holding MoePlan.sln), found by walking up from the test binaries.</summary>
public static class RepositoryPaths
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

    public static string Root => LazyRoot.Value;

    public static string PathOf(params string[] segments) => Path.Combine([Root, .. segments]);

    /// <summary>The sample plans, as paths relative to the repository root ("plans/x.moe"), sorted.</summary>
    public static IReadOnlyList<string> SamplePlans() =>
        Directory.GetFiles(PathOf("plans"), "*.moe")
            .Select(p => "plans/" + Path.GetFileName(p))
            .Order(StringComparer.Ordinal)
            .ToList();
}
