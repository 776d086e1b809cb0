using MoePlan.Core.Text;

namespace MoePlan.Cli.Files;

/// <summary>Reads plan files, imports and model configs from disk. Paths stay as the user wrote them (relative stays relative).</summary>
public sealed class FileSystemSourceResolver : ISourceResolver
{
    /// <summary>Files larger than this are refused: a plan or config.json is kilobytes, not gigabytes.</summary>
    public const long MaxFileBytes = 64L * 1024 * 1024;

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

    public bool TryRead(string resolvedPath, out string text, out string error)
    {
        text = "";
        try
        {
            var info = new FileInfo(resolvedPath);
            if (Directory.Exists(resolvedPath))
            {
                error = "it is a directory";
                return false;
            }

            if (!info.Exists)
            {
                error = "no such file";
                return false;
            }

            if (info.Length > MaxFileBytes)
            {
                error = $"file is {info.Length} bytes, over the {MaxFileBytes} byte limit";
                return false;
            }

            text = File.ReadAllText(resolvedPath);
            error = "";
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = e.Message;
            return false;
        }
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
