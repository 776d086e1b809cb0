using MoePlan.Scheduling;

namespace MoePlan.Scripting.Tests;

/// <summary>The scheduler API against the simulation it views.</summary>
public sealed class ApiTests
{
    [Fact]
    public void The_api_assembly_references_nothing_but_the_runtime_library()
    {
        // Scripts reference this assembly; anything it referenced would be reachable by them.
        var references = typeof(Scheduler).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Equal(["System.Runtime"], references);
    }
}
