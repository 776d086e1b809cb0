using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>
/// The weighted prefill queue walks in exactly the order a full sort gives (Omni's weight, then request id, then
/// arrival), whatever the walk takes, keeps or stops at. The reference below sorts every waiting request at every
/// walk, as the simulation did before, with its own copy of the weight formula
/// (reference/omni-proxy.md: 0.8 (maxTok - tok) / maxTok + 0.2 waited / max(maxWait, 50 ms)).
/// </summary>
public sealed class WeightedPrefillQueueTests
{
    private static double ReferenceWeight(int tokens, double maxTokens, double waited, double maxWaited) =>
        (0.8 * (maxTokens - tokens) / maxTokens) + (0.2 * waited / Math.Max(maxWaited, 50));

    private static List<RequestState> ReferenceOrder(List<RequestState> waiting, double t)
    {
        double maxTokens = waiting.Max(r => r.Request.InputTokens);
        double maxWaited = waiting.Max(r => t - r.Stamp(RequestStage.PrefillWaiting));
        return waiting
            .OrderByDescending(r => ReferenceWeight(r.Request.InputTokens, maxTokens, t - r.Stamp(RequestStage.PrefillWaiting), maxWaited))
            .ThenBy(r => r.Request.Id)
            .ThenBy(r => r.Sequence)
            .ToList();
    }

    [Theory]
    [InlineData(1, 3, 1)] // every request at one moment with three prompt lengths: ties everywhere
    [InlineData(2, 50, 20)]
    [InlineData(3, 4000, 400)]
    [InlineData(4, 1, 1)] // identical requests: only ids and arrival order separate them
    public void Walks_in_the_full_sort_order(int seed, int distinctLengths, int distinctStarts)
    {
        var random = new Random(seed);
        var queue = new WeightedPrefillQueue(RequestStage.PrefillWaiting);
        var reference = new List<RequestState>();
        long sequence = 0;
        double t = 0;
        for (int round = 0; round < 60; round++)
        {
            // New arrivals, some with an id already used (ids need not be unique).
            int arrivals = random.Next(0, 40);
            for (int i = 0; i < arrivals; i++)
            {
                int tokens = 100 + (random.Next(distinctLengths) * 7);
                long id = random.Next(0, 500);
                var r = new RequestState(new ArrivingRequest(id, t, tokens, 10, [])) { Sequence = sequence++ };
                r.Stamp(RequestStage.PrefillWaiting, Math.Floor(t * distinctStarts / 1000.0) * 1000.0 / distinctStarts);
                queue.Add(r);
                reference.Add(r);
            }

            t += random.Next(0, 30);
            var expected = reference.Count > 0 ? ReferenceOrder(reference, t) : [];
            var shown = new List<RequestState>();
            var taken = new List<RequestState>();
            var last = QueueStep.Keep;
            queue.Walk(t, r =>
            {
                shown.Add(r);
                int roll = random.Next(10);
                last = roll < 6 ? QueueStep.Take : roll < 9 ? QueueStep.Keep : QueueStep.Stop;
                if (last == QueueStep.Take)
                {
                    taken.Add(r);
                }

                return last;
            });

            Assert.Equal(expected.Take(shown.Count).Select(r => r.Sequence), shown.Select(r => r.Sequence));
            if (shown.Count < expected.Count)
            {
                Assert.Equal(QueueStep.Stop, last); // a walk ends early only when told to
            }

            foreach (var r in taken)
            {
                reference.Remove(r);
            }

            Assert.Equal(reference.Count, queue.Count);
        }
    }

    [Fact]
    public void A_walk_that_takes_few_of_many_looks_at_few()
    {
        // A million-request queue is the case this class exists for; 20,000 with one start time shows the shape:
        // taking 4 requests must not look at every waiting one. Looked-at requests are counted through the marks.
        var queue = new WeightedPrefillQueue(RequestStage.PrefillWaiting);
        var all = new List<RequestState>();
        var random = new Random(7);
        for (int i = 0; i < 20_000; i++)
        {
            var r = new RequestState(new ArrivingRequest(i, 0, random.Next(1, 8000), 10, [])) { Sequence = i };
            r.Stamp(RequestStage.PrefillWaiting, 0);
            queue.Add(r);
            all.Add(r);
        }

        int takes = 0;
        queue.Walk(5, _ => takes++ < 4 ? QueueStep.Take : QueueStep.Stop);
        int walk = all.Max(r => r.QueueWalk);
        int looked = all.Count(r => r.QueueWalk == walk && walk != 0);
        Assert.Equal(19_996, queue.Count);
        Assert.InRange(looked, 5, 20);
    }
}
