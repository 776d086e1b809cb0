using System.Text;
using MoePlan.Scheduling;

namespace MoePlan.Serving.Simulation;

/// <summary>
/// What reports say of the lifecycle stages of <see cref="RequestStage"/> (the one list of stages): their JSON names and
/// what takes the time between entering a stage and entering the next (docs/simulation.md).
/// </summary>
public static class RequestStages
{
    /// <summary>Every stage in lifecycle order, <see cref="RequestStage.Done"/> last.</summary>
    public static IReadOnlyList<RequestStage> All { get; } = Enum.GetValues<RequestStage>();

    /// <summary>The stages a request spends time in: all but <see cref="RequestStage.Done"/>.</summary>
    public static IReadOnlyList<RequestStage> Timed { get; } = [.. All.Where(s => s != RequestStage.Done)];

    /// <summary>The stage's name in JSON and tables: its enum name in snake case (<c>ApcMatched</c> -> <c>apc_matched</c>).</summary>
    public static string Name(RequestStage stage)
    {
        var text = stage.ToString();
        var name = new StringBuilder(text.Length + 4);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsUpper(text[i]) && i > 0)
            {
                name.Append('_');
            }

            name.Append(char.ToLowerInvariant(text[i]));
        }

        return name.ToString();
    }

    /// <summary>What the time from entering <paramref name="stage"/> to entering the next is spent on.</summary>
    public static string TimeSpentOn(RequestStage stage) => stage switch
    {
        RequestStage.Received => "tokenisation",
        RequestStage.Tokenized => "APC lookup",
        RequestStage.ApcMatched => "waiting in the proxy (upstream caps, parallel-mode decode slot)",
        RequestStage.PrefillWaiting => "prefill queue",
        RequestStage.PrefillScheduled => "batch hand-over (none in the model)",
        RequestStage.Prefilling => "prefill steps",
        RequestStage.DecodeWaiting => "sequential mode: waiting for a decode slot",
        RequestStage.DecodeScheduled => "KV transfer not hidden by prefill",
        RequestStage.Decoding => "decode steps",
        RequestStage.Done => "nothing: the request is finished",
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, null),
    };
}
