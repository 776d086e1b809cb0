using DiffPlex.Renderer;

namespace MoePlan.Cli.Terminal;

/// <summary>A unified diff (`--- a/FILE`, `+++ b/FILE`, hunks with 3 lines of context) as git and patch read it.</summary>
internal static class PlanDiff
{
    public static string Unified(string file, string before, string after)
    {
        var text = new UnidiffRenderer(contextLines: 3).Generate(before, after, "a/" + file, "b/" + file, ignoreWhitespace: false);
        return text.EndsWith('\n') ? text : text + "\n";
    }
}
