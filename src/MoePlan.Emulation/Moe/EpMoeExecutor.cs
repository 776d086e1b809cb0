using MoePlan.Core.Placement;

namespace MoePlan.Emulation.Moe;

/// <summary>What one EP-sharded MoE layer step did and how long it took on the emulated cluster.</summary>
/// <param name="Output">[T x H] layer output (routed + shared experts), float32.</param>
/// <param name="Routings">Per token, the float32 router's decision.</param>
/// <param name="DispatchSeconds">All-to-all of token rows to the experts' devices.</param>
/// <param name="ExpertSeconds">Slowest device's expert FLOPs (routed + shared) at the device's peak.</param>
/// <param name="CombineSeconds">All-to-all of the expert outputs back to the tokens' home devices.</param>
/// <param name="DeviceFlops">Per device, the FLOPs it executed.</param>
public sealed record EpStepResult(
    float[] Output,
    Routing[] Routings,
    double DispatchSeconds,
    double ExpertSeconds,
    double CombineSeconds,
    long[] DeviceFlops,
    long BytesMoved)
{
    public double TotalSeconds => DispatchSeconds + ExpertSeconds + CombineSeconds;

    /// <summary>Expert FLOPs of all devices / (devices x peak x step time).</summary>
    public double Utilization(double peakFlopsPerSecond) =>
        TotalSeconds <= 0 ? 0 : DeviceFlops.Sum() / (DeviceFlops.Length * peakFlopsPerSecond * TotalSeconds);
}

/// <summary>
/// Runs one MoE layer expert-parallel on a <see cref="Cluster"/>. Token t lives on device t mod D (its
/// home, a DP rank). Each home routes its tokens (the router is replicated), rounds the rows to the
/// dispatch format and sends each (token, expert) pair to a replica of the expert (replicas, listed by
/// device, take an expert's tokens round-robin in token order). Where the experts live is a Core
/// <see cref="LayerPlacement"/> (device -> expert ids), as a placement algorithm made it. Each device
/// runs its experts on what it received (activations rounded to the matrix unit's input format), rounds
/// the outputs to the combine format and sends them home, where they are summed with the routing
/// weights, plus the shared experts (computed at home from the token's row rounded to the activation
/// format).
/// Compute time is FLOPs / the device's peak: a lower bound (a dense Cube at peak, no memory time).
/// </summary>
public static class EpMoeExecutor
{
    public static EpStepResult Run(Cluster cluster, MoeLayerWeights weights, LayerPlacement placement, float[] tokens, int layer = 0)
    {
        ArgumentNullException.ThrowIfNull(placement);
        var c = weights.Config;
        int h = c.Hidden, tokenCount = tokens.Length / h, devices = cluster.Devices;
        if (placement.Devices != devices)
        {
            throw new ArgumentException($"placement is for {placement.Devices} devices, the cluster has {devices}.");
        }

        var replicasOf = Replicas(placement, c.RoutedExperts);

        string prefix = $"L{layer}.";
        // Home devices hold their tokens.
        for (int t = 0; t < tokenCount; t++)
        {
            cluster.Memory[t % devices].Put($"{prefix}x{t}", tokens.AsSpan(t * h, h).ToArray());
        }

        var routings = new Routing[tokenCount];
        var next = new int[c.RoutedExperts];
        var dispatch = new List<Cluster.Message>();
        var assigned = new List<(int Token, int Slot, int Expert, int Device)>();
        long rowBytesDispatch = (long)h * Quantizer.ElementBytes(c.Dispatch) + Quantizer.RowOverheadBytes(c.Dispatch);
        for (int t = 0; t < tokenCount; t++)
        {
            int home = t % devices;
            var x = cluster.Memory[home].Get($"{prefix}x{t}");
            routings[t] = Router.Route(weights, x);
            var wire = (float[])x.Clone();
            Quantizer.RoundRow(wire, c.Dispatch);
            for (int k = 0; k < routings[t].Experts.Length; k++)
            {
                int e = routings[t].Experts[k];
                var replicas = replicasOf[e];
                int d = replicas[next[e]++ % replicas.Length];
                assigned.Add((t, k, e, d));
                dispatch.Add(new Cluster.Message(home, d, $"{prefix}in.t{t}.k{k}", wire, rowBytesDispatch));
            }
        }

        double dispatchSeconds = cluster.AllToAll(dispatch);

        var flops = new long[devices];
        var combine = new List<Cluster.Message>();
        long rowBytesCombine = (long)h * Quantizer.ElementBytes(c.Combine) + Quantizer.RowOverheadBytes(c.Combine);
        foreach (var (t, k, e, d) in assigned)
        {
            var memory = cluster.Memory[d];
            var input = memory.Get($"{prefix}in.t{t}.k{k}");
            if (placement.DeviceExperts[d].IndexOf(e) < 0)
            {
                throw new InvalidOperationException($"device {d} received a token for expert {e} it does not hold.");
            }

            Quantizer.RoundRow(input, c.Activations);
            var y = new float[h];
            weights.Experts[e].Forward(input, y, c.Activations);
            flops[d] += weights.Experts[e].FlopsPerToken;
            Quantizer.RoundRow(y, c.Combine);
            memory.Remove($"{prefix}in.t{t}.k{k}");
            combine.Add(new Cluster.Message(d, t % devices, $"{prefix}out.t{t}.k{k}", y, rowBytesCombine));
        }

        // Shared experts at home.
        var output = new float[tokens.Length];
        for (int t = 0; t < tokenCount; t++)
        {
            int home = t % devices;
            var x = cluster.Memory[home].Get($"{prefix}x{t}");
            var shared = SharedForward(weights, x, out long sharedFlops);
            flops[home] += sharedFlops;
            shared.CopyTo(output, t * h);
        }

        double expertSeconds = flops.Max() / cluster.Device.PeakFlopsPerSecond;
        double combineSeconds = cluster.AllToAll(combine);

        for (int t = 0; t < tokenCount; t++)
        {
            int home = t % devices;
            var o = output.AsSpan(t * h, h);
            var routed = new float[h];
            for (int k = 0; k < routings[t].Experts.Length; k++)
            {
                var y = cluster.Memory[home].Get($"{prefix}out.t{t}.k{k}");
                Emulator.HostSimd.Axpy(routings[t].Weights[k], y, routed);
                cluster.Memory[home].Remove($"{prefix}out.t{t}.k{k}");
            }

            Emulator.HostSimd.Add(routed, o);
            cluster.Memory[home].Remove($"{prefix}x{t}");
        }

        return new EpStepResult(output, routings, dispatchSeconds, expertSeconds, combineSeconds, flops, cluster.BytesMoved);
    }

    /// <summary>Expert -> devices holding it, in device order; a placement that leaves an expert out, holds one
    /// twice on a device or is for another expert count cannot run.</summary>
    private static int[][] Replicas(LayerPlacement placement, int experts)
    {
        if (placement.ReplicaCounts.Length != experts)
        {
            throw new ArgumentException($"placement is for {placement.ReplicaCounts.Length} experts, the layer has {experts}.");
        }

        var replicas = new List<int>[experts];
        for (int e = 0; e < experts; e++)
        {
            replicas[e] = [];
        }

        for (int d = 0; d < placement.Devices; d++)
        {
            foreach (var e in placement.DeviceExperts[d])
            {
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

        return replicas.Select(r => r.ToArray()).ToArray();
    }

    /// <summary>Sum of the shared experts on x (rounded to the activation format), times the sigmoid
    /// shared gate when the model has one.</summary>
    private static float[] SharedForward(MoeLayerWeights w, float[] x, out long flops)
    {
        int h = w.Config.Hidden;
        var result = new float[h];
        flops = 0;
        if (w.Shared.Length == 0)
        {
            return result;
        }

        var input = (float[])x.Clone();
        Quantizer.RoundRow(input, w.Config.Activations);
        var y = new float[h];
        foreach (var expert in w.Shared)
        {
            expert.Forward(input, y, w.Config.Activations);
            Emulator.HostSimd.Add(y, result);
            flops += expert.FlopsPerToken;
        }

        if (w.SharedGate is { } gate)
        {
            float g = 1f / (1f + MathF.Exp(-Emulator.HostSimd.Dot(gate, x)));
            Emulator.HostSimd.Scale(result, g);
        }

        return result;
    }
}
