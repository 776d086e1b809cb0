using MoePlan.Scheduling;
using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Tests.Simulation;

public sealed class RequestStagesTests
{
    [Fact]
    public void Stage_names_are_the_ten_lifecycle_stages_of_Omni_Proxy_in_order()
    {
        // The seed article's ten stages (received -> tokenize -> APC match -> prefill wait -> prefill schedule -> prefill
        // execute -> decode wait -> decode schedule -> decode execute -> done), as run JSON has always named them.
        Assert.Equal(
            "received tokenized apc_matched prefill_waiting prefill_scheduled prefilling decode_waiting decode_scheduled decoding done",
            string.Join(" ", RequestStages.All.Select(RequestStages.Name)));
        Assert.Equal(9, RequestStages.Timed.Count);
        Assert.DoesNotContain(RequestStage.Done, RequestStages.Timed);
    }

    [Fact]
    public void Every_stage_says_what_takes_its_time()
    {
        Assert.All(RequestStages.All, s => Assert.False(string.IsNullOrWhiteSpace(RequestStages.TimeSpentOn(s))));
        Assert.Equal("KV transfer not hidden by prefill", RequestStages.TimeSpentOn(RequestStage.DecodeScheduled));
    }
}
