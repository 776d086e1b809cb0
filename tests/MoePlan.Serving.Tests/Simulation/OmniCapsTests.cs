using MoePlan.Core.Workloads;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>
/// Omni Proxy's upstream choice (reference/omni-proxy.md): deepest APC match, then fewest queued tokens, then
/// fewest running, skipping upstreams over their token or sequence cap.
/// </summary>
public sealed class OmniCapsTests
{
    /// <summary>A proxy view written out by hand: per prefill instance, matched blocks, queued tokens and requests.</summary>
    private sealed class FixedView(int[] matched, long[] queuedTokens, int[] requests, int tokenCap) : IClusterView
    {
        public int PrefillInstances => matched.Length;

        public int DecodeInstances => 1;

        public bool ApcAware => true;

        public long PrefixCacheBlocks => 1000;

        public int PrefillTokenCap => tokenCap;

        public int MatchedBlocks(int prefill, long[] blocks) => matched[prefill];

        public long PrefillQueuedTokens(int prefill) => queuedTokens[prefill];

        public int PrefillRequests(int prefill) => requests[prefill];

        public int DecodeSequences(int decode) => 0;

        public double DecodeReservedTokens(int decode) => 0;

        public bool DecodeHasRoom(int decode, RequestState request) => true;
    }

    private static readonly RequestState Request = new(new ArrivingRequest(0, 0, 2048, 10, [1, 2, 3, 4]));

    private static int Choose(int[] matched, long[] tokens, int[] requests, int cap = 8192) =>
        new OmniPolicy().ChoosePrefill(Request, new FixedView(matched, tokens, requests, cap));

    [Fact]
    public void The_deepest_match_wins_while_it_is_under_its_caps()
    {
        // Instance 1 holds 3 of the 4 blocks; it is busier than 0 and 2 but under both caps.
        Assert.Equal(1, Choose([0, 3, 1], [0, 5000, 0], [0, 31, 0]));
    }

    [Fact]
    public void An_upstream_at_its_sequence_cap_is_skipped()
    {
        // 32 requests = omni_proxy_prefill_max_num_seqs: the next deepest match (instance 2) takes it.
        Assert.Equal(32, OmniPolicy.PrefillMaxNumSeqs);
        Assert.Equal(2, Choose([0, 3, 1], [0, 5000, 0], [0, 32, 0]));
    }

    [Fact]
    public void An_upstream_with_a_full_step_queued_is_skipped()
    {
        // 8192 queued tokens = the step's token cap: skipped; 0 and 2 tie on depth 0, 2 has fewer tokens.
        Assert.Equal(2, Choose([0, 3, 0], [100, 8192, 50], [1, 1, 1]));
    }

    [Fact]
    public void With_every_upstream_at_its_caps_the_request_waits_in_the_proxy()
    {
        Assert.Equal(-1, Choose([0, 3, 2], [9000, 9500, 10000], [40, 40, 40]));
        Assert.Equal(-1, Choose([0, 3, 2], [8192, 0, 0], [0, 32, 32]));
    }
}
