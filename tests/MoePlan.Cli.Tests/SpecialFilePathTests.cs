using System.CommandLine;
using System.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>
/// Every path the CLI reads, given a special file (a character device, a FIFO, a directory where a file is expected):
/// refused with a message naming the kind of file and exit 1 or 2, in bounded time, no stack trace, no output folder.
/// A FIFO would block the open for ever and /dev/zero would be read until memory runs out. The list of inputs is
/// checked against the command tree: a new option or argument described as a file or folder must be added here.
/// </summary>
public sealed class SpecialFilePathTests
{
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");
    private static readonly string H800 = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");
    private static readonly string Trace = RepositoryPaths.PathOf("plans", "data", "mooncake_synthetic_trace.jsonl");

    /// <summary>Input paths: the verb, the argument or option's name, and the command line with {path} where it goes.</summary>
    private static readonly (string Verb, string Name, string[] Arguments)[] Inputs =
    [
        ("check", "files", ["check", "{path}"]),
        ("fmt", "files", ["fmt", "{path}"]),
        ("compile", "file", ["compile", "{path}", "-o", "{out}"]),
        ("compile", "--templates", ["compile", Tiny, "-o", "{out}", "--templates", "{path}"]),
        ("compile", "--inventory", ["compile", Tiny, "-o", "{out}", "--inventory", "{path}"]),
        ("check", "--inventory", ["check", Tiny, "--inventory", "{path}"]),
        ("cost", "file", ["cost", "{path}"]),
        ("place", "plan", ["place", "{path}"]),
        ("place", "--load", ["place", H800, "--load", "{path}"]),
        ("place", "--evaluate", ["place", H800, "--evaluate", "{path}"]),
        ("run", "plan", ["run", "{path}"]),
        ("run", "--trace", ["run", Tiny, "--trace", "{path}", "--trace-format", "mooncake"]),
        ("run", "--scheduler", ["run", Tiny, "--scheduler", "{path}"]),
        ("search", "file", ["search", "{path}"]),
        ("init", "--model", ["init", "--model", "{path}", "--devices", "32", "--hardware", "h800", "--input", "100", "--output", "100", "-o", "{out}"]),
        ("bench", "--trace", ["bench", "http://127.0.0.1:9", "--trace", "{path}", "--trace-format", "mooncake"]),
        ("bench", "--plan", ["bench", "http://127.0.0.1:9", "--trace", Trace, "--plan", "{path}"]),
        ("proxy", "plan", ["proxy", "{path}", "--upstreams", "{upstreams}", "--port", "0"]),
        ("proxy", "--upstreams", ["proxy", Tiny, "--upstreams", "{path}", "--port", "0"]),
        ("proxy", "--scheduler", ["proxy", Tiny, "--upstreams", "{upstreams}", "--port", "0", "--scheduler", "{path}"]),
        ("engine", "plan", ["engine", "{path}", "--emulate", "--pool", "prefill", "--instance", "0", "--port", "0"]),
        ("calibrate", "measurements", ["calibrate", "{path}", "-o", "{out}"]),
    ];

    /// <summary>Paths the CLI writes, or arguments described with "file" that are not paths: not inputs.</summary>
    private static readonly HashSet<(string Verb, string Name)> NotInputs =
    [
        ("compile", "--output"), ("place", "--output"), ("search", "--output"), ("init", "--output-plan"), ("run", "--report"),
        ("bench", "--result-file"), ("check", "--docs-uri"), ("compile", "--target"), ("place", "--objective"),
        ("calibrate", "--output"),
    ];

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (verb, name, _) in Inputs)
        {
            foreach (var kind in new[] { "character-device", "fifo", "directory" })
            {
                // A folder is a valid input where the verb takes folders.
                if (kind == "directory" && ((verb is "check" or "fmt" && name == "files") || name == "--templates"))
                {
                    continue;
                }

                data.Add(verb, name, kind);
            }
        }

        return data;
    }

    [Fact]
    public void Every_path_the_command_tree_describes_as_a_file_or_folder_is_in_the_list()
    {
        var root = MoePlanCli.Build(TextWriter.Null, TextWriter.Null, TextReader.Null);
        var covered = Inputs.Select(i => (i.Verb, i.Name)).ToHashSet();
        var missing = new List<string>();
        foreach (var command in root.Subcommands)
        {
            var symbols = command.Arguments.Select(a => (a.Name, a.Description, a.ValueType))
                .Concat(command.Options.Select(o => (o.Name, o.Description, o.ValueType)));
            foreach (var (name, description, type) in symbols)
            {
                var isText = type == typeof(string) || type == typeof(string[]);
                var describesPath = description is not null
                    && (description.Contains("file", StringComparison.OrdinalIgnoreCase) || description.Contains("folder", StringComparison.OrdinalIgnoreCase) || description.Contains(".csx", StringComparison.Ordinal));
                if (isText && describesPath && !covered.Contains((command.Name, name)) && !NotInputs.Contains((command.Name, name)))
                {
                    missing.Add($"{command.Name} {name}: {description}");
                }
            }
        }

        Assert.True(missing.Count == 0, "paths not covered by the special-file cases:\n" + string.Join("\n", missing));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_special_file_is_refused_with_its_kind_in_bounded_time(string verb, string name, string kind)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var path = kind switch
            {
                "character-device" => "/dev/zero",
                "fifo" => MakeFifo(Path.Combine(folder, "pipe")),
                _ => Directory.CreateDirectory(Path.Combine(folder, "a-folder.moe")).FullName,
            };
            var upstreams = Path.Combine(folder, "upstreams.txt");
            File.WriteAllText(upstreams, "prefill 0 http://127.0.0.1:9\ndecode 0 http://127.0.0.1:9\n");
            var output = Path.Combine(folder, "out");
            var arguments = Inputs.Single(i => i.Verb == verb && i.Name == name).Arguments
                .Select(a => a.Replace("{path}", path, StringComparison.Ordinal).Replace("{out}", output, StringComparison.Ordinal).Replace("{upstreams}", upstreams, StringComparison.Ordinal))
                .ToArray();

            // In-process with a bound: a FIFO opened for reading would block this thread for ever.
            var run = Task.Run(() => CliRunner.Run(arguments));
            var first = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(first == run, $"moeplan {string.Join(' ', arguments)} did not end within 60 s");
            var (code, stdout, stderr) = await run;
            var printed = stdout + stderr;

            Assert.True(code is 1 or 2, $"exit {code}: {printed}");
            var expected = kind switch
            {
                "character-device" => "character device",
                "fifo" => "named pipe (FIFO)",
                _ => "directory",
            };
            Assert.Contains(expected, printed, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", printed, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled", printed, StringComparison.Ordinal);
            Assert.False(Directory.Exists(output), "an output folder was written");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string MakeFifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { RedirectStandardError = true })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }
}
