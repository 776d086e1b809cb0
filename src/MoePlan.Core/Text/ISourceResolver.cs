namespace MoePlan.Core.Text;

/// <summary>
/// How Core reads other files (imports, model config.json, load statistics) without doing I/O itself:
/// the CLI passes a file-system implementation, tests pass an in-memory one.
/// </summary>
public interface ISourceResolver
{
    /// <summary>Resolves <paramref name="path"/> relative to the file <paramref name="fromFile"/>; returns the path to show users.</summary>
    string Resolve(string fromFile, string path);

    /// <summary>Reads a resolved path. Returns false with a reason (not found, unreadable, too large) instead of throwing.</summary>
    bool TryRead(string resolvedPath, out string text, out string error);
}
