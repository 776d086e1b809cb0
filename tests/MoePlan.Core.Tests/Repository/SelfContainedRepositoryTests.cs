using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Repository;

/// <summary>
/// A clone of the repository alone must build and pass its tests: no file may name a folder beside the repository
/// or one machine's absolute paths, and the data the tests read lives in tests/data with its provenance.
/// </summary>
public sealed partial class SelfContainedRepositoryTests
{
    // The only file allowed to name the patterns: it has to spell them out.
    private const string ThisFile = "tests/MoePlan.Core.Tests/Repository/SelfContainedRepositoryTests.cs";

    private static readonly HashSet<string> SkippedFolders = new(StringComparer.Ordinal) { ".git", "bin", "obj", "TestResults", "BenchmarkDotNet.Artifacts" };

    [GeneratedRegex(@"/work/|\.\.[/\\]shared\b|shared/data|shared/reference|/home/[^/\s]+/|/root/|/Users/[^/\s]+/|[A-Za-z]:\\Users\\")]
    private static partial Regex OutsidePath();

    [Fact]
    public void No_file_names_a_path_outside_the_repository()
    {
        var files = RepositoryFiles();
        Assert.Contains(ThisFile, files);
        var offences = new List<string>();
        foreach (var file in files.Where(f => f != ThisFile))
        {
            var bytes = File.ReadAllBytes(RepositoryPaths.PathOf(file.Split('/')));
            if (bytes.AsSpan(0, Math.Min(bytes.Length, 8000)).Contains((byte)0))
            {
                continue; // binary
            }

            var lines = Encoding.UTF8.GetString(bytes).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (Match match in OutsidePath().Matches(lines[i]))
                {
                    offences.Add($"{file}:{i + 1}: {match.Value}");
                }
            }
        }

        Assert.True(offences.Count == 0, "paths outside the repository:\n" + string.Join('\n', offences));
    }

    [Fact]
    public void Every_file_under_tests_data_says_where_it_came_from()
    {
        var sources = File.ReadAllText(TestData.PathOf("SOURCES.md"));
        var unlisted = Directory.EnumerateFiles(TestData.Root, "*", SearchOption.AllDirectories)
            .Select(Path.GetFileName)
            .Where(name => name != "SOURCES.md" && !sources.Contains($"{name}`", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(unlisted);
    }

    /// <summary>Repository-relative paths ('/'-separated) of the files a clone has: git's list (tracked, plus new files
    /// not ignored) where git is at hand, else a walk of the tree without build output.</summary>
    private static List<string> RepositoryFiles()
    {
        var root = RepositoryPaths.Root;
        if (Path.Exists(Path.Combine(root, ".git")))
        {
            try
            {
                var start = new ProcessStartInfo("git", ["-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                using var git = Process.Start(start)!;
                var error = git.StandardError.ReadToEndAsync();
                var output = git.StandardOutput.ReadToEnd();
                git.WaitForExit();
                _ = error.Result;
                if (git.ExitCode == 0)
                {
                    // --cached still lists files deleted from the work tree but not yet from the index.
                    return output.Split('\0', StringSplitOptions.RemoveEmptyEntries)
                        .Where(p => File.Exists(Path.Combine(root, p)))
                        .ToList();
                }
            }
            catch (Win32Exception)
            {
                // No git on this machine: walk the tree instead.
            }
        }

        return Walk(new DirectoryInfo(root), "").ToList();
    }

    private static IEnumerable<string> Walk(DirectoryInfo directory, string prefix)
    {
        foreach (var file in directory.EnumerateFiles())
        {
            if (file.Name != ".git" && !file.Name.Contains(".received.", StringComparison.Ordinal))
            {
                yield return prefix + file.Name;
            }
        }

        foreach (var sub in directory.EnumerateDirectories().Where(d => !SkippedFolders.Contains(d.Name)))
        {
            foreach (var path in Walk(sub, prefix + sub.Name + "/"))
            {
                yield return path;
            }
        }
    }
}
