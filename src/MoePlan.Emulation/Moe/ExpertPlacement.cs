namespace MoePlan.Emulation.Moe;

/// <summary>Which experts each device holds for one layer (a replica of an expert on several devices
/// is redundancy). Tokens routed to a replicated expert are split between its replicas round-robin in
/// token order.</summary>
public sealed class ExpertPlacement
{
    public ExpertPlacement(IReadOnlyList<int[]> devices, int experts)
    {
        Devices = devices;
        var replicas = new List<int>[experts];
        for (int e = 0; e < experts; e++)
        {
            replicas[e] = [];
        }

        for (int d = 0; d < devices.Count; d++)
        {
            foreach (var e in devices[d])
            {
                if (e < 0 || e >= experts)
                {
                    throw new ArgumentException($"device {d} holds expert {e}; there are {experts}.");
                }

                if (replicas[e].Contains(d))
                {
                    throw new ArgumentException($"device {d} holds expert {e} twice.");
                }

                replicas[e].Add(d);
            }
        }

        for (int e = 0; e < experts; e++)
        {
            if (replicas[e].Count == 0)
            {
                throw new ArgumentException($"expert {e} is on no device.");
            }
        }

        Replicas = replicas.Select(r => r.ToArray()).ToArray();
    }

    /// <summary>Device -> expert ids.</summary>
    public IReadOnlyList<int[]> Devices { get; }

    /// <summary>Expert -> devices holding it.</summary>
    public IReadOnlyList<int[]> Replicas { get; }

    /// <summary>
    /// A placement of <paramref name="experts"/> experts plus <paramref name="redundant"/> replicas on
    /// <paramref name="devices"/> devices. Even: every device gets (E + R) / D slots (D must divide
    /// E + R). Uneven: slot counts differ by device (device d gets base + 1 for the first
    /// (E + R) mod D devices). Experts are dealt round-robin in id order; replicas copy the experts
    /// with the most load in <paramref name="load"/> (ties: lower id), each onto the device with the
    /// most free slots that does not hold it yet.
    /// </summary>
    public static ExpertPlacement Create(int experts, int redundant, int devices, IReadOnlyList<double>? load = null, bool uneven = false)
    {
        int slots = experts + redundant;
        if (!uneven && slots % devices != 0)
        {
            throw new ArgumentException($"{devices} devices do not divide {experts} + {redundant} expert slots.");
        }

        if (redundant > experts * (devices - 1))
        {
            throw new ArgumentException($"{redundant} replicas of {experts} experts do not fit on {devices} devices without duplicates.");
        }

        var capacity = Enumerable.Range(0, devices).Select(d => slots / devices + (d < slots % devices ? 1 : 0)).ToArray();
        var held = Enumerable.Range(0, devices).Select(_ => new List<int>()).ToArray();
        int device = 0;
        for (int e = 0; e < experts; e++)
        {
            while (held[device].Count >= capacity[device])
            {
                device = (device + 1) % devices;
            }

            held[device].Add(e);
            device = (device + 1) % devices;
        }

        var hot = Enumerable.Range(0, experts).OrderByDescending(e => load?[e] ?? 0).ThenBy(e => e).ToArray();
        for (int r = 0; r < redundant; r++)
        {
            int e = hot[r % experts];
            int target = Enumerable.Range(0, devices)
                .Where(d => !held[d].Contains(e) && held[d].Count < capacity[d])
                .OrderByDescending(d => capacity[d] - held[d].Count).ThenBy(d => d)
                .DefaultIfEmpty(-1).First();
            if (target < 0)
            {
                throw new ArgumentException($"no free slot for a replica of expert {e}.");
            }

            held[target].Add(e);
        }

        return new ExpertPlacement(held.Select(h => h.ToArray()).ToArray(), experts);
    }
}
