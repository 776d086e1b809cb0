using System.Runtime.InteropServices;
using System.Text;

namespace MoePlan.Serving.Inputs;

/// <summary>
/// How moeplan opens a file a user names (plans, imports, config.json, load files, traces, scripts, templates): only
/// regular files, and text read with a byte cap enforced while reading. A character device (<c>/dev/zero</c>) would be
/// read until memory runs out and reports a length of 0 to a size check; a FIFO blocks the open for ever; both are
/// refused before they are opened.
/// </summary>
public static class InputFile
{
    /// <summary>Plans, imports, config.json, load files and scripts are kilobytes to megabytes, never gigabytes.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>Why <paramref name="path"/> cannot be read as an input file, or null when it is a regular file.</summary>
    public static string? Refusal(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            return "it is a directory";
        }

        if (!File.Exists(path))
        {
            return "no such file";
        }

        return FileKind(path) switch
        {
            null or Kind.Regular => null,
            Kind.Fifo => "it is a named pipe (FIFO), not a regular file",
            Kind.CharacterDevice => "it is a character device, not a regular file",
            Kind.BlockDevice => "it is a block device, not a regular file",
            Kind.Socket => "it is a socket, not a regular file",
            _ => "it is not a regular file",
        };
    }

    /// <summary>
    /// Reads a regular file as text (UTF-8, or as its byte-order mark says), refusing it when it holds more than
    /// <paramref name="maxBytes"/> bytes; false with a reason instead of an exception.
    /// </summary>
    public static bool TryReadText(string path, long maxBytes, out string text, out string error)
    {
        text = "";
        if (Refusal(path) is { } refusal)
        {
            error = refusal;
            return false;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            using var buffer = new MemoryStream();
            var chunk = new byte[64 * 1024];
            int read;
            while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                // The cap holds while reading: a file that grows, or a /proc file reporting size 0, stops here.
                if (buffer.Length + read > maxBytes)
                {
                    error = $"it holds more than {maxBytes} bytes, the limit for this kind of file";
                    return false;
                }

                buffer.Write(chunk, 0, read);
            }

            buffer.Position = 0;
            using var reader = new StreamReader(buffer, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            text = reader.ReadToEnd();
            error = "";
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>Opens a regular file to stream it (a trace of any length); null with a reason when it is not one.</summary>
    public static FileStream? TryOpen(string path, out string error)
    {
        if (Refusal(path) is { } refusal)
        {
            error = refusal;
            return null;
        }

        try
        {
            error = "";
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = e.Message;
            return null;
        }
    }

    private enum Kind
    {
        Fifo = 0x1000,
        CharacterDevice = 0x2000,
        Directory = 0x4000,
        BlockDevice = 0x6000,
        Regular = 0x8000,
        Link = 0xA000,
        Socket = 0xC000,
    }

    /// <summary>
    /// The file's type from stat(2) (following links), through the .NET runtime's own native shim (libSystem.Native,
    /// SystemNative_Stat, whose FileStatus starts with Flags and Mode as int32 and uses the POSIX S_IFMT bits); null
    /// where that is not available (Windows has no FIFOs or devices in the file system).
    /// </summary>
    private static Kind? FileKind(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            // FileStatus is about 130 bytes; a larger buffer leaves room for fields later runtimes add.
            var status = new byte[512];
            return NativeStat(path, status) == 0 ? (Kind)(BitConverter.ToInt32(status, 4) & 0xF000) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
    private static extern int NativeStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] output);
}
