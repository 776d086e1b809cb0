using MoePlan.Core.Workloads;

namespace MoePlan.Proxy.Bench;

/// <summary>
/// Prompts for a trace's requests, as token ids (an OpenAI completions prompt may be a token array, which vLLM and
/// SGLang accept): exactly the trace's input length, and for each 512-token block the same tokens wherever the trace
/// uses the same block id, so requests that share a Mooncake hash-id prefix share a token prefix and the engines'
/// prefix caches (and the proxy's block hashing) see real sharing. Ids lie in [1000, 31000), inside every served model's
/// vocabulary.
/// </summary>
public static class TracePrompts
{
    public const int FirstId = 1000;
    public const int IdRange = 30_000;

    public static int[] TokenIds(ArrivingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ids = new int[request.InputTokens];
        for (int b = 0; b < request.Blocks.Length; b++)
        {
            int first = b * ArrivingRequest.BlockTokens;
            int count = Math.Min(ArrivingRequest.BlockTokens, ids.Length - first);
            ulong state = (ulong)request.Blocks[b];
            for (int j = 0; j < count; j++)
            {
                ids[first + j] = FirstId + (int)(SplitMix64(ref state) % IdRange);
            }
        }

        return ids;
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood 2014): a well-mixed sequence from a block id.</summary>
    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
