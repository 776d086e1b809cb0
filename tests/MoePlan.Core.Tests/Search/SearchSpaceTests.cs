using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using Xunit;

namespace MoePlan.Core.Tests.Search;

public sealed class SearchSpaceTests
{
    [Theory]
    [InlineData("decode.dp=8,16,32", SearchDimension.DecodeDataParallel, new[] { 8, 16, 32 })]
    [InlineData("prefill.instances=1..4", SearchDimension.PrefillInstances, new[] { 1, 2, 3, 4 })]
    [InlineData("decode.max_batch=16..128*2", SearchDimension.DecodeMaxBatch, new[] { 16, 32, 64, 128 })]
    [InlineData("decode.max_batch=16..100*2", SearchDimension.DecodeMaxBatch, new[] { 16, 32, 64 })]
    [InlineData("decode.ep=dp", SearchDimension.DecodeExpertParallel, new[] { SweepDimensions.SameAsDataParallel })]
    [InlineData("prefill.ep==dp", SearchDimension.PrefillExpertParallel, new[] { SweepDimensions.SameAsDataParallel })]
    [InlineData("decode.mtp=on,off", SearchDimension.DecodeMtp, new[] { 1, 0 })]
    [InlineData("prefill.overlap=off", SearchDimension.PrefillOverlap, new[] { 0 })]
    [InlineData("placement.redundant_experts=0,32", SearchDimension.RedundantExperts, new[] { 0, 32 })]
    [InlineData("decode.tp=1, 2 ,4", SearchDimension.DecodeTensorParallel, new[] { 1, 2, 4 })]
    [InlineData("decode.max_batch=64 to 256 step 64", SearchDimension.DecodeMaxBatch, new[] { 64, 128, 192, 256 })]
    [InlineData("decode.max_batch=64..250 step 64", SearchDimension.DecodeMaxBatch, new[] { 64, 128, 192 })]
    [InlineData("decode.max_batch=16 to 128 doubling", SearchDimension.DecodeMaxBatch, new[] { 16, 32, 64, 128 })]
    [InlineData("decode.dp=8 16 20 to 22", SearchDimension.DecodeDataParallel, new[] { 8, 16, 20, 21, 22 })]
    [InlineData("proxy.mode=sequential,parallel", SearchDimension.ProxyMode, new[] { 0, 1 })]
    [InlineData("proxy.policy=round-robin,omni", SearchDimension.ProxyPolicy, new[] { 1, 0 })]
    public void Vary_parses_lists_ranges_doubling_and_same_as_dp(string text, SearchDimension dimension, int[] values)
    {
        var parsed = SearchSpace.ParseVary(text, out var error);
        Assert.True(parsed is not null, error);
        Assert.Equal(dimension, parsed.Dimension);
        Assert.Equal(values, parsed.Values);
    }

    [Theory]
    [InlineData("decode.pp=2", "unknown name 'decode.pp'")]
    [InlineData("decode.dp", "expected NAME=VALUES")]
    [InlineData("decode.dp=", "no values")]
    [InlineData("decode.dp=a", "'a' is not a non-negative integer")]
    [InlineData("decode.dp=8..4", "is not a range")]
    [InlineData("decode.dp=-1", "is not a non-negative integer")]
    [InlineData("decode.dp=0,8", "at least 1")]
    [InlineData("decode.dp=0..8*2", "must start above 0")]
    [InlineData("decode.mtp=yes", "'yes' is not on or off")]
    [InlineData("decode.dp=dp", "'dp' is not a non-negative integer")]
    [InlineData("decode.dp=8 step 2", "`step` follows a range")]
    [InlineData("decode.dp=8 to 16 step 0", "the step must be a whole number of 1 or more")]
    [InlineData("decode.dp=8 to", "'8 to' needs a non-negative integer after it")]
    [InlineData("decode.dp=8..16*2 step 2", "`step` follows a range")]
    [InlineData("proxy.mode=fast", "'fast' is not sequential or parallel")]
    [InlineData("proxy.policy=script", "'script' is not a proxy policy")]
    public void Bad_vary_values_say_what_is_wrong(string text, string message)
    {
        Assert.Null(SearchSpace.ParseVary(text, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
    }
}
