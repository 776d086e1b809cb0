using System.Text.Json;
using MoePlan.Core.Catalog;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>
/// Aggregated serving (<c>serve { }</c>): one kind of instance whose steps carry the decode batch and prompt chunks.
/// Expected times are built here from StepCostModel on shapes written out in the test.
/// </summary>
public sealed class AggregatedServingTests
{
    private const string Aggregated = "qwen3-235b-h200-aggregated.moe";
    private const double PrefillImbalance = 1.1, DecodeImbalance = 1.2;

    private static readonly DeploymentPlan Plan = SimulationFixtures.Plan(Aggregated);

    /// <summary>The sample plan: Qwen3-235B on 8 H200, one instance of dp 1 / tp 8 / ep 8, 128 slots, no overlap, no MTP.</summary>
    private static double StepMs(StepShape shape)
    {
        var a = Plan.Model.Entry.Architecture;
        return StepCostModel.Evaluate(a, ParameterCounter.Count(a), Plan.Precision, shape, PlanCostModel.Machine(Plan)).StepMilliseconds;
    }

    private static double Prefill(int tokens, int sequences, double context) =>
        StepMs(new StepShape(PoolRole.Prefill, tokens, sequences, context, 8, 1, 8, 128, PrefillImbalance, false, 0));

    private static double Decode(int sequences, double meanKv) =>
        StepMs(new StepShape(PoolRole.Decode, sequences, sequences, meanKv, 8, 1, 8, 128, DecodeImbalance, false, 0));

    private static double Mixed(int sequences, double meanKv, int chunk, int chunkSequences, double chunkContext) =>
        StepMs(new StepShape(PoolRole.Decode, sequences + chunk, sequences, meanKv, 8, 1, 8, 128, DecodeImbalance, false, 0,
            ChunkTokensPerRank: chunk, ChunkContext: chunkContext, ChunkSequencesPerRank: chunkSequences));

    private static SimulationResult Run(IEnumerable<ArrivingRequest> requests, Func<ServingConfig, ServingConfig>? change = null, string policy = "least-load")
    {
        var config = ServingConfig.FromPlan(Plan);
        config = change?.Invoke(config) ?? config;
        var steps = new CostModelStepTimes(Plan, PrefillImbalance, DecodeImbalance);
        return new ServingSimulation(config, steps, RoutingPolicies.Create(policy), retainRequests: true).Run(requests);
    }

    private static ArrivingRequest Request(long id, double at, int input, int output)
    {
        var blocks = new long[ArrivingRequest.BlocksFor(input)];
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = (1000 * (id + 1)) + i;
        }

        return new ArrivingRequest(id, at, input, output, blocks);
    }

    [Fact]
    public void The_plan_is_one_pool_with_the_step_budget_and_no_kv_transfer()
    {
        var config = ServingConfig.FromPlan(Plan);

        Assert.True(config.Aggregated);
        Assert.Equal(1, config.PrefillInstances);
        Assert.Equal(1, config.DecodeInstances);
        Assert.Equal(1024 * 8, config.PrefillTokenCap); // max_batch_tokens 1024 per device x 8 GPUs
        Assert.Equal(16 * 8, config.DecodeSequenceCap); // max_batch 16 per device x 8 GPUs
        Assert.Equal(0, config.KvTransferMillisecondsPerToken);
    }

    [Fact]
    public void One_request_samples_its_first_token_in_its_prefill_step_and_moves_no_kv()
    {
        var result = Run([Request(0, 0, 300, 4)]);
        var r = Assert.Single(result.Completed);

        // Tokenisation (1 us per token), then the prompt alone (nothing runs): its step samples the first token.
        double tokenize = 300 * 1e-3;
        double ttft = tokenize + Prefill(300, 1, 150);
        Assert.Equal(ttft, r.FirstTokenMilliseconds, 9);
        // Three more tokens, each a decode step over the prompt and the tokens so far.
        Assert.Equal(ttft + Decode(1, 301) + Decode(1, 302) + Decode(1, 303), r.Stamp(RequestStage.Done), 9);
        // No hand-off: the P/D stages start and end together.
        Assert.Equal(ttft, r.Stamp(RequestStage.DecodeWaiting), 9);
        Assert.Equal(ttft, r.Stamp(RequestStage.Decoding), 9);
        Assert.Equal(0, r.DecodeInstance);
    }

    [Fact]
    public void A_prompt_arriving_while_another_decodes_shares_its_step()
    {
        // Request 0 (300 tokens, 50 out) is decoding when request 1 (200 tokens) is routed: the next step carries one
        // decode sequence and the 200-token chunk together, timed as one mixed step.
        double tokenize0 = 300 * 1e-3;
        double first = tokenize0 + Prefill(300, 1, 150);
        double arrival1 = first + 0.001;
        var result = Run([Request(0, 0, 300, 50), Request(1, arrival1, 200, 3)]);
        var r1 = result.Completed.Single(r => r.Request.Id == 1);

        // Request 1 is routed at arrival1 + 0.2 ms (tokenisation), during request 0's first decode step (kv 301).
        double stepEnd = first + Decode(1, 301);
        Assert.True(arrival1 + 0.2 < stepEnd);
        // The next step: request 0 decodes (kv 302) beside request 1's whole prompt, attending to half of it (100).
        double mixedEnd = stepEnd + Mixed(1, 302, 200, 1, 100);
        Assert.Equal(mixedEnd, r1.FirstTokenMilliseconds, 9);
        Assert.Equal(stepEnd, r1.Stamp(RequestStage.Prefilling), 9);
    }

    [Fact]
    public void Every_request_completes_or_is_rejected_on_the_instance_that_prefilled_it()
    {
        var synthetic = SyntheticWorkload.Generate(Plan.Workload, 400).ToList();
        // Prompt + output beyond the instance's 128 x 8192 KV tokens: rejected.
        synthetic.Add(Request(10_000, synthetic[^1].ArrivalMilliseconds + 1, 1_100_000, 10));
        var result = Run(synthetic, c => c with { PrefillInstances = 2, DecodeInstances = 2 }, "round-robin");

        Assert.Equal(401, result.Arrived);
        Assert.Equal(400, result.Completed.Count);
        Assert.Equal(10_000, Assert.Single(result.Rejected).Request.Id);
        var ids = new HashSet<long>();
        foreach (var r in result.Completed)
        {
            Assert.True(ids.Add(r.Request.Id));
            Assert.Equal(r.PrefillInstance, r.DecodeInstance);
            for (int s = 1; s < RequestState.StageCount; s++)
            {
                Assert.True(r.Stamps[s] >= r.Stamps[s - 1], $"request {r.Request.Id}: stage {(RequestStage)s} before {(RequestStage)(s - 1)}");
            }
        }

        // Round robin over two instances: each prefilled half.
        Assert.Equal(200, result.Completed.Count(r => r.PrefillInstance == 0));
    }

    [Fact]
    public void Same_seed_gives_identical_metrics()
    {
        string Once(int seed) => JsonSerializer.Serialize(ServingMetrics.From(Run(SyntheticWorkload.Generate(Plan.Workload, 300, seed))));
        Assert.Equal(Once(7), Once(7));
        Assert.NotEqual(Once(7), Once(8));
    }
}
