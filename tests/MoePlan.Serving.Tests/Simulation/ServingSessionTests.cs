using MoePlan.Core.Plan;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Tests.Support;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary><see cref="ServingSession"/>: the serve sequence of <c>moeplan run PLAN</c> as one library call.</summary>
public sealed class ServingSessionTests
{
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");

    private static ServingRequest Request(string plan, params string[] policies) =>
        new(plan, new SimulationFixtures.DiskResolver(), _ => new ServingPolicySet(new PolicyRegistry(), policies));

    [Fact]
    public void The_tiny_plan_serves_its_workload_and_conserves_requests()
    {
        var session = ServingSession.Serve(Request(Tiny, "omni", "round-robin"));
        Assert.Equal(ServingStop.None, session.Stop);
        Assert.Equal(["omni", "round-robin"], session.Metrics.Select(m => m.Policy));
        Assert.Equal(2, session.Runs.Count);
        foreach (var m in session.Metrics)
        {
            Assert.Equal(200, m.Arrived); // the plan's `requests 200`
            Assert.Equal(m.Arrived, m.Completed + m.Rejected);
            Assert.True(m.Completed > 0);
        }
    }

    [Fact]
    public void Overrides_reach_the_deployment_and_each_worker_gets_its_own_policy()
    {
        int made = 0;
        var registry = new PolicyRegistry();
        registry.Add("counted", () =>
        {
            made++;
            return RoutingPolicies.Create("omni");
        });
        var request = new ServingRequest(Tiny, new SimulationFixtures.DiskResolver(), _ => new ServingPolicySet(registry, ["counted"]))
        {
            MaxRequests = 30,
            ProxyWorkers = 3,
            WorkerState = ProxyWorkerState.Independent,
        };
        var session = ServingSession.Serve(request);
        Assert.Equal(ServingStop.None, session.Stop);
        Assert.Equal(3, made);
        Assert.Equal(3, session.Config!.ProxyWorkers);
        Assert.Equal(ProxyWorkerState.Independent, session.Config.WorkerState);
        Assert.Equal(30, session.Metrics[0].Arrived);
        Assert.Equal(30, session.Metrics[0].Completed + session.Metrics[0].Rejected);
    }

    [Fact]
    public void A_trace_format_comes_from_the_extension_and_the_cap_takes_its_first_rows()
    {
        var request = Request(Tiny, "omni") with { TracePath = RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv"), MaxRequests = 40 };
        var session = ServingSession.Serve(request);
        Assert.Equal(ServingStop.None, session.Stop);
        Assert.Equal(40, session.Metrics[0].Arrived);
        Assert.Equal(TraceFormat.Azure, ServingSession.FormatOf("x.CSV"));
        Assert.Equal(TraceFormat.Mooncake, ServingSession.FormatOf("x.jsonl"));
        Assert.Null(ServingSession.FormatOf("x.txt"));
    }

    [Fact]
    public void Usage_problems_come_back_as_usage_errors_before_anything_is_served()
    {
        bool asked = false;
        var missing = ServingSession.Serve(new ServingRequest(Tiny, new SimulationFixtures.DiskResolver(), _ =>
        {
            asked = true;
            return null;
        })
        { TracePath = "no/such/trace.jsonl" });
        Assert.Equal(ServingStop.Usage, missing.Stop);
        Assert.Equal("cannot read trace 'no/such/trace.jsonl': no such file", missing.Usage!.Message);
        Assert.False(asked);

        var readme = RepositoryPaths.PathOf("plans", "data", "README.md");
        var unknown = ServingSession.Serve(Request(Tiny, "omni") with { TracePath = readme });
        Assert.True(unknown.Usage!.UnknownTraceFormat);
        Assert.Equal($"cannot tell the format of '{readme}' from its extension", unknown.Usage.Message);

        var policy = ServingSession.Serve(Request(Tiny, "no-such-policy"));
        Assert.Equal(ServingStop.Usage, policy.Stop);
        Assert.StartsWith($"{Tiny}: unknown proxy policy 'no-such-policy'", policy.Usage!.Message, StringComparison.Ordinal);

        Assert.Equal(ServingStop.Usage, ServingSession.Serve(Request(Tiny, "omni") with { MaxRequests = 0 }).Stop);
        Assert.Equal(ServingStop.Usage, ServingSession.Serve(Request(Tiny, "omni") with { ProxyWorkers = ProxyPlan.MaxWorkers + 1 }).Stop);
    }

    [Fact]
    public void Plan_and_trace_errors_come_back_as_located_diagnostics()
    {
        var plan = ServingSession.Serve(Request(RepositoryPaths.PathOf("plans", "no-such-plan.moe"), "omni"));
        Assert.Equal(ServingStop.PlanErrors, plan.Stop);
        Assert.Contains(plan.Diagnostics, d => d.IsError);

        var declined = ServingSession.Serve(new ServingRequest(Tiny, new SimulationFixtures.DiskResolver(), _ => null));
        Assert.Equal(ServingStop.NoPolicies, declined.Stop);

        var bad = Path.Combine(Path.GetTempPath(), $"moeplan-session-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(bad, "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [1]}\nnot json\n");
        try
        {
            var trace = ServingSession.Serve(Request(Tiny, "omni") with { TracePath = bad });
            Assert.Equal(ServingStop.TraceErrors, trace.Stop);
            var error = Assert.Single(trace.Diagnostics, d => d.IsError);
            Assert.Equal(2, error.Span!.Value.Line); // the second row
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
