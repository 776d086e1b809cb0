namespace MoePlan.Cli.Files;

/// <summary>
/// Writes an output folder all at once: files go to a temporary sibling folder, which is moved into place
/// only when complete, so a failure or a kill never leaves a half-written bundle.
/// </summary>
public static class BundleDirectory
{
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
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any() && !force)
        {
            throw new CliUsageException($"output folder '{outputDirectory}' is not empty; pass --force to replace it");
        }

        if (File.Exists(full))
        {
            throw new CliUsageException($"output path '{outputDirectory}' is a file");
        }

        var parent = Path.GetDirectoryName(full) ?? ".";
        var staging = Path.Combine(parent, $".{Path.GetFileName(full)}.moeplan-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(staging);
            foreach (var (relative, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var target = Path.Combine(staging, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                writeFile(target, content);
            }

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
