using Xunit;

namespace MoePlan.Core.Tests.Properties;

/// <summary>Runs one case with a deadline: a hang fails the test instead of stalling the run.</summary>
internal static class TimeBound
{
    // A hang guard, not a speed test: a case takes well under a second on a quiet machine, but a CI box shared by
    // several builds (load average 40 on 2 cores was seen) stretches it tenfold; a hang never ends.
    public static readonly TimeSpan PerCase = TimeSpan.FromSeconds(60);

    public static T Run<T>(Func<T> action, string what)
    {
        var task = Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(task.Wait(PerCase), $"{what} took longer than {PerCase.TotalSeconds} s");
        return task.Result;
    }
}
