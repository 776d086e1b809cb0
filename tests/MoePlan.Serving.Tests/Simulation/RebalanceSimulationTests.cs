using MoePlan.Core.Plan;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Reports;
using MoePlan.Serving.Simulation;
using MoePlan.Tests.Support;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>The serving simulation with loads over time and rebalancing (plans/deepseek-v3-sglang-h100-drift.moe).</summary>
public sealed class RebalanceSimulationTests
{
    private static readonly string DriftPlan = RepositoryPaths.PathOf("plans", "deepseek-v3-sglang-h100-drift.moe");

    private static ServingSessionResult Serve(int requests = 3000) =>
        ServingSession.Serve(new ServingRequest(DriftPlan, new SimulationFixtures.DiskResolver(), _ => new ServingPolicySet(new PolicyRegistry(), ["cache-aware"]))
        {
            MaxRequests = requests,
        });

    [Fact]
    public void Rebalancing_conserves_requests_and_reports_its_charge()
    {
        var session = Serve();
        Assert.Equal(ServingStop.None, session.Stop);
        var m = session.Metrics[0];
        Assert.Equal(3000, m.Arrived);
        Assert.Equal(m.Arrived, m.Completed + m.Rejected);
        var p = m.Placement!;

        // 3,000 requests at 20/s: about 150 s, so rebalances at 60 s and 120 s in each pool.
        Assert.Equal([60_000.0, 60_000, 120_000, 120_000], p.Events.Select(e => e.Milliseconds));
        Assert.Equal(p.Events.Sum(e => e.Movement.Bytes), p.WeightsMovedBytes); // one instance per pool
        Assert.Equal(p.Events.Sum(e => e.Movement.Milliseconds), p.StallMilliseconds);
        Assert.True(p.StallMilliseconds > 0);
        Assert.Contains(p.Imbalance, c => c.Milliseconds == 50_000 && c.Pool == PoolRole.Decode);
        Assert.Equal(m.TpotMilliseconds.Count, p.Tpot.Sum(b => b.Requests));
    }

    [Fact]
    public void The_same_plan_and_seed_give_the_same_bytes()
    {
        string Json()
        {
            var s = Serve(1500);
            return ServingReportJson.Write("drift.moe", s.Plan!, s.Config!, s.Metrics, compare: false);
        }

        var first = Json();
        Assert.Equal(first, Json());
        Assert.Contains("\"weights_moved_bytes\"", first, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stalled_pool_starts_no_step_while_its_weights_move()
    {
        var session = ServingSession.Serve(new ServingRequest(DriftPlan, new SimulationFixtures.DiskResolver(), _ => new ServingPolicySet(new PolicyRegistry(), ["cache-aware"]))
        {
            MaxRequests = 1500,
        });
        var still = ServingSession.Serve(new ServingRequest(DriftPlan, new OverrideResolver("rebalance every 60s with eplb", "rebalance off"), _ => new ServingPolicySet(new PolicyRegistry(), ["cache-aware"]))
        {
            MaxRequests = 1500,
        });
        Assert.Equal(ServingStop.None, still.Stop);
        Assert.Empty(still.Metrics[0].Placement!.Events);
        Assert.Equal(0, still.Metrics[0].Placement!.StallMilliseconds);
        Assert.NotEmpty(session.Metrics[0].Placement!.Events);
    }

    [Fact]
    public void An_aggregated_plan_rebalances_its_serve_pool_once_per_moment()
    {
        // The loads never change (no loads_over_time), so every rebalance re-derives the placement it replaces: the
        // algorithm is deterministic on the same loads, and nothing moves.
        var plan = RepositoryPaths.PathOf("plans", "qwen3-235b-h200-aggregated.moe");
        var resolver = new OverrideResolver("  proxy { policy least-load }", "  placement { rebalance every 10s }\n  proxy { policy least-load }", "qwen3-235b-h200-aggregated.moe");
        var session = ServingSession.Serve(new ServingRequest(plan, resolver, _ => new ServingPolicySet(new PolicyRegistry(), ["least-load"])) { MaxRequests = 100 });
        Assert.True(session.Stop == ServingStop.None, string.Join("; ", session.Diagnostics) + session.Usage?.Message);
        var m = session.Metrics[0];
        Assert.Equal(m.Arrived, m.Completed + m.Rejected);
        var p = m.Placement!;
        Assert.NotEmpty(p.Events);
        Assert.All(p.Events, e => Assert.Equal(PoolRole.Serve, e.Pool));
        Assert.Equal(p.Events.Length, p.Events.Select(e => e.Milliseconds).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, p.Events.Length).Select(k => k * 10_000.0), p.Events.Select(e => e.Milliseconds));
        Assert.Equal(0, p.WeightsMovedBytes);
        Assert.Equal(0, p.StallMilliseconds);
        Assert.All(p.Imbalance, c => Assert.Equal(PoolRole.Serve, c.Pool));
    }

    /// <summary>Reads from disk, with one text replacement in the drift plan.</summary>
    private sealed class OverrideResolver(string from, string to, string file = "deepseek-v3-sglang-h100-drift.moe") : MoePlan.Core.Text.ISourceResolver
    {
        private readonly SimulationFixtures.DiskResolver _disk = new();

        public string Resolve(string fromFile, string path) => _disk.Resolve(fromFile, path);

        public bool TryRead(string resolvedPath, out string text, out string error)
        {
            if (!_disk.TryRead(resolvedPath, out text, out error))
            {
                return false;
            }

            if (resolvedPath.EndsWith(file, StringComparison.Ordinal))
            {
                text = text.Replace(from, to, StringComparison.Ordinal);
            }

            return true;
        }
    }
}
