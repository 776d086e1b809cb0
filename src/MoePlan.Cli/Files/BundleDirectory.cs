namespace MoePlan.Cli.Files;

/// <summary>
/// Writes an output folder all at once: files go to a temporary sibling folder, which is moved into place
/// only when complete, so a failure or a kill never leaves a half-written bundle. Every folder it writes holds a
/// manifest (<see cref="ManifestName"/>) of the files it wrote; <c>--force</c> replaces a folder only while it holds
/// nothing but those files, so it can never delete a plan, notes or anything else moeplan did not write (as terraform
/// and dotnet refuse such targets).
/// </summary>
public static class BundleDirectory
{
    /// <summary>The list of files moeplan wrote into the folder, one relative path a line after a comment.</summary>
    public const string ManifestName = ".moeplan-output";

    private const string ManifestHeader = "# written by moeplan: --force replaces this folder only while it holds nothing but these files";

    public static void Write(string outputDirectory, IReadOnlyDictionary<string, string> files, bool force) =>
        Write(outputDirectory, files, File.WriteAllText, force);

    /// <summary>Binary files too (PNG plots).</summary>
    public static void Write(string outputDirectory, IReadOnlyDictionary<string, byte[]> files, bool force) =>
        Write(outputDirectory, files, File.WriteAllBytes, force);

    /// <summary>Text and binary files together (a bundle with .npy patterns); text is written as by the text overload.</summary>
    public static void Write(string outputDirectory, IReadOnlyDictionary<string, string> text, IReadOnlyDictionary<string, byte[]> binary, bool force) =>
        Write(
            outputDirectory,
            text.Select(f => KeyValuePair.Create(f.Key, (object)f.Value)).Concat(binary.Select(f => KeyValuePair.Create(f.Key, (object)f.Value)))
                .ToDictionary(StringComparer.Ordinal),
            (path, content) =>
            {
                if (content is string s)
                {
                    File.WriteAllText(path, s);
                }
                else
                {
                    File.WriteAllBytes(path, (byte[])content);
                }
            },
            force);

    private static void Write<T>(string outputDirectory, IReadOnlyDictionary<string, T> files, Action<string, T> writeFile, bool force)
    {
        var full = Path.GetFullPath(outputDirectory);
        if (File.Exists(full))
        {
            throw new CliUsageException($"output path '{outputDirectory}' is a file");
        }

        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            if (!force)
            {
                throw new CliUsageException($"output folder '{outputDirectory}' is not empty; pass --force to replace it");
            }

            if (ForeignEntries(full) is { Count: > 0 } foreign)
            {
                throw new CliUsageException(
                    $"output folder '{outputDirectory}' holds files moeplan did not write ({string.Join(", ", foreign.Take(3))}{(foreign.Count > 3 ? $" and {foreign.Count - 3} more" : "")}); " +
                    "--force only replaces a folder moeplan wrote: choose a new or empty folder");
            }
        }

        var parent = Path.GetDirectoryName(full) ?? ".";
        var staging = Path.Combine(parent, $".{Path.GetFileName(full)}.moeplan-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(staging);
            var ordered = files.OrderBy(f => f.Key, StringComparer.Ordinal).ToList();
            foreach (var (relative, content) in ordered)
            {
                var target = Path.Combine(staging, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                writeFile(target, content);
            }

            File.WriteAllText(Path.Combine(staging, ManifestName), string.Join('\n', [ManifestHeader, .. ordered.Select(f => f.Key.Replace('\\', '/'))]) + "\n");
            if (Directory.Exists(full))
            {
                Directory.Delete(full, recursive: true);
            }

            Directory.Move(staging, full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw new CliUsageException($"cannot write '{outputDirectory}': {e.Message}");
        }
    }

    /// <summary>
    /// Entries of a non-empty folder that its manifest does not list (all of them when it has none), as relative paths;
    /// links count as foreign, so nothing behind one is ever deleted.
    /// </summary>
    private static List<string> ForeignEntries(string folder)
    {
        var manifest = Path.Combine(folder, ManifestName);
        var listed = new HashSet<string>(StringComparer.Ordinal) { ManifestName };
        if (File.Exists(manifest) && new FileInfo(manifest).LinkTarget is null)
        {
            foreach (var line in File.ReadLines(manifest).Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                listed.Add(line);
                // Every folder on the way to a listed file is ours too.
                for (var slash = line.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = line.IndexOf('/', slash + 1))
                {
                    listed.Add(line[..slash]);
                }
            }
        }
        else
        {
            listed.Clear();
        }

        var foreign = new List<string>();
        var pending = new Stack<string>([folder]);
        while (pending.Count > 0)
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(pending.Pop()).Order(StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(folder, entry).Replace('\\', '/');
                var info = new FileInfo(entry);
                if (!listed.Contains(relative) || info.LinkTarget is not null)
                {
                    foreign.Add(relative);
                }
                else if (Directory.Exists(entry))
                {
                    pending.Push(entry);
                }
            }
        }

        return foreign;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the staging folder is hidden and named as ours.
        }
    }
}
