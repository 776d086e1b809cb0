using Xunit;

namespace MoePlan.Tests.Support;

/// <summary>
/// A section of a doc a test generates between <c>&lt;!-- NAME:begin --&gt;</c> and <c>&lt;!-- NAME:end --&gt;</c>: the test
/// fails when the doc holds anything else there, and with MOEPLAN_ACCEPT_BASELINES=1 writes it.
/// </summary>
public static class GeneratedDocSection
{
    public static void AssertCurrent(string docRelativePath, string name, string content)
    {
        var begin = $"<!-- {name}:begin -->\n";
        var end = $"<!-- {name}:end -->";
        var path = RepositoryPaths.PathOf(docRelativePath.Split('/'));
        var doc = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        var start = doc.IndexOf(begin, StringComparison.Ordinal);
        var stop = doc.IndexOf(end, StringComparison.Ordinal);
        Assert.True(start >= 0 && stop > start, $"{docRelativePath} lacks the {name} markers");
        var expected = doc[..(start + begin.Length)] + content + doc[stop..];
        if (Environment.GetEnvironmentVariable("MOEPLAN_ACCEPT_BASELINES") == "1")
        {
            File.WriteAllText(path, expected);
            doc = expected;
        }

        Assert.Equal(expected, doc);
    }
}
