using MoePlan.Scheduling;

namespace MoePlan.Serving.Proxy;

/// <summary>
/// A request as the scheduler API shows it, over the simulation's or the live proxy's state: its figures and stage
/// stamps from the <see cref="RequestState"/>, its cached prefix depth from the <see cref="IClusterView"/> that routes it.
/// Read-only: nothing a script holds writes back.
/// </summary>
internal sealed class RequestStateView(RequestState r, IClusterView view) : IRequestView
{
    public RequestState State => r;

    public long Id => r.Request.Id;

    public int InputTokens => r.Request.InputTokens;

    public int OutputTokens => r.Request.OutputTokens;

    public double ArrivalMilliseconds => r.Request.ArrivalMilliseconds;

    public int PromptBlocks => r.Request.Blocks.Length;

    public int PrefillInstance => r.PrefillInstance;

    public int DecodeInstance => r.DecodeInstance;

    public int MatchedBlocks(int prefill) => view.MatchedBlocks(prefill, r.Request.Blocks);

    public double StageMilliseconds(RequestStage stage) => r.Stamp(stage);

    /// <summary>The request behind a view the host made (an object of a script's own is refused: its getters are never run).</summary>
    public static RequestState Unwrap(IRequestView request) =>
        request is RequestStateView v ? v.State : throw new ArgumentException("not a request of this simulation or proxy", nameof(request));
}
