// expect: MP4020
// Spins inside LINQ (a loop the script does not own) through a lambda called for ever more elements.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override double PrefillPriority(IRequestView r, IPrefillQueueView q, IClusterState c) =>
        Enumerable.Range(0, 10_000_000).Select(i => Enumerable.Range(0, 10_000_000).Count(j => j > i)).Sum();
}

new S()
