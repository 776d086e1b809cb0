using System.Collections.Concurrent;
using MoePlan.Core.Text;

namespace MoePlan.LanguageServer;

/// <summary>An open document: its text as the editor holds it (not as saved), and the editor's version number.</summary>
public sealed record OpenDocument(string Uri, string Path, string Text, int Version);

/// <summary>
/// The documents the editor has open. Compiling reads through it: an import that is open in the editor is read as
/// typed, any other file through the resolver it wraps (the disk).
/// </summary>
public sealed class PlanWorkspace(ISourceResolver disk) : ISourceResolver
{
    private readonly ConcurrentDictionary<string, OpenDocument> _byPath = new(StringComparer.Ordinal);

    public OpenDocument? Find(string uri)
    {
        var path = PathOf(uri);
        return _byPath.TryGetValue(path, out var document) ? document : null;
    }

    public OpenDocument Open(string uri, string text, int version)
    {
        var document = new OpenDocument(uri, PathOf(uri), text, version);
        _byPath[document.Path] = document;
        return document;
    }

    public void Close(string uri) => _byPath.TryRemove(PathOf(uri), out _);

    public string Resolve(string fromFile, string path) => disk.Resolve(fromFile, path);

    public bool TryRead(string resolvedPath, out string text, out string error)
    {
        if (_byPath.TryGetValue(resolvedPath, out var open))
        {
            text = open.Text;
            error = "";
            return true;
        }

        return disk.TryRead(resolvedPath, out text, out error);
    }

    /// <summary>A file URI as a local path (what diagnostics name); any other URI stays as it is.</summary>
    public static string PathOf(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.IsFile ? parsed.LocalPath : uri;

    /// <summary>A path as a file URI; a path that is not absolute (or already a URI) stays as it is.</summary>
    public static string UriOf(string path) =>
        Path.IsPathFullyQualified(path) ? new Uri(path).AbsoluteUri : path;
}
