namespace MoePlan.Cli.Options;

/// <summary>
/// The plan files a verb was given: files as named, every <c>*.moe</c> below a directory (sorted, so output is stable),
/// and <c>-</c> for standard input (once). A name that looks like an option is refused in the CLI's own words rather
/// than read as a file.
/// </summary>
internal static class PlanFiles
{
    /// <summary>The name a plan read from standard input is shown under.</summary>
    public const string StandardInput = "<stdin>";

    public static IReadOnlyList<string> Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        var stdin = false;
        foreach (var argument in arguments)
        {
            if (argument == "-")
            {
                if (stdin)
                {
                    throw new CliUsageException("'-' (standard input) may be given once");
                }

                stdin = true;
                files.Add(argument);
            }
            else if (argument.StartsWith('-'))
            {
                throw new CliUsageException($"unknown option '{argument}' (a file whose name starts with '-' can be given as ./{argument})");
            }
            else if (Directory.Exists(argument))
            {
                var found = Directory.GetFiles(argument, "*.moe", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                {
                    throw new CliUsageException($"no *.moe files in '{argument}'");
                }

                files.AddRange(found);
            }
            else
            {
                files.Add(argument);
            }
        }

        return files;
    }
}
