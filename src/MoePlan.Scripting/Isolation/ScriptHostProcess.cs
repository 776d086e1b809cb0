using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using static MoePlan.Scripting.Isolation.ScriptHostProtocol;

namespace MoePlan.Scripting.Isolation;

/// <summary>A failure the script host reported (it still runs).</summary>
internal sealed record HostFailure(FailureKind Kind, int Line, string ExceptionType, string Message);

/// <summary>The script host is gone: killed by the watchdog (<paramref name="TimedOut"/>) or dead on its own.</summary>
internal sealed class ScriptHostDiedException(bool timedOut, string detail) : Exception(detail)
{
    public bool TimedOut { get; } = timedOut;
}

/// <summary>
/// The child process that runs a script (<c>MoePlan.ScriptHost</c>), supervised: its GC heap is capped
/// (<c>DOTNET_GCHeapHardLimit</c>), each call has a wall-clock deadline (the per-call budget plus a grace) after
/// which a watchdog kills it, and its standard error is kept (bounded) to say why it died. The host only writes
/// and reads bytes: it never calls script code, so a script cannot take it down.
/// </summary>
internal sealed class ScriptHostProcess : IDisposable
{
    /// <summary>The child loads the runtime and the image: seconds on a loaded machine, never a minute.</summary>
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private const int StderrKeptChars = 4096;

    private readonly Process _process;
    private readonly BinaryWriter _writer;
    private readonly MemoryStream _message = new();
    private readonly BinaryWriter _messageWriter;
    private readonly Timer _watchdog;
    private readonly StringBuilder _stderr = new();
    private readonly TimeSpan _callLimit;
    private volatile bool _timedOut;
    private bool _dead;

    private ScriptHostProcess(Process process, TimeSpan callLimit)
    {
        _process = process;
        _callLimit = callLimit;
        _writer = new BinaryWriter(process.StandardInput.BaseStream);
        Reader = new BinaryReader(new BufferedStream(process.StandardOutput.BaseStream, 1 << 16));
        _messageWriter = new BinaryWriter(_message);
        _watchdog = new Timer(_ => Kill(timedOut: true));
    }

    /// <summary>The reply being read (after <see cref="Exchange"/> returned true).</summary>
    public BinaryReader Reader { get; }

    /// <summary>Starts the script host with the image and the budget; throws <see cref="ScriptHostDiedException"/> when it cannot.</summary>
    public static ScriptHostProcess Start(CompiledScheduler script, ScriptBudgetOptions budget)
    {
        var info = new ProcessStartInfo(DotnetPath())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(HostAssemblyPath());
        // The memory cap is the runtime's, not the script's cooperation: allocation past it is an OutOfMemoryException.
        info.Environment["DOTNET_GCHeapHardLimit"] = budget.HeapBytes.ToString("x", CultureInfo.InvariantCulture);
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        info.Environment["DOTNET_EnableCrashReport"] = "0";
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new ScriptHostDiedException(false, "the script host could not be started");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ScriptHostDiedException(false, $"the script host could not be started ({info.FileName}: {e.Message})");
        }

        var host = new ScriptHostProcess(process, budget.PerCall + budget.Grace);
        process.ErrorDataReceived += (_, e) => host.KeepStderr(e.Data);
        process.BeginErrorReadLine();
        host.Handshake(script, budget);
        return host;
    }

    private void Handshake(CompiledScheduler script, ScriptBudgetOptions budget)
    {
        var w = Begin(ScriptHostProtocol.Start);
        w.Write(script.Pe.Length);
        w.Write(script.Pe);
        w.Write(script.Pdb.Length);
        w.Write(script.Pdb);
        w.Write(budget.PerCall.TotalMilliseconds);
        w.Write(budget.AllocationBytes);
        w.Write(budget.MaxElements);
        // The child's own guard, for when this process is gone mid-call: well past the watchdog's deadline.
        w.Write((_callLimit + TimeSpan.FromSeconds(10)).TotalMilliseconds);
        Send(StartLimit);
        try
        {
            if (Reader.ReadByte() != Ready)
            {
                throw Violation("no Ready after Start");
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            throw Died();
        }
        finally
        {
            Disarm();
        }
    }

    /// <summary>A new message: the writer to fill it (one write to the pipe when sent).</summary>
    public BinaryWriter Begin(Hook hook)
    {
        var w = Begin(Call);
        w.Write((byte)hook);
        return w;
    }

    private BinaryWriter Begin(byte kind)
    {
        _message.SetLength(0);
        _messageWriter.Write(kind);
        return _messageWriter;
    }

    /// <summary>
    /// Sends the call and answers the child's queries until it replies: true with <see cref="Reader"/> at the value,
    /// or false with the failure it reported. Throws <see cref="ScriptHostDiedException"/> when it died or was killed.
    /// </summary>
    public bool Exchange(Func<Query, int, int, int> answer, out HostFailure? failure)
    {
        failure = null;
        Send(_callLimit);
        try
        {
            while (true)
            {
                switch (Reader.ReadByte())
                {
                    case Ask:
                        var query = (Query)Reader.ReadByte();
                        int request = Reader.ReadInt32(), argument = Reader.ReadInt32();
                        int value = answer(query, request, argument);
                        _writer.Write(Answer);
                        _writer.Write(value);
                        _writer.Flush();
                        break;
                    case Value:
                        EndCall();
                        return true;
                    case Failure:
                        failure = new HostFailure((FailureKind)Reader.ReadByte(), Reader.ReadInt32(), Reader.ReadString(), Reader.ReadString());
                        EndCall();
                        return false;
                    default:
                        throw Violation("an unknown message");
                }
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            throw Died();
        }
    }

    /// <summary>Reads the value of the reply (a child that died while writing it is reported as dead).</summary>
    public T ReadValue<T>(Func<BinaryReader, T> read)
    {
        try
        {
            return read(Reader);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            throw Died();
        }
    }

    /// <summary>The call's reply has come: the watchdog stands down. A kill that raced the reply counts.</summary>
    private void EndCall()
    {
        Disarm();
        if (_timedOut)
        {
            throw Died();
        }
    }

    private void Send(TimeSpan limit)
    {
        if (_dead)
        {
            throw new ScriptHostDiedException(false, "the script host is no longer running");
        }

        _watchdog.Change(limit, Timeout.InfiniteTimeSpan);
        try
        {
            _writer.Write(_message.GetBuffer(), 0, (int)_message.Length);
            _writer.Flush();
        }
        catch (IOException)
        {
            throw Died();
        }
    }

    private void Disarm() => _watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>The child broke the protocol (a script cannot write to the pipe, so this is a moeplan bug): it is ended.</summary>
    public ScriptHostDiedException Violation(string what)
    {
        Kill(timedOut: false);
        return new ScriptHostDiedException(false, $"the script host sent {what}");
    }

    private ScriptHostDiedException Died()
    {
        Disarm();
        _dead = true;
        if (!_process.WaitForExit(5000))
        {
            Kill(timedOut: _timedOut);
            _process.WaitForExit(5000);
        }

        // Waits for the end of its standard error too (what it said as it died).
        _process.WaitForExit();
        string stderr;
        lock (_stderr)
        {
            stderr = _stderr.ToString();
        }

        // A stack overflow is reported as one even when the watchdog ended it: printing the overflowed stack can
        // outlast the deadline.
        if (stderr.Contains("Stack overflow", StringComparison.Ordinal))
        {
            return new ScriptHostDiedException(false, "stack overflow (the script recursed where no budget check runs: compiler-generated or library code)");
        }

        if (_timedOut)
        {
            return new ScriptHostDiedException(true, $"did not return within {_callLimit.TotalMilliseconds:0} ms and was stopped from outside (the script host was killed)");
        }

        string cause = stderr.Contains("OutOfMemory", StringComparison.Ordinal) || stderr.Contains("out of memory", StringComparison.OrdinalIgnoreCase) ? "out of memory"
            : stderr.Split('\n').FirstOrDefault(l => l.Trim().Length > 0)?.Trim() is { } first ? Shorten(first)
            : "no message";
        return new ScriptHostDiedException(false, $"{cause} (exit code {_process.ExitCode})");
    }

    private static string Shorten(string line) => line.Length > 200 ? line[..200] + "..." : line;

    private void KeepStderr(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_stderr)
        {
            if (_stderr.Length < StderrKeptChars)
            {
                _stderr.AppendLine(line);
            }
        }
    }

    private void Kill(bool timedOut)
    {
        if (timedOut)
        {
            _timedOut = true;
        }

        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        _watchdog.Dispose();
        if (!_dead)
        {
            _dead = true;
            try
            {
                // End of input: the child's loop returns and it exits.
                _process.StandardInput.Close();
                if (!_process.WaitForExit(2000))
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
        }

        _process.Dispose();
    }

    /// <summary>MoePlan.ScriptHost.dll next to moeplan's own assemblies (the CLI and the tests reference the project).</summary>
    private static string HostAssemblyPath()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "MoePlan.ScriptHost.dll");
        return File.Exists(path) ? path : throw new ScriptHostDiedException(false, $"the script host is not installed ({path} is missing)");
    }

    /// <summary>The running <c>dotnet</c> (under <c>dotnet test</c> and <c>dotnet run</c>), else the one that owns this runtime.</summary>
    private static string DotnetPath()
    {
        string exe = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == exe)
        {
            return self;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ holds the core library; <root>/dotnet is the host.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(root, exe);
        return File.Exists(candidate) ? candidate : exe;
    }
}
