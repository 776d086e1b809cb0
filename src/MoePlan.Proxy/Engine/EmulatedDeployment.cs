using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Proxy.Server;
using MoePlan.Serving.Proxy;

namespace MoePlan.Proxy.Engine;

/// <summary>
/// A whole plan emulated on this machine: every prefill and decode instance as an <see cref="EmulatedEngine"/> on its own
/// port, and a <see cref="ProxyServer"/> in front routing with the given policy (<c>moeplan engine PLAN --emulate --all</c>,
/// the README demo and the tests).
/// </summary>
public sealed class EmulatedDeployment : IAsyncDisposable
{
    private EmulatedDeployment(IReadOnlyList<EmulatedEngine> prefill, IReadOnlyList<EmulatedEngine> decode, UpstreamList upstreams, ProxyServer proxy)
    {
        Prefill = prefill;
        Decode = decode;
        Upstreams = upstreams;
        Proxy = proxy;
    }

    public IReadOnlyList<EmulatedEngine> Prefill { get; }

    public IReadOnlyList<EmulatedEngine> Decode { get; }

    public UpstreamList Upstreams { get; }

    public ProxyServer Proxy { get; }

    /// <param name="policy">The proxy's policy (it owns it); shared proxy state only (one object serves one worker view).</param>
    /// <param name="prefillInstances">Instances to start instead of the plan's (null: the plan's).</param>
    /// <param name="configure">Changes to the proxy's options (ports, fault handling) before it starts.</param>
    public static Task<EmulatedDeployment> StartAsync(
        DeploymentPlan plan,
        PlanCostResult? cost,
        IRoutingPolicy policy,
        double speed,
        int? prefillInstances = null,
        int? decodeInstances = null,
        Func<ProxyOptions, ProxyOptions>? configure = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        bool made = false;
        return StartAsync(plan, cost, () => !made && (made = true) ? policy : throw new ArgumentException("independent proxy workers need a policy object each: give a factory", nameof(policy)), speed, prefillInstances, decodeInstances, configure, cancellation);
    }

    /// <param name="policy">Makes the proxy's policy objects, one per worker view (<see cref="ProxyServer.StartAsync(ProxyOptions, Func{IRoutingPolicy}, CancellationToken)"/>).</param>
    /// <param name="prefillInstances">Instances to start instead of the plan's (null: the plan's).</param>
    /// <param name="configure">Changes to the proxy's options (ports, fault handling, workers) before it starts.</param>
    public static async Task<EmulatedDeployment> StartAsync(
        DeploymentPlan plan,
        PlanCostResult? cost,
        Func<IRoutingPolicy> policy,
        double speed,
        int? prefillInstances = null,
        int? decodeInstances = null,
        Func<ProxyOptions, ProxyOptions>? configure = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var prefill = new List<EmulatedEngine>();
        var decode = new List<EmulatedEngine>();
        try
        {
            for (int i = 0; i < (prefillInstances ?? plan.Prefill.Instances.Value); i++)
            {
                prefill.Add(await EmulatedEngine.StartAsync(EngineOptions.FromPlan(plan, cost, PoolRole.Prefill, i, speed), cancellation).ConfigureAwait(false));
            }

            for (int i = 0; i < (decodeInstances ?? plan.Decode.Instances.Value); i++)
            {
                decode.Add(await EmulatedEngine.StartAsync(EngineOptions.FromPlan(plan, cost, PoolRole.Decode, i, speed), cancellation).ConfigureAwait(false));
            }

            var upstreams = new UpstreamList(
                prefill.Select((e, i) => new Upstream(PoolRole.Prefill, i, e.Address)).ToList(),
                decode.Select((e, i) => new Upstream(PoolRole.Decode, i, e.Address)).ToList());
            var first = prefill[0].Options;
            var options = new ProxyOptions(upstreams, plan.Engine.Value, plan.Proxy.Mode.Value, first.Config with { PrefillInstances = prefill.Count, DecodeInstances = decode.Count }, first.Model);
            options = configure?.Invoke(options) ?? options;
            var proxy = await ProxyServer.StartAsync(options, policy, cancellation).ConfigureAwait(false);
            return new EmulatedDeployment(prefill, decode, upstreams, proxy);
        }
        catch
        {
            foreach (var e in prefill.Concat(decode))
            {
                await e.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync().ConfigureAwait(false);
        foreach (var e in Prefill.Concat(Decode))
        {
            await e.DisposeAsync().ConfigureAwait(false);
        }
    }
}
