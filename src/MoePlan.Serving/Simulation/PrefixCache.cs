namespace MoePlan.Serving.Simulation;

/// <summary>
/// A prefix KV cache of whole blocks with least-recently-used eviction. A prompt hits its leading blocks up to
/// the first block the cache lacks (block ids identify a prefix, so a later block cannot be used without the
/// earlier ones).
/// </summary>
public sealed class PrefixCache
{
    private readonly Dictionary<long, LinkedListNode<long>> _nodes = [];
    private readonly LinkedList<long> _recency = new(); // most recent first

    public PrefixCache(long capacityBlocks)
    {
        CapacityBlocks = Math.Max(0, capacityBlocks);
    }

    public long CapacityBlocks { get; }

    public int Count => _nodes.Count;

    /// <summary>Leading blocks present, without touching them.</summary>
    public int Match(long[] blocks)
    {
        int n = 0;
        while (n < blocks.Length && _nodes.ContainsKey(blocks[n]))
        {
            n++;
        }

        return n;
    }

    /// <summary>Marks the first <paramref name="count"/> blocks as just used.</summary>
    public void Touch(long[] blocks, int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (_nodes.TryGetValue(blocks[i], out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
            }
        }
    }

    /// <summary>Stores every block of the prompt (most recent), evicting the least recently used beyond capacity.</summary>
    public void Insert(long[] blocks)
    {
        if (CapacityBlocks == 0)
        {
            return;
        }

        for (int i = 0; i < blocks.Length; i++)
        {
            if (_nodes.TryGetValue(blocks[i], out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
            }
            else
            {
                _nodes[blocks[i]] = _recency.AddFirst(blocks[i]);
            }
        }

        while (_nodes.Count > CapacityBlocks)
        {
            var last = _recency.Last!;
            _recency.RemoveLast();
            _nodes.Remove(last.Value);
        }
    }
}
