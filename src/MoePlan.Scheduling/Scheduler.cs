namespace MoePlan.Scheduling;

/// <summary>
/// A scheduling policy written as a script. Every hook defaults to the default policy's (<c>omni</c>'s)
/// decision, so a script overrides only the hooks it changes. One instance serves one simulation run, so
/// instance fields may keep state across calls (e.g. a round-robin cursor).
/// </summary>
public abstract class Scheduler
{
    /// <summary>Admit the request when it arrives (true) or reject it (false). Default: admit.</summary>
    public virtual bool Admit(IRequestView request, IClusterState cluster) => true;

    /// <summary>
    /// The request's priority in the waiting queue of prefill instance <c>queue.Instance</c> when a batch is
    /// formed: higher goes first; ties go to the earlier request. Default: Omni's weight.
    /// </summary>
    public virtual double PrefillPriority(IRequestView request, IPrefillQueueView queue, IClusterState cluster) =>
        cluster.Defaults.PrefillPriority(request, queue);

    /// <summary>The prefill instance (0 .. Prefill.Count - 1) for the request, or -1 to hold it at the proxy until a prefill step ends. Default: Omni's rule.</summary>
    public virtual int ChoosePrefill(IRequestView request, IClusterState cluster) => cluster.Defaults.ChoosePrefill(request);

    /// <summary>A decode instance with room for the request, or -1 to let it wait for one. Default: fewest reserved tokens.</summary>
    public virtual int ChooseDecode(IRequestView request, IClusterState cluster) => cluster.Defaults.ChooseDecode(request);
}
