using System.Text.Json;
using MoePlan.Core.Catalog;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>
/// Hand-computable scenarios: the expected times are built here from the cost model's step times for the exact
/// batches (StepCostModel.Evaluate on shapes written out in the test), the KV bytes per token over the NIC, and
/// the stage costs docs/simulation.md defines (tokenisation 1 us per token; APC match and scheduling take no time).
/// </summary>
public sealed class ServingScenarioTests
{
    private const string Tiny = "qwen1.5-moe-tiny.moe";
    private const double PrefillImbalance = 1.1, DecodeImbalance = 1.2;

    private static readonly DeploymentPlan Plan = SimulationFixtures.Plan(Tiny);

    /// <summary>The tiny plan: Qwen1.5-MoE on 910C, 1 P and 1 D instance of dp 4 / tp 1 / ep 4, 60 + 4 slots, no overlap, no MTP.</summary>
    private static double StepMs(PoolRole role, double tokensPerRank, double sequencesPerRank, double context)
    {
        var a = Plan.Model.Entry.Architecture;
        var shape = new StepShape(role, tokensPerRank, sequencesPerRank, context, 1, 4, 4, 64, role == PoolRole.Prefill ? PrefillImbalance : DecodeImbalance, false, 0);
        return StepCostModel.Evaluate(a, ParameterCounter.Count(a), Plan.Precision, shape, PlanCostModel.Machine(Plan)).StepMilliseconds;
    }

    /// <summary>Prefill of tokens from several requests on the 4 DP ranks.</summary>
    private static double Prefill(int tokens, int sequences, double context) => StepMs(PoolRole.Prefill, tokens / 4.0, sequences / 4.0, context);

    private static double Decode(int sequences, double meanKv) => StepMs(PoolRole.Decode, sequences / 4.0, sequences / 4.0, meanKv);

    /// <summary>Qwen1.5-MoE is GQA: K and V, 16 KV heads x 128 dims x 24 layers x 2 bytes (bf16) = 196,608 bytes per token.</summary>
    private static double TransferMs(int tokens)
    {
        var machine = PlanCostModel.Machine(Plan);
        return tokens * 2.0 * 16 * 128 * 24 * 2 / (machine.ScaleOutBytesPerSecond * machine.Efficiency.ScaleOutEfficiency) * 1e3;
    }

    private static SimulationResult Run(IEnumerable<ArrivingRequest> requests, Func<ServingConfig, ServingConfig>? change = null, string policy = "omni")
    {
        var config = ServingConfig.FromPlan(Plan);
        config = change?.Invoke(config) ?? config;
        var steps = new CostModelStepTimes(Plan, PrefillImbalance, DecodeImbalance);
        return new ServingSimulation(config, steps, RoutingPolicies.Create(policy), retainRequests: true).Run(requests);
    }

    private static ArrivingRequest Request(long id, double at, int input, int output, params long[] blocks)
    {
        if (blocks.Length == 0)
        {
            blocks = new long[ArrivingRequest.BlocksFor(input)];
            for (int i = 0; i < blocks.Length; i++)
            {
                blocks[i] = (1000 * (id + 1)) + i;
            }
        }

        return new ArrivingRequest(id, at, input, output, blocks);
    }

    [Fact]
    public void Tiny_plan_geometry_is_the_plans()
    {
        var c = ServingConfig.FromPlan(Plan);
        Assert.Equal(ProxyMode.Sequential, c.Mode); // vllm engine: sequential by default
        Assert.Equal(4096 * 2, c.PrefillTokenCap); // 4096 per device x 2 packages (4 ranks of 2-die 910C)
        Assert.Equal(16 * 2, c.DecodeSequenceCap);
        Assert.Equal(16 * 2 * 2048.0, c.DecodeTokenCap);
        Assert.Equal(TransferMs(1000) / 1000, c.KvTransferMillisecondsPerToken, 12);
        Assert.True(c.PrefixCacheBlocks > 0);
    }

    [Fact]
    public void One_request_on_an_idle_deployment()
    {
        var result = Run([Request(0, 0, 300, 4)]);
        var r = Assert.Single(result.Completed);
        double tokenize = 300 * 1e-3;
        double prefill = Prefill(300, 1, 150); // each token attends to half the prompt on average
        double ttft = tokenize + prefill + TransferMs(300) + Decode(1, 300);
        Assert.Equal(ttft, r.FirstTokenMilliseconds, 9);
        double done = ttft + Decode(1, 301) + Decode(1, 302) + Decode(1, 303);
        Assert.Equal(done, r.Stamp(RequestStage.Done), 9);
        Assert.Equal(tokenize, r.Stamp(RequestStage.Tokenized), 12);
        Assert.Equal(tokenize + prefill, r.Stamp(RequestStage.DecodeWaiting), 9);

        var m = ServingMetrics.From(result);
        Assert.Equal(ttft, m.TtftMilliseconds.P99, 9);
        Assert.Equal((done - ttft) / 3, m.TpotMilliseconds.Mean, 9);
        Assert.Equal(1, m.Completed);
        // Stage means: tokenisation, prefill execution, exposed transfer, decoding.
        Assert.Equal(tokenize, m.StageMeanMilliseconds[(int)RequestStage.Received], 9);
        Assert.Equal(prefill, m.StageMeanMilliseconds[(int)RequestStage.Prefilling], 9);
        Assert.Equal(TransferMs(300), m.StageMeanMilliseconds[(int)RequestStage.DecodeScheduled], 9);
        Assert.Equal(done - ttft + Decode(1, 300), m.StageMeanMilliseconds[(int)RequestStage.Decoding], 9);
    }

    [Fact]
    public void The_rate_while_arriving_counts_the_tokens_out_by_the_last_arrival()
    {
        // Request 0 alone: its first token at ttft, its second one decode step later. Request 1 arrives halfway
        // through that second step, so by the last arrival exactly one output token exists.
        double ttft = (300 * 1e-3) + Prefill(300, 1, 150) + TransferMs(300) + Decode(1, 300);
        double last = ttft + (Decode(1, 301) / 2);
        var m = ServingMetrics.From(Run([Request(0, 0, 300, 4), Request(1, last, 100, 2)]));
        Assert.Equal(2, m.Completed);
        Assert.Equal(1 / (last / 1e3), m.OutputTokensPerSecondWhileArriving, 9);

        // The whole-run rate divides all 6 tokens by the span up to the last completion instead.
        Assert.Equal(6 / m.DurationSeconds, m.OutputTokensPerSecond, 9);
        Assert.True(double.IsNaN(ServingMetrics.From(Run([Request(0, 0, 300, 4)])).OutputTokensPerSecondWhileArriving));
    }

    [Fact]
    public void Omni_holds_a_request_at_the_proxy_while_the_instance_has_a_full_step_queued()
    {
        // One prefill instance, token cap 8,192 (Tiny_plan_geometry_is_the_plans). Request 0 (8,192 tokens) is
        // routed at 8.192 ms (tokenisation, 1 us per token) and starts a step at once; request 1 (8,192) is routed
        // at 9.192 ms and waits: a full step queued. Request 2 (300) is tokenised at 9.8 ms and finds the only
        // instance at its cap, so the proxy holds it until request 1's step starts (request 0's step ends) and
        // takes the tokens out of the queue.
        var result = Run([Request(0, 0, 8192, 2), Request(1, 1, 8192, 2), Request(2, 9.5, 300, 2)]);
        var r = result.Completed.OrderBy(x => x.Request.Id).ToArray();
        Assert.Equal(3, r.Length);
        Assert.Equal(9.8, r[2].Stamp(RequestStage.ApcMatched), 9);
        double firstStepEnds = 8.192 + Prefill(8192, 1, 4096);
        Assert.Equal(firstStepEnds, r[1].Stamp(RequestStage.Prefilling), 9);
        Assert.Equal(firstStepEnds, r[2].Stamp(RequestStage.PrefillWaiting), 9);

        // least-load has no caps: request 2 is queued as soon as it is tokenised.
        var plain = Run([Request(0, 0, 8192, 2), Request(1, 1, 8192, 2), Request(2, 9.5, 300, 2)], policy: "least-load");
        Assert.Equal(9.8, plain.Completed.Single(x => x.Request.Id == 2).Stamp(RequestStage.PrefillWaiting), 9);
    }

    [Fact]
    public void Two_requests_on_one_instance_share_each_step()
    {
        var result = Run([Request(0, 0, 300, 2), Request(1, 0, 300, 2)]);
        Assert.Equal(2, result.Completed.Count);
        double ttft = (300 * 1e-3) + Prefill(600, 2, 150) + TransferMs(300) + Decode(2, 300);
        double done = ttft + Decode(2, 301);
        foreach (var r in result.Completed)
        {
            Assert.Equal(ttft, r.FirstTokenMilliseconds, 9);
            Assert.Equal(done, r.Stamp(RequestStage.Done), 9);
        }

        Assert.Equal(1, result.Prefill[0].Steps);
        Assert.Equal(2, result.Decode[0].Steps);
    }

    [Fact]
    public void A_request_arriving_during_a_prefill_waits_for_the_step()
    {
        // Request 1 arrives 1 ms after request 0, while request 0 prefills alone.
        var result = Run([Request(0, 0, 300, 1), Request(1, 1, 300, 1)]);
        var second = result.Completed.Single(r => r.Request.Id == 1);
        double firstEnds = (300 * 1e-3) + Prefill(300, 1, 150);
        Assert.Equal(1 + (300 * 1e-3), second.Stamp(RequestStage.PrefillWaiting), 9);
        Assert.Equal(firstEnds, second.Stamp(RequestStage.PrefillScheduled), 9);
        Assert.Equal(firstEnds + Prefill(300, 1, 150), second.Stamp(RequestStage.DecodeWaiting), 9);
    }

    [Fact]
    public void A_prefix_hit_shortens_prefill()
    {
        // Request 1 starts with request 0's two blocks (1,024 tokens) and adds a third.
        var first = Request(0, 0, 1024, 1, 1, 2);
        var second = Request(1, 10_000, 1536, 1, 1, 2, 3);
        var result = Run([first, second]);
        var r = result.Completed.Single(x => x.Request.Id == 1);
        Assert.Equal(1024, r.CachedTokens);
        double prefill = Prefill(512, 1, 1024 + 256);
        double ttft = (1536 * 1e-3) + prefill + TransferMs(1536) + Decode(1, 1536);
        Assert.Equal(10_000 + ttft, r.FirstTokenMilliseconds, 9);
        Assert.True(prefill < Prefill(1536, 1, 768));

        var m = ServingMetrics.From(result);
        Assert.Equal(1024.0 / (1024 + 1536), m.ApcHitRate, 12);
    }

    [Fact]
    public void A_prompt_longer_than_a_step_is_prefilled_in_chunks()
    {
        // 8,192 tokens per step: a 10,000-token prompt takes a full chunk, then 1,808 tokens that attend to the first 8,192.
        var result = Run([Request(0, 0, 10_000, 1)], c => c with { DecodeTokenCap = 1e9 });
        var r = Assert.Single(result.Completed);
        double prefill = Prefill(8192, 1, 4096) + Prefill(1808, 1, 8192 + 904);
        Assert.Equal((10_000 * 1e-3) + prefill, r.Stamp(RequestStage.DecodeWaiting), 9);
        Assert.Equal(2, result.Prefill[0].Steps);
    }

    [Fact]
    public void One_request_takes_a_counted_number_of_events()
    {
        // Arrival, routed, prefill schedule, prefill step done, KV ready, then per decode step (1 token each, no MTP)
        // a schedule and a step done: 5 + 2 x 4 = 13.
        var result = Run([Request(0, 0, 300, 4)]);
        Assert.Equal(13, result.Events);
    }

    [Fact]
    public void Without_retaining_only_the_figures_are_kept()
    {
        var config = ServingConfig.FromPlan(Plan);
        var steps = new CostModelStepTimes(Plan, PrefillImbalance, DecodeImbalance);
        var kept = Run(SyntheticWorkload.Generate(Plan.Workload, 200, 5));
        var streamed = new ServingSimulation(config, steps, RoutingPolicies.Create("omni")).Run(SyntheticWorkload.Generate(Plan.Workload, 200, 5));
        Assert.Empty(streamed.Completed);
        Assert.Equal(kept.Completed.Count, streamed.CompletedCount);
        Assert.Equal(JsonSerializer.Serialize(ServingMetrics.From(kept)), JsonSerializer.Serialize(ServingMetrics.From(streamed)));
        // The figures against the retained requests, computed here: TTFT p50 by numpy's rule, E2E mean.
        var ttft = kept.Completed.Select(r => r.FirstTokenMilliseconds - r.Stamp(RequestStage.Received)).OrderBy(x => x).ToArray();
        double h = 0.5 * (ttft.Length - 1);
        int lo = (int)h;
        Assert.Equal(ttft[lo] + ((h - lo) * (ttft[lo + 1] - ttft[lo])), ServingMetrics.From(streamed).TtftMilliseconds.P50, 9);
        Assert.Equal(kept.Completed.Average(r => r.Stamp(RequestStage.Done) - r.Stamp(RequestStage.Received)), ServingMetrics.From(streamed).E2eMilliseconds.Mean, 6);
    }

    /// <summary>
    /// NIC contention: two prompts prefilled in one step leave for the one decode instance at the same moment. With a
    /// single link at one end they go one after the other (FIFO): the second's KV is ready two transfer times after
    /// the prefill; with two links at both ends both are ready after one. The transfer is slowed to 1 ms per token
    /// (300 ms per prompt) so each KV arrives while the decode instance is idle.
    /// </summary>
    [Theory]
    [InlineData(4, 1)]
    [InlineData(1, 4)]
    public void Simultaneous_transfers_share_a_nic_link_first_come_first_served(int prefillLinks, int decodeLinks)
    {
        const double PerToken = 1.0, Transfer = 300 * PerToken;
        var requests = new[] { Request(0, 0, 300, 1), Request(1, 0, 300, 1) };
        var shared = Run(requests, c => c with { KvTransferMillisecondsPerToken = PerToken, PrefillNicLinks = prefillLinks, DecodeNicLinks = decodeLinks });
        // Both tokenised in 0.3 ms (each its own), then prefilled together in one step.
        double prefilled = (300 * 1e-3) + Prefill(600, 2, 150);
        var first = shared.Completed.Single(r => r.Request.Id == 0);
        var second = shared.Completed.Single(r => r.Request.Id == 1);
        Assert.Equal(prefilled + Transfer + Decode(1, 300), first.FirstTokenMilliseconds, 9);
        Assert.Equal(prefilled + (2 * Transfer) + Decode(1, 300), second.FirstTokenMilliseconds, 9);

        var apart = Run(requests, c => c with { KvTransferMillisecondsPerToken = PerToken, PrefillNicLinks = 2, DecodeNicLinks = 2 });
        foreach (var r in apart.Completed)
        {
            Assert.Equal(prefilled + Transfer + Decode(2, 300), r.FirstTokenMilliseconds, 9);
        }
    }

    /// <summary>
    /// Parallel mode on one decode link: both prompts' KV is pushed from the prefill's start (0.3 ms, after
    /// tokenisation); the transfer (300 ms) outlasts the prefill, so the first is ready at 0.3 + 300 ms and the
    /// second, queued behind it on the link, at 0.3 + 600 ms.
    /// </summary>
    [Fact]
    public void Parallel_mode_pushes_share_the_link_too()
    {
        const double PerToken = 1.0, Transfer = 300 * PerToken;
        var result = Run([Request(0, 0, 300, 1), Request(1, 0, 300, 1)], c => c with { Mode = ProxyMode.Parallel, KvTransferMillisecondsPerToken = PerToken, DecodeNicLinks = 1 });
        double start = 300 * 1e-3;
        Assert.True(Prefill(600, 2, 150) < Transfer);
        Assert.Equal(start + Transfer + Decode(1, 300), result.Completed.Single(r => r.Request.Id == 0).FirstTokenMilliseconds, 9);
        Assert.Equal(start + (2 * Transfer) + Decode(1, 300), result.Completed.Single(r => r.Request.Id == 1).FirstTokenMilliseconds, 9);
    }

    [Fact]
    public void Parallel_mode_hides_the_kv_transfer()
    {
        var sequential = Assert.Single(Run([Request(0, 0, 300, 1)], c => c with { Mode = ProxyMode.Sequential }).Completed);
        var parallel = Assert.Single(Run([Request(0, 0, 300, 1)], c => c with { Mode = ProxyMode.Parallel }).Completed);
        // Parallel pushes KV layer by layer during prefill (the transfer, 2.9 ms, is shorter than the prefill):
        // only the last of the 24 layers' share is left after the prefill ends.
        double transfer = TransferMs(300);
        Assert.True(transfer < Prefill(300, 1, 150));
        Assert.Equal(transfer - (transfer / 24), sequential.FirstTokenMilliseconds - parallel.FirstTokenMilliseconds, 9);
    }

    [Fact]
    public void Without_tokenizer_reuse_tokenisation_counts_twice()
    {
        var reuse = Assert.Single(Run([Request(0, 0, 300, 1)], c => c with { TokenizerReuse = true }).Completed);
        var noReuse = Assert.Single(Run([Request(0, 0, 300, 1)], c => c with { TokenizerReuse = false }).Completed);
        Assert.Equal(0.3, reuse.Stamp(RequestStage.Tokenized), 12);
        Assert.Equal(0.6, noReuse.Stamp(RequestStage.Tokenized), 12);
        Assert.Equal(0.3, noReuse.FirstTokenMilliseconds - reuse.FirstTokenMilliseconds, 9);
    }

    [Fact]
    public void Every_request_completes_or_is_rejected_and_stages_are_in_order()
    {
        var synthetic = SyntheticWorkload.Generate(Plan.Workload, 300).ToList();
        // Prompt + output beyond a decode instance's 65,536 KV tokens: rejected.
        synthetic.Add(Request(10_000, synthetic[^1].ArrivalMilliseconds + 1, 70_000, 10));
        var result = Run(synthetic);
        Assert.Equal(301, result.Arrived);
        Assert.Equal(300, result.Completed.Count);
        var rejected = Assert.Single(result.Rejected);
        Assert.Equal(10_000, rejected.Request.Id);
        var ids = new HashSet<long>();
        foreach (var r in result.Completed)
        {
            Assert.True(ids.Add(r.Request.Id));
            for (int s = 1; s < RequestState.StageCount; s++)
            {
                Assert.True(r.Stamps[s] >= r.Stamps[s - 1], $"request {r.Request.Id}: stage {(RequestStage)s} before {(RequestStage)(s - 1)}");
            }
        }
    }

    [Fact]
    public void Same_seed_gives_identical_metrics()
    {
        string Once() => JsonSerializer.Serialize(ServingMetrics.From(Run(SyntheticWorkload.Generate(Plan.Workload, 300, 7))));
        Assert.Equal(Once(), Once());
        var other = JsonSerializer.Serialize(ServingMetrics.From(Run(SyntheticWorkload.Generate(Plan.Workload, 300, 8))));
        Assert.NotEqual(Once(), other);
    }

    [Fact]
    public void Policies_not_built_give_a_clear_error()
    {
        Assert.False(RoutingPolicies.TryCreate("script", out _, out var error));
        Assert.Contains("a script policy needs its file", error, StringComparison.Ordinal);
        Assert.False(RoutingPolicies.TryCreate("random", out _, out error));
        Assert.Contains("unknown proxy policy 'random'", error, StringComparison.Ordinal);
        // Every built policy of the catalog is constructed (six kinds, named as users type them).
        Assert.Equal("omni round-robin least-load cache-aware global-proxy kv-cost", string.Join(" ", MoePlan.Core.Plan.RoutingPolicyCatalog.BuiltNames));
        foreach (var entry in MoePlan.Core.Plan.RoutingPolicyCatalog.Built)
        {
            Assert.True(RoutingPolicies.TryCreate(entry.Name, out var policy, out _), entry.Name);
            Assert.Equal(entry.Kind.ToString(), policy!.GetType().Name.Replace("Policy", "", StringComparison.Ordinal));
        }

        foreach (var name in RoutingPolicyCatalog.BuiltNames)
        {
            Assert.Equal(name, RoutingPolicies.Create(name).Name);
        }
    }
}
