namespace MoePlan.Tests.Support;

/// <summary>
/// The public data the tests read (<c>tests/data</c>, provenance in its SOURCES.md): inside the repository, so a clone
/// alone runs every test.
/// </summary>
public static class TestData
{
    public static string Root => RepositoryPaths.PathOf("tests", "data");

    /// <summary>A path under <c>tests/data</c>, given as segments (e.g. "models", "DeepSeek-V3.config.json").</summary>
    public static string PathOf(params string[] segments) => Path.Combine([Root, .. segments]);

    public static string ReadText(params string[] segments) => File.ReadAllText(PathOf(segments));

    /// <summary>The SGLang team's six DeepSeek-V3 expert-load recordings, sorted by file name, in <c>plans/data</c> where
    /// the sample plans use them (not duplicated under tests/data).</summary>
    public static IReadOnlyList<string> SglangExpertLoadFiles =>
        Directory.GetFiles(RepositoryPaths.PathOf("plans", "data"), "deepseek-v3-sglang-*.json")
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)
            .ToArray();
}
