using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.ML.Tokenizers;
using MoePlan.Core.Workloads;

namespace MoePlan.Serving.Workloads;

/// <summary>
/// Real prompt text to tokens and 512-token block ids: OpenAI's cl100k_base encoding (Microsoft.ML.Tokenizers with its
/// data package; the exact tokenizer of the served model is not known to a trace, and cl100k_base is a widely used
/// BPE of typical granularity), and each block's id a chained XxHash64 of the previous block's hash and the block's
/// token ids, so two prompts share block i when their first min(512 (i + 1), length) tokens are equal (and, but for
/// a 63-bit hash collision, only then); the partial last block is included, as Mooncake's hash_ids count it.
/// </summary>
public sealed class TiktokenPromptBlocks : IPromptBlocks
{
    public const string Encoding = "cl100k_base";

    private static readonly Lazy<Tokenizer> Shared = new(() => TiktokenTokenizer.CreateForEncoding(Encoding));

    public PromptBlocks Of(string prompt)
    {
        var ids = Shared.Value.EncodeToIds(prompt);
        return new PromptBlocks(ids.Count, BlocksOf(ids));
    }

    /// <summary>The block ids of a prompt given as token ids (an OpenAI completions <c>prompt</c> may be a token array).</summary>
    public static long[] BlocksOf(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var blocks = new long[ArrivingRequest.BlocksFor(ids.Count)];
        var buffer = new byte[sizeof(ulong) + (sizeof(int) * ArrivingRequest.BlockTokens)];
        ulong previous = 0;
        for (int b = 0; b < blocks.Length; b++)
        {
            int first = b * ArrivingRequest.BlockTokens;
            int count = Math.Min(ArrivingRequest.BlockTokens, ids.Count - first);
            BinaryPrimitives.WriteUInt64LittleEndian(buffer, previous);
            for (int i = 0; i < count; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(sizeof(ulong) + (sizeof(int) * i)), ids[first + i]);
            }

            previous = XxHash64.HashToUInt64(buffer.AsSpan(0, sizeof(ulong) + (sizeof(int) * count)));
            // Non-negative like trace ids; 63 bits leave collisions negligible (about n^2 / 2^64 for n blocks).
            blocks[b] = (long)(previous & long.MaxValue);
        }

        return blocks;
    }
}
