using Xunit;

namespace MoePlan.Core.Tests.Properties;

/// <summary>Runs one case with a deadline: a hang fails the test instead of stalling the run.</summary>
internal static class TimeBound
{
    public static readonly TimeSpan PerCase = TimeSpan.FromSeconds(5);

    public static T Run<T>(Func<T> action, string what)
    {
        var task = Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(task.Wait(PerCase), $"{what} took longer than {PerCase.TotalSeconds} s");
        return task.Result;
    }
}
