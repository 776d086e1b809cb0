using MoePlan.Core.Plan;

namespace MoePlan.Serving.Proxy;

/// <summary>
/// The policies a run may use by name: the built-ins plus any registered (scheduler scripts), in the order
/// <c>--compare-policies</c> prints them. Each <see cref="Create"/> gives a fresh instance (policies keep state per run).
/// </summary>
public sealed class PolicyRegistry
{
    private readonly List<(string Name, Func<IRoutingPolicy> Create)> _added = [];

    /// <summary>Built-in names first, then the registered ones.</summary>
    public IReadOnlyList<string> Names => [.. RoutingPolicyCatalog.BuiltNames, .. _added.Select(a => a.Name)];

    /// <summary>Registers a policy under a name no built-in or earlier registration has.</summary>
    public void Add(string name, Func<IRoutingPolicy> create)
    {
        if (Names.Contains(name, StringComparer.Ordinal))
        {
            throw new ArgumentException($"a policy named '{name}' is already registered", nameof(name));
        }

        _added.Add((name, create));
    }

    public bool TryCreate(string name, out IRoutingPolicy? policy, out string? error)
    {
        foreach (var (n, create) in _added)
        {
            if (n == name)
            {
                policy = create();
                error = null;
                return true;
            }
        }

        return RoutingPolicies.TryCreate(name, out policy, out error);
    }
}
