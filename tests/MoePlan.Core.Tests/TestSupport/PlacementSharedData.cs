namespace MoePlan.Core.Tests.TestSupport;

/// <summary>Finds the shared reference data (<c>shared/data</c>) by walking up from the test binaries.</summary>
internal static class PlacementSharedData
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"no folder with shared/data above {AppContext.BaseDirectory}");
    });

    public static string ExpertLoadsDirectory => Path.Combine(Root.Value, "expert-loads");

    /// <summary>The SGLang DeepSeek-V3 recordings, sorted by file name.</summary>
    public static IReadOnlyList<string> SglangFiles =>
        Directory.GetFiles(ExpertLoadsDirectory, "deepseek-v3-sglang-*.json").Order(StringComparer.Ordinal).ToArray();

    public static string Read(string path) => File.ReadAllText(path);
}
