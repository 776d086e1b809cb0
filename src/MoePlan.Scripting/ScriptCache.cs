using System.IO.Hashing;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;
using MoePlan.Scheduling;

namespace MoePlan.Scripting;

/// <summary>
/// Compiled script images on disk, keyed by a hash of the script text, the scheduler API assembly (its MVID),
/// the Roslyn version and the instrumentation version: a second run of the same script loads the image and
/// does not invoke the compiler. Files are written to a temporary name and renamed (atomic on one volume).
/// </summary>
internal sealed class ScriptCache(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>MOEPLAN_CACHE_DIR, else $XDG_CACHE_HOME/moeplan, else ~/.cache/moeplan; scripts in its scripts/ folder.</summary>
    public static string DefaultDirectory()
    {
        string root = Environment.GetEnvironmentVariable("MOEPLAN_CACHE_DIR") is { Length: > 0 } explicitDir ? explicitDir
            : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "moeplan")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "moeplan");
        return Path.Combine(root, "scripts");
    }

    public static string Key(string text, int instrumentationVersion)
    {
        var hash = new XxHash128();
        hash.Append(Encoding.UTF8.GetBytes(text));
        hash.Append(typeof(Scheduler).Assembly.ManifestModule.ModuleVersionId.ToByteArray());
        hash.Append(Encoding.UTF8.GetBytes(typeof(CSharpCompilation).Assembly.FullName ?? ""));
        hash.Append(BitConverter.GetBytes(instrumentationVersion));
        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    public bool TryRead(string key, out byte[] pe, out byte[] pdb)
    {
        string dll = Path.Combine(Directory, key + ".dll"), sym = Path.Combine(Directory, key + ".pdb");
        try
        {
            pe = File.ReadAllBytes(dll);
            pdb = File.ReadAllBytes(sym);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            pe = pdb = [];
            return false;
        }
    }

    /// <summary>Writes the image; a cache that cannot be written only costs a recompilation next time.</summary>
    public void Write(string key, byte[] pe, byte[] pdb)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            // The .pdb first: a reader takes the image only when the .dll is there, and then the .pdb is too.
            WriteAtomically(Path.Combine(Directory, key + ".pdb"), pdb);
            WriteAtomically(Path.Combine(Directory, key + ".dll"), pe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }
}
