using System.CommandLine;
using System.Text;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Formatting;
using MoePlan.Serving.Inputs;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan fmt FILE... [--check]</c>: rewrite plans in their canonical form, or report those that are not.</summary>
internal static class FmtCommand
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The UTF-8 byte order mark; kept when the file had one (<see cref="Utf8"/>'s own preamble is empty).</summary>
    private static readonly byte[] ByteOrderMark = [0xEF, 0xBB, 0xBF];

    public static Command Create(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var files = new Argument<string[]>("files") { Description = "Plan files (*.moe), folders (every *.moe below them), or - (standard input, formatted to standard output).", Arity = ArgumentArity.OneOrMore };
        var check = new Option<bool>("--check") { Description = "Write nothing; exit 1 when a file is not in canonical form." };
        var diff = new Option<bool>("--diff") { Description = "Write nothing; print a unified diff of what formatting would change, exit 1 when anything would." };
        var command = new Command("fmt", """
            Rewrite plans in the canonical form (docs/dsl.md, "Formatting"): two-space indentation, one setting
            per line (a block written on one line stays on one line), comments kept. Files are replaced
            atomically. Exit code 0 when every file is formatted (or, with --check, already canonical), 1 when
            a file does not parse or --check found one that would change, 2 for usage or I/O errors.

            Examples:
              moeplan fmt plans/deepseek-v3-h800.moe
              moeplan fmt --check plans/*.moe
              moeplan fmt --diff plans/
              moeplan fmt - < plan.moe > formatted.moe
            """)
        {
            files,
            check,
            diff,
        };
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(check), stdout, stderr, parse.GetValue(diff), stdin));
        return command;
    }

    public static int Run(string[] arguments, bool check, TextWriter stdout, TextWriter stderr, bool diff = false, TextReader? stdin = null)
    {
        var failed = false;
        foreach (var file in PlanFiles.Expand(arguments))
        {
            if (file == "-")
            {
                // A filter, as gofmt is: the formatted plan on standard output, diagnostics on standard error.
                var input = (stdin ?? Console.In).ReadToEnd();
                var formatted = PlanFormatter.Format(input, PlanFiles.StandardInput);
                if (formatted.Text is null)
                {
                    DiagnosticPrinter.WriteText(stderr, formatted.Diagnostics);
                    failed = true;
                }
                else if (diff || check)
                {
                    failed |= WriteDifference(stdout, PlanFiles.StandardInput, input, formatted.Text, diff);
                }
                else
                {
                    stdout.Write(formatted.Text);
                }

                continue;
            }

            var (text, bom) = Read(file);
            var result = PlanFormatter.Format(text, file);
            if (result.Text is null)
            {
                DiagnosticPrinter.WriteText(stdout, result.Diagnostics);
                stdout.WriteLine($"{file}: not formatted: {result.Diagnostics.Count(d => d.IsError)} error(s)");
                failed = true;
                continue;
            }

            if (string.Equals(result.Text, text, StringComparison.Ordinal))
            {
                stdout.WriteLine($"{file}: ok");
            }
            else if (check || diff)
            {
                failed |= WriteDifference(stdout, file, text, result.Text, diff);
            }
            else
            {
                WriteAtomically(file, result.Text, bom);
                stdout.WriteLine($"{file}: formatted");
            }
        }

        return failed ? ExitCodes.Diagnostics : ExitCodes.Ok;
    }

    /// <summary>Reports a file that would change: its name (--check) or a unified diff (--diff). True when it differs.</summary>
    private static bool WriteDifference(TextWriter stdout, string file, string before, string after, bool diff)
    {
        if (string.Equals(before, after, StringComparison.Ordinal))
        {
            stdout.WriteLine($"{file}: ok");
            return false;
        }

        if (diff)
        {
            stdout.Write(PlanDiff.Unified(file, before, after));
        }
        else
        {
            stdout.WriteLine($"{file}: would reformat");
        }

        return true;
    }

    private static (string Text, bool Bom) Read(string file)
    {
        if (InputFile.Refusal(file) is { } refusal)
        {
            throw new CliUsageException($"cannot read '{file}': {refusal}");
        }

        try
        {
            if (new FileInfo(file).Length > InputFile.DefaultMaxBytes)
            {
                throw new CliUsageException($"cannot read '{file}': it holds more than {InputFile.DefaultMaxBytes} bytes");
            }

            var bytes = File.ReadAllBytes(file);
            var bom = bytes.AsSpan().StartsWith(ByteOrderMark);
            return (Utf8.GetString(bom ? bytes[ByteOrderMark.Length..] : bytes), bom);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot read '{file}': {e.Message}");
        }
        catch (DecoderFallbackException)
        {
            throw new CliUsageException($"cannot read '{file}': not UTF-8 text");
        }
    }

    /// <summary>Writes a temporary sibling file, then moves it over the original: a kill never leaves half a plan.</summary>
    private static void WriteAtomically(string file, string text, bool bom)
    {
        var full = Path.GetFullPath(file);
        var temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.moeplan-fmt-{Guid.NewGuid():N}");
        try
        {
            var body = Utf8.GetBytes(text);
            File.WriteAllBytes(temp, bom ? [.. ByteOrderMark, .. body] : body);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Best effort: the temporary file is hidden and named as ours.
            }

            throw new CliUsageException($"cannot write '{file}': {e.Message}");
        }
    }
}
