namespace MoePlan.Core.Workloads;

/// <summary>
/// One request as it reaches the proxy. <see cref="Blocks"/> are the identities of its 512-token prompt blocks
/// (Mooncake's block size): equal ids mean equal prefixes up to and including that block, so equal ids can
/// reuse cached KV. A prompt of L tokens has ceil(L / 512) blocks.
/// </summary>
public sealed record ArrivingRequest(long Id, double ArrivalMilliseconds, int InputTokens, int OutputTokens, long[] Blocks)
{
    public const int BlockTokens = 512;

    public static int BlocksFor(int inputTokens) => (int)((inputTokens + (long)BlockTokens - 1) / BlockTokens);

    /// <summary>Block ids no trace or other request uses: a request without prefix information shares nothing.</summary>
    internal static long[] UniqueBlocks(int inputTokens, ref long next)
    {
        var blocks = new long[BlocksFor(inputTokens)];
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = next++;
        }

        return blocks;
    }

    /// <summary>Start of the id range for blocks moeplan makes up (traces use small non-negative ids).</summary>
    internal const long GeneratedBlockIdBase = 1L << 48;
}
