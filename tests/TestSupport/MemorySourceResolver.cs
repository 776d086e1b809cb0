using MoePlan.Core.Text;

namespace MoePlan.Tests.Support;

/// <summary>Files held in memory by relative path; lets Core tests compile plans without the CLI's disk access.</summary>
public sealed class MemorySourceResolver(IReadOnlyDictionary<string, string> files, bool readRepository = false) : ISourceResolver
{
    /// <summary>Loads the given repository-relative files from disk (test setup only); any other repository file a
    /// plan names (imports, load statistics) is read from the repository when asked for.</summary>
    public static MemorySourceResolver FromRepository(params string[] relativePaths) =>
        new(relativePaths.ToDictionary(p => p, p => File.ReadAllText(RepositoryPaths.PathOf(p.Split('/'))), StringComparer.Ordinal), readRepository: true);

    public string Resolve(string fromFile, string path)
    {
        var directory = fromFile.Contains('/') ? fromFile[..fromFile.LastIndexOf('/')] : "";
        var parts = new List<string>(directory.Length == 0 ? [] : directory.Split('/'));
        foreach (var part in path.Split('/'))
        {
            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else if (part != ".")
            {
                parts.Add(part);
            }
        }

        return string.Join('/', parts);
    }

    public bool TryRead(string resolvedPath, out string text, out string error)
    {
        if (files.TryGetValue(resolvedPath, out var found))
        {
            text = found;
            error = "";
            return true;
        }

        var onDisk = RepositoryPaths.PathOf(resolvedPath.Split('/'));
        if (readRepository && !resolvedPath.StartsWith('/') && File.Exists(onDisk))
        {
            text = File.ReadAllText(onDisk);
            error = "";
            return true;
        }

        text = "";
        error = "no such file";
        return false;
    }
}
