using MoePlan.Serving.Inputs;

namespace MoePlan.Cli.Options;

/// <summary>
/// The CLI's check of a path it will read, before any work: missing or a directory is a usage error (exit 2) in the
/// words <see cref="InputFile"/> uses. Devices, FIFOs and sockets pass on to the reader of that kind of file, which
/// refuses them without opening them as a located, coded diagnostic (MP4008, MP5xxx).
/// </summary>
internal static class InputPaths
{
    /// <summary>Why <paramref name="path"/> cannot be read as a file, phrased for the CLI; null when it can.</summary>
    public static string? Problem(string path, string what = "") =>
        Directory.Exists(path) || !File.Exists(path) ? $"cannot read {what}'{path}': {InputFile.Refusal(path)}" : null;

    /// <summary>Throws the usage error when <paramref name="path"/> cannot be read as a file.</summary>
    public static void RequireFile(string path, string what = "")
    {
        if (Problem(path, what) is { } problem)
        {
            throw new CliUsageException(problem);
        }
    }

    /// <summary>Why <paramref name="path"/> is not a folder moeplan can read, or null when it is one.</summary>
    public static string? FolderProblem(string path, string what) =>
        Directory.Exists(path)
            ? null
            : File.Exists(path)
                ? $"{what} '{path}' is not a folder ({InputFile.Refusal(path) ?? "it is a file"})"
                : $"{what} '{path}' does not exist";
}
