namespace MoePlan.Core.Tests.TestSupport;

/// <summary>
/// The project's shared reference folder (<c>shared/</c>, beside the repository or one of its parents):
/// found by walking up from the test binaries until a folder containing <c>shared/data</c> appears.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>Absolute path of the <c>shared</c> folder.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>A path under <c>shared/</c>, given as segments (e.g. "data", "models", "DeepSeek-V3.config.json").</summary>
    public static string PathOf(params string[] segments) => Path.Combine([Root, .. segments]);

    /// <summary>The text of a file under <c>shared/</c>.</summary>
    public static string ReadText(params string[] segments) => File.ReadAllText(PathOf(segments));

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "data")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"No folder containing shared/data above {AppContext.BaseDirectory}: the tests need the project's shared reference data.");
    }
}
