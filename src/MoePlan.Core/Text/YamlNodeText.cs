using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Core.Text;

/// <summary>What the hand-written YAML readers (measurements, calibration profiles, inventories) say about a node:
/// its kind in words and its place as a <see cref="SourceSpan"/>.</summary>
public static class YamlNodeText
{
    /// <summary>The node's kind as a diagnostic names it ("a mapping", "a list", "empty", ...).</summary>
    public static string Kind(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode { Value: null or "" } => "empty",
        YamlScalarNode => "a single value",
        _ => "an alias",
    };

    /// <summary>A point span at <paramref name="mark"/> (YamlDotNet's marks are 1-based; clamped into <see cref="int"/>).</summary>
    public static SourceSpan Span(string path, Mark mark) =>
        new(path, (int)Math.Min(mark.Index, int.MaxValue), 0, (int)Math.Max(1, Math.Min(mark.Line, int.MaxValue)), (int)Math.Max(1, Math.Min(mark.Column, int.MaxValue)));
}
