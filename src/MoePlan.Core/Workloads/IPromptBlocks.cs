namespace MoePlan.Core.Workloads;

/// <summary>A prompt's token count and its 512-token block ids, from its text (a tokenizer; the runtime has one).</summary>
public interface IPromptBlocks
{
    PromptBlocks Of(string prompt);
}

/// <param name="Blocks">ceil(tokens / 512) ids; equal ids mean equal token prefixes up to and including that block.</param>
public readonly record struct PromptBlocks(int Tokens, long[] Blocks);
