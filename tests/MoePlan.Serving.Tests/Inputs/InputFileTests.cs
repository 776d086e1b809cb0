using System.Diagnostics;
using MoePlan.Serving.Inputs;

namespace MoePlan.Serving.Tests.Inputs;

/// <summary>Special files are refused before they are opened; regular files are read with a cap that holds while reading.</summary>
public sealed class InputFileTests
{
    [Theory]
    [InlineData("/dev/zero", "character device")]
    [InlineData("/dev/urandom", "character device")]
    [InlineData("/tmp", "directory")]
    [InlineData("/no/such/file", "no such file")]
    public void Special_and_missing_files_are_refused(string path, string reason)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        Assert.Contains(reason, InputFile.Refusal(path), StringComparison.Ordinal);
        Assert.False(InputFile.TryReadText(path, 1024, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Null(InputFile.TryOpen(path, out error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fifo_is_refused_without_blocking()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var folder = Directory.CreateTempSubdirectory("moeplan-fifo-").FullName;
        try
        {
            var fifo = Path.Combine(folder, "pipe");
            using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
            {
                Assert.True(mkfifo.WaitForExit(10_000));
            }

            // Opening a FIFO for reading blocks until a writer comes; the refusal must come first, so run it on a task
            // with a bound rather than let a regression hang the test run.
            var read = Task.Run(() => (InputFile.TryReadText(fifo, 1024, out _, out var error), error));
            var (ok, error) = await read.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.False(ok);
            Assert.Contains("named pipe", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void The_cap_holds_while_reading()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, new string('x', 5000));
            Assert.True(InputFile.TryReadText(file, 5000, out var text, out _));
            Assert.Equal(5000, text.Length);
            Assert.False(InputFile.TryReadText(file, 4999, out _, out var error));
            Assert.Contains("more than 4999 bytes", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_proc_file_reporting_size_zero_is_read_within_the_cap()
    {
        if (!File.Exists("/proc/self/status"))
        {
            return;
        }

        // Length 0 in stat, yet it has content: only a cap enforced while reading bounds such files.
        Assert.Equal(0, new FileInfo("/proc/self/status").Length);
        Assert.True(InputFile.TryReadText("/proc/self/status", 1 << 20, out var text, out _));
        Assert.Contains("Name:", text, StringComparison.Ordinal);
    }
}
