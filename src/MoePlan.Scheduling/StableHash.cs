using System.Text;

namespace MoePlan.Scheduling;

/// <summary>
/// A hash that is the same in every process and on every machine: 64-bit FNV-1a (Fowler, Noll, Vo) over the
/// value's bytes. <c>string.GetHashCode()</c> (and <c>HashCode</c>, and the hash of anything holding a string:
/// records, tuples, <c>EqualityComparer</c>, <c>StringComparer</c>) is randomised per process, so a decision taken
/// from it would make two runs of the same plan and seed differ; the script check rejects those calls. Use this
/// instead (e.g. <c>(int)(StableHash.Of(request.Id) % (ulong)cluster.Prefill.Count)</c>).
/// </summary>
public static class StableHash
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    /// <summary>FNV-1a of the string's UTF-8 bytes.</summary>
    public static ulong Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Bytes(OffsetBasis, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>FNV-1a of the value's eight bytes, least significant first.</summary>
    public static ulong Of(long value)
    {
        ulong h = OffsetBasis;
        for (int i = 0; i < 8; i++)
        {
            h = (h ^ (byte)(value >> (8 * i))) * Prime;
        }

        return h;
    }

    /// <summary>Two hashes as one (order matters): FNV-1a of <paramref name="second"/>'s bytes continued from <paramref name="first"/>.</summary>
    public static ulong Combine(ulong first, ulong second)
    {
        ulong h = first;
        for (int i = 0; i < 8; i++)
        {
            h = (h ^ (byte)(second >> (8 * i))) * Prime;
        }

        return h;
    }

    private static ulong Bytes(ulong h, byte[] bytes)
    {
        foreach (byte b in bytes)
        {
            h = (h ^ b) * Prime;
        }

        return h;
    }
}
