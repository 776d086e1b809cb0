using MoePlan.Runtime.Proxy;
using MoePlan.Scheduling;

namespace MoePlan.Scripting.Tests;

/// <summary>The scheduler API against the simulation it views.</summary>
public sealed class ApiTests
{
    [Fact]
    public void Request_stages_mirror_the_lifecycle_stages()
    {
        // The API has no dependency on the runtime, so it has its own enum; the view casts between the two,
        // which is right only while names and values agree one to one.
        Assert.Equal(
            Enum.GetValues<LifecycleStage>().Select(s => (s.ToString(), (int)s)),
            Enum.GetValues<RequestStage>().Select(s => (s.ToString(), (int)s)));
    }

    [Fact]
    public void The_api_assembly_references_nothing_but_the_runtime_library()
    {
        // Scripts reference this assembly; anything it referenced would be reachable by them.
        var references = typeof(Scheduler).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Equal(["System.Runtime"], references);
    }
}
