using System.Runtime.InteropServices;

namespace MoePlan.Cli.Terminal;

/// <summary>Waits for Ctrl+C or SIGTERM (a server verb's end; the server then drains).</summary>
internal static class StopSignal
{
    public static async Task WaitAsync()
    {
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        await stop.Task.ConfigureAwait(false);
    }
}
