using MoePlan.Scheduling;

namespace MoePlan.Serving.Proxy;

/// <summary>
/// The hooks a policy may add to <see cref="IRoutingPolicy"/> (scheduler scripts have them; the built-ins do
/// not, so their behaviour is unchanged): admit or reject at arrival, and the prefill queue's order.
/// </summary>
public interface ISchedulingHooks
{
    /// <summary>Admit the request at arrival (true) or reject it.</summary>
    bool Admit(RequestState request, ISchedulingState state);

    /// <summary>Fills one priority per waiting request (same order); higher goes first, ties by request id.</summary>
    void Prioritize(int prefill, IReadOnlyList<RequestState> waiting, ISchedulingState state, Span<double> priorities);
}

/// <summary>The simulation's state as the scheduler API's read-only views.</summary>
public interface ISchedulingState
{
    IClusterState Cluster { get; }

    IRequestView View(RequestState request);
}
