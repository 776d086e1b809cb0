using System.Collections.Immutable;
using MoePlan.Core.Editing;
using MoePlan.Core.Text;
using MoePlan.Serving.Inputs;

namespace MoePlan.Cli.Files;

/// <summary>Reads plan files, imports and model configs from disk. Paths stay as the user wrote them (relative stays relative).</summary>
public sealed class FileSystemSourceResolver : ISourceResolver
{
    /// <summary>Files larger than this are refused: a plan or config.json is kilobytes, not gigabytes.</summary>
    public const long MaxFileBytes = InputFile.DefaultMaxBytes;

    /// <summary>
    /// <c>--set</c> overrides, applied to every plan read (a file with a deployment; imports hold none and are read as
    /// written).
    /// </summary>
    public ImmutableArray<PlanOverride> Overrides { get; init; } = [];

    public string Resolve(string fromFile, string path)
    {
        if (Path.IsPathRooted(path))
        {
            return path;
        }

        var directory = Path.GetDirectoryName(fromFile);
        var combined = string.IsNullOrEmpty(directory) ? path : Path.Combine(directory, path);
        return Normalize(combined);
    }

    /// <summary>Regular files only, at most <see cref="MaxFileBytes"/> read (<see cref="InputFile"/>).</summary>
    public bool TryRead(string resolvedPath, out string text, out string error)
    {
        if (!InputFile.TryReadText(resolvedPath, MaxFileBytes, out text, out error))
        {
            return false;
        }

        if (Overrides.IsEmpty)
        {
            return true;
        }

        var (overridden, problems) = PlanOverrides.Apply(text, resolvedPath, Overrides);
        if (overridden is null)
        {
            error = problems[0].Message;
            return false;
        }

        text = overridden;
        return true;
    }

    /// <summary>Folds "a/./b" and "a/x/../b" without making the path absolute.</summary>
    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Replace('\\', '/').Split('/'))
        {
            if (part == "." || part.Length == 0)
            {
                continue;
            }

            if (part == ".." && parts.Count > 0 && parts[^1] != "..")
            {
                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        var joined = string.Join('/', parts);
        return path.StartsWith('/') ? "/" + joined : joined;
    }
}
